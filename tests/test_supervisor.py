"""The supervisor's restart back-off (issue 29): it grows while restarts follow each other, up
to its bound, and starts again from one second when a process that was live long enough dies,
so a service killed again and again is down at most the bound and its start."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from youwei.stack import Supervision
from youwei.supervisor import Supervised

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)


def supervised() -> Supervised:
    service = SimpleNamespace(name="evaluations", environment=lambda env: env)
    return Supervised(service, Supervision(), {})


def delays(target: Supervised, live_for: list[float | None], start: float = 1000.0) -> list[float]:
    """The waits before each restart, when each process was live for ``live_for`` seconds
    (None: killed before it answered a probe)."""
    found, now = [], start
    for seconds in live_for:
        target.live_since = None if seconds is None else now - seconds
        target.schedule_restart(now)
        found.append(target.restart_at - now)
        now += 100
    return found


def test_the_defaults_bound_a_service_s_downtime() -> None:
    policy = Supervision()
    assert (policy.backoff_max_seconds, policy.backoff_reset_seconds) == (30.0, 10.0)
    assert Supervision.from_env({}) == policy


def test_restarts_in_a_row_back_off_up_to_the_bound() -> None:
    assert delays(supervised(), [None] * 8) == [1, 2, 4, 8, 16, 30, 30, 30]
    assert delays(supervised(), [9.9] * 3) == [1, 2, 4]  # live, but not long enough


def test_a_death_after_being_live_long_enough_starts_the_count_again() -> None:
    target = supervised()
    assert delays(target, [None, None, None, None, 10.0, None]) == [1, 2, 4, 8, 1, 2]
