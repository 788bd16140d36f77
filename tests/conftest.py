"""Test session set-up: a SecantusDB server of the session's own, on a free port.

The README's test command runs the suite twice: plainly, and under eventlet's monkey
patching (``nameko test``, the way nameko services run). ``YOUWEI_EXPECT_EVENTLET`` tells
which run this is, so that a run meant to be patched cannot silently be plain.
"""

from __future__ import annotations

import os
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # eventlet announces its deprecation on import
    from eventlet import patcher

from youwei.stack import SecantusServer, free_port


def pytest_sessionstart(session: pytest.Session) -> None:
    patched = patcher.is_monkey_patched("socket") and patcher.is_monkey_patched("thread")
    expected = os.environ.get("YOUWEI_EXPECT_EVENTLET") == "1"
    if patched != expected:
        raise pytest.UsageError(
            f"eventlet monkey patching is {'on' if patched else 'off'} but "
            f"YOUWEI_EXPECT_EVENTLET={os.environ.get('YOUWEI_EXPECT_EVENTLET')!r}"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """nameko services need eventlet's monkey patching: a plain session leaves their tests
    to the patched pass of the test command; tests that run services as processes
    (``processes``) run once, in the plain pass (deselected, not skipped)."""
    leave = "processes" if patcher.is_monkey_patched("socket") else "nameko"
    kept = [item for item in items if item.get_closest_marker(leave) is None]
    deselected = [item for item in items if item.get_closest_marker(leave) is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"eventlet monkey patching: {'on' if patcher.is_monkey_patched('socket') else 'off'}"


@pytest.fixture(scope="session", autouse=True)
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Start SecantusDB for this test session and point MONGODB_URI at it."""
    directory = tmp_path_factory.mktemp("secantus")
    server = SecantusServer(
        port=free_port(),
        storage_path=directory / "data",
        pid_file=directory / "secantus.pid",
        log_file=directory / "secantus.log",
    )
    server.start()
    previous = os.environ.get("MONGODB_URI")
    os.environ["MONGODB_URI"] = server.uri
    yield server.uri
    if previous is None:
        os.environ.pop("MONGODB_URI", None)
    else:
        os.environ["MONGODB_URI"] = previous
    server.stop()
