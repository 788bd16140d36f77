"""Group commit: concurrent appends to one log share a transaction.

Every append to a log increments the log's head document, so concurrent transactions on
one log conflict and retry. Instead, the callers of one recorder queue their appends and
one of them, the leader, writes everything queued in one transaction, then hands the lead
to the next waiter. Conflicts then only arise between processes, not between threads.
Works with real threads and with eventlet's green ones (the primitives are monkey-patched).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class Pending:
    """One caller's append, waiting to be written; ``write_group`` settles it."""

    item: Any
    size: int
    result: Any = None
    error: BaseException | None = None
    settled: bool = False
    done: bool = False
    wake: threading.Event = field(default_factory=threading.Event)

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.settled = result, error, True


class GroupCommitter:
    """Runs ``write_group(pendings)``, which settles each pending with a result or an error."""

    def __init__(
        self, write_group: Callable[[Sequence[Pending]], None], max_group_size: int = 1000
    ) -> None:
        self._write_group = write_group
        self._max_group_size = max_group_size
        self._mutex = threading.Lock()
        self._queue: list[Pending] = []
        self._leading = False  # invariant: not leading => queue is empty

    def submit(self, item: Any, size: int) -> Any:
        pending = Pending(item, size)
        with self._mutex:
            self._queue.append(pending)
            lead_now = not self._leading
            self._leading = True
        if not lead_now:
            pending.wake.wait()
        if not pending.done:  # we lead: first in the queue, so in the group we write
            self._lead()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _lead(self) -> None:
        group = self._take_group()
        try:
            self._write_group(group)
        except BaseException as error:
            for pending in group:
                if not pending.settled:
                    pending.settle(error=error)
            if not isinstance(error, Exception):
                raise  # KeyboardInterrupt, GreenletExit: not ours to swallow
        finally:
            self._hand_over(group)

    def _take_group(self) -> list[Pending]:
        with self._mutex:
            size = count = 0
            for pending in self._queue:
                if count and size + pending.size > self._max_group_size:
                    break
                size += pending.size
                count += 1
            group, self._queue = self._queue[:count], self._queue[count:]
        return group

    def _hand_over(self, group: list[Pending]) -> None:
        with self._mutex:
            successor = self._queue[0] if self._queue else None
            self._leading = successor is not None
        for pending in group:
            pending.done = True
            pending.wake.set()
        if successor is not None:
            successor.wake.set()
