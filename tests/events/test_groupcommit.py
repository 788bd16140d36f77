"""Group commit, on its own: every caller gets its own outcome, and callers that arrive
while a group is being written are written together in the next one."""

from __future__ import annotations

import threading
import time

import pytest

from events.log.groupcommit import GroupCommitter, Pending


def test_waiting_callers_share_the_next_group_and_get_their_own_results() -> None:
    groups: list[list[int]] = []
    first_write_started = threading.Event()
    release_first_write = threading.Event()

    def write_group(group) -> None:
        groups.append([p.item for p in group])
        if len(groups) == 1:
            first_write_started.set()
            release_first_write.wait(10)
        for pending in group:
            if pending.item == 13:
                pending.settle(error=ValueError("thirteen"))
            else:
                pending.settle(pending.item * 2)

    committer = GroupCommitter(write_group)
    results: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            results[item] = committer.submit(item, size=1)
        except ValueError as error:
            results[item] = error

    leader = threading.Thread(target=call, args=(0,))
    leader.start()
    assert first_write_started.wait(10)
    followers = [threading.Thread(target=call, args=(n,)) for n in range(10, 20)]
    for thread in followers:
        thread.start()
    deadline = time.monotonic() + 10
    while len(committer._queue) < len(followers) and time.monotonic() < deadline:
        time.sleep(0.01)
    release_first_write.set()
    for thread in [leader, *followers]:
        thread.join(10)

    assert groups[0] == [0]
    assert sorted(groups[1]) == list(range(10, 20)), "the waiting callers form one group"
    assert len(groups) == 2
    assert results[0] == 0
    assert isinstance(results[13], ValueError)
    assert all(results[n] == n * 2 for n in range(10, 20) if n != 13)


def test_a_group_is_capped_by_events_but_never_empty() -> None:
    groups: list[list[int]] = []

    def write_group(group) -> None:
        groups.append([pending.size for pending in group])
        for pending in group:
            pending.settle()

    committer = GroupCommitter(write_group, max_group_size=10)
    committer._leading = True  # as if another caller were writing while these queue up
    committer._queue = [Pending(None, size) for size in (4, 4, 4, 50, 1)]
    while committer._queue:
        committer._lead()
    assert groups == [[4, 4], [4], [50], [1]]
    assert committer._leading is False


def test_an_unexpected_failure_reaches_every_caller_in_the_group() -> None:
    def write_group(group) -> None:
        raise RuntimeError("database gone")

    committer = GroupCommitter(write_group)
    with pytest.raises(RuntimeError, match="database gone"):
        committer.submit("x", size=1)
    assert committer._leading is False and committer._queue == []
