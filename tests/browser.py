"""A real browser for tests: Debian's headless Chromium driven by Playwright.

``browser_page`` gives a test a fresh page (its own context: no cookies or storage from
another test; locale zh-CN; a 1280×900 viewport, which a test may change with
``page.set_viewport_size``) in a Chromium that ``chromium_browser`` starts once per test
module. tests/conftest.py imports both, so any test can ask for ``browser_page``, and marks
such a test ``browser`` (say so in the test module too, ``pytestmark = pytest.mark.browser``).

The browser is Debian's package ``chromium`` at ``/usr/bin/chromium``, launched with
``executable_path``: Playwright's own browser download (``playwright install``) is never
needed, and could not reach its host from here anyway. ``scripts/test`` installs the
package when it is missing, and a CJK font (``fonts-wqy-microhei``) when fontconfig knows
none for Chinese. Without Chromium the fixture FAILS, naming the package: a browser test that
quietly skipped would let CI pass without ever opening the page. ``untyped_glyphs`` finds
characters that a page draws as "tofu" (no font has them).

Not under eventlet: browser tests run in the plain pass only. tests/conftest.py marks any
test that asks for ``browser_page`` as ``browser`` and deselects those in the ``nameko test``
pass, and this fixture fails if it is started under eventlet's monkey patching all the same.
Why: Playwright's sync API runs its asyncio loop on a greenlet of its own (the dispatcher
fiber) and runs each event listener on a greenlet whose parent is that fiber; eventlet's hub,
whenever a greenlet blocks on a green call, makes the hub that greenlet's parent
(``cur.parent = hub`` in ``eventlet.hubs.hub.BaseHub.switch``). A listener that blocked then
returns to the hub instead of to Playwright, and the dispatcher fiber is never resumed (a
dump of the greenlets of a hung run shows just that: a dead listener greenlet whose parent
is the hub, the dispatcher fiber suspended in its switch to it, the hub idle).
Seen here (playwright 1.65.2, eventlet 0.41.3, Chromium 156): ``page.goto`` works, but a
click that navigates hangs forever; Playwright's own timeouts never fire (its loop is
stuck) and pytest-timeout's signal cannot end it either. So a test of a nameko service in a
browser runs the service as a process (tests/processes.py, marker ``processes``, plain pass)
rather than in a nameko container in the test process; conftest rejects a test marked both
``browser`` and ``nameko``, since no pass would run it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from eventlet import patcher

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/bin/chromium"
APT_PACKAGE = "chromium"
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 15_000


def cannot_start() -> str | None:
    """Why the browser cannot start here, or None."""
    if patcher.is_monkey_patched("socket"):
        return (
            "browser tests cannot run under eventlet's monkey patching (Playwright hangs: "
            "see tests/browser.py); mark the test 'browser' so that the nameko test pass "
            "leaves it to the plain pass"
        )
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"{CHROMIUM} is missing: browser tests need Debian's package {APT_PACKAGE!r} "
            f"(apt-get install -y {APT_PACKAGE}; scripts/test installs it)"
        )
    return None


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    """Headless Chromium, started once for the test module that asks for it."""
    problem = cannot_start()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # As root (CI and the developers' machines) Chromium refuses its sandbox;
            # /dev/shm may be small in a container.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium_browser: Browser) -> Iterator[Page]:
    """A new page in a context of its own, closed after the test."""
    context = chromium_browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


#: For ``tofu``: each distinct Han character of an element's text drawn on a canvas in the
#: element's own font (family, weight, style; at 48px), beside U+10FFFD, which no font has.
_DRAW_HAN = """element => {
    const style = getComputedStyle(element);
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    canvas.lang = element.closest("[lang]")?.lang || document.documentElement.lang;
    const context = canvas.getContext("2d");
    context.font = `${style.fontStyle} ${style.fontWeight} 48px ${style.fontFamily}`;
    const draw = character => {
        context.clearRect(0, 0, 64, 64);
        context.fillText(character, 4, 52);
        const pixels = context.getImageData(0, 0, 64, 64).data;
        return pixels.some(value => value) ? pixels.join() : "";
    };
    const missing = draw("\\u{10FFFD}");
    const han = [...new Set(element.textContent)].filter(c => /\\p{Script=Han}/u.test(c));
    const tofu = han.filter(c => { const image = draw(c); return !image || image === missing; });
    return {han, tofu};
}"""


def tofu(locator) -> tuple[list[str], list[str]]:
    """The Han characters of ``locator``'s text, and those among them that Chromium draws
    blank or as the box it draws for a character no font has: with no CJK font, all."""
    drawn = locator.evaluate(_DRAW_HAN)
    return drawn["han"], drawn["tofu"]


def fonts_used(page: Page, selector: str) -> list[dict]:
    """The platform fonts Chromium rendered the first element matching ``selector`` with
    (DevTools' CSS.getPlatformFontsForNode: family and glyph count), for messages."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    finally:
        cdp.detach()


#: The standard library's, as it is: nameko's web entrypoint imports eventlet's green copy of
#: ``http.server`` into ``sys.modules``, whose servers wait on green locks that another OS
#: thread cannot wake (a test's ``shutdown()`` hung for good in the plain pass).
http_server = patcher.original("http.server")


class SamplePage(http_server.BaseHTTPRequestHandler):
    """A handler of a sample site for the browser tests: ``do_GET`` answers with ``send``."""

    def send(self, body: bytes, kind: str = "text/html; charset=utf-8") -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet
        pass


@contextlib.contextmanager
def sample_site(handler: type[SamplePage], path: str = "/") -> Iterator[str]:
    """Serve ``handler`` on a free local port while the block runs; yield ``path``'s URL."""
    server = http_server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
