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

from tests.browser import browser_page, chromium_browser  # noqa: F401  (fixtures)
from youwei.ports import free_port
from youwei.stack import SecantusServer


def pytest_sessionstart(session: pytest.Session) -> None:
    patched = patcher.is_monkey_patched("socket") and patcher.is_monkey_patched("thread")
    expected = os.environ.get("YOUWEI_EXPECT_EVENTLET") == "1"
    if patched != expected:
        raise pytest.UsageError(
            f"eventlet monkey patching is {'on' if patched else 'off'} but "
            f"YOUWEI_EXPECT_EVENTLET={os.environ.get('YOUWEI_EXPECT_EVENTLET')!r}"
        )


PLAIN_PASS_ONLY = ("processes", "browser", "plain")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """nameko services need eventlet's monkey patching: a plain session leaves their tests
    to the patched pass of the test command. Run once, in the plain pass (deselected, not
    skipped): tests that run services as processes (``processes``), tests in a browser
    (``browser``: Playwright hangs under eventlet, see tests/browser.py), and tests of what
    never runs under eventlet or does no I/O (``plain``: files, the command line, pure
    domain rules and contracts). Every other test runs in both passes: the shared code
    runs plain in the ``youwei`` command and patched in the services. A test that asks for
    ``browser_page`` is marked ``browser`` here, whether or not it says so."""
    for item in items:
        if "browser_page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        once = [m for m in PLAIN_PASS_ONLY if item.get_closest_marker(m)]
        if once and item.get_closest_marker("nameko"):
            raise pytest.UsageError(
                f"{item.nodeid} is marked both {once[0]!r} (plain pass only) and 'nameko' "
                "(eventlet pass only), so no pass would run it: run the service as a process "
                "(tests/processes.py, marker 'processes'), or move the test to a module of "
                "its own"
            )
    patched = patcher.is_monkey_patched("socket")
    leave = PLAIN_PASS_ONLY if patched else ("nameko",)
    kept = [item for item in items if not any(item.get_closest_marker(m) for m in leave)]
    deselected = [item for item in items if any(item.get_closest_marker(m) for m in leave)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"eventlet monkey patching: {'on' if patcher.is_monkey_patched('socket') else 'off'}"


@pytest.fixture(scope="session", autouse=True)
def mongodb_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Start SecantusDB for this test session and point MONGODB_URI at it."""
    directory = tmp_path_factory.mktemp("secantus")
    server = SecantusServer.in_folder(directory)
    server.start()
    previous = os.environ.get("MONGODB_URI")
    os.environ["MONGODB_URI"] = server.uri
    yield server.uri
    if previous is None:
        os.environ.pop("MONGODB_URI", None)
    else:
        os.environ["MONGODB_URI"] = previous
    server.stop()


@pytest.fixture(scope="module")
def rabbit_config_module(request: pytest.FixtureRequest, vhost_pipeline) -> dict:
    """nameko's ``rabbit_config`` for a whole module: a RabbitMQ vhost of the module's own."""
    from urllib.parse import urlparse

    uri = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    with vhost_pipeline.get() as vhost:
        yield {"AMQP_URI": f"{uri.scheme}://{uri.netloc}/{vhost}", "username": uri.username,
               "vhost": vhost}  # fmt: skip


@pytest.fixture(scope="module")
def container_factory_module():
    """nameko's ``container_factory`` for a whole module: its containers are killed at its end."""
    from nameko.containers import get_container_cls

    containers = []

    def make(service_class, config):
        containers.append(get_container_cls(config)(service_class, config))
        return containers[-1]

    yield make
    for container in containers:
        container.kill()


@pytest.fixture(scope="module")
def web_port() -> int:
    return free_port()
