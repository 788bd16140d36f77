"""A log's bell in this process: every append to the log rings it once it has committed, so
that whatever follows the log here (its relay) reads the new events at once rather than at
its next look at the log's head. A ring carries nothing and promises nothing: the follower
still reads the log by position, so a ring missed (an append by another process) costs at
most one poll of the follower's own, and a ring without news costs one read.

Works with real threads and with eventlet's green ones (``threading`` is monkey-patched in
the services), like ``events.log.groupcommit``.
"""

from __future__ import annotations

import threading


class Bell:
    def __init__(self) -> None:
        self._rung = threading.Condition()
        self.rings = 0
        """How often it rang: a waiter notes it before looking at the log, then waits for it
        to change, so that no ring between the look and the wait is lost."""

    def ring(self) -> None:
        with self._rung:
            self.rings += 1
            self._rung.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Wait until it rang after ``seen`` (a value of ``rings``) or ``timeout`` seconds
        passed; whether it rang."""
        with self._rung:
            return self._rung.wait_for(lambda: self.rings != seen, timeout)


_bells: dict[str, Bell] = {}


def bell(log: str) -> Bell:
    """The bell of the log named ``log`` (its events collection) in this process."""
    found = _bells.get(log)
    return found if found is not None else _bells.setdefault(log, Bell())
