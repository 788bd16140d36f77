"""Public pages served many times for each change of what they show: ``@public_page``.

A service declares ``public_pages = PublicPages(version)``, where ``version(service)`` reads
what its pages are built from (a projection's generation and revision, say) as a small
hashable value that changes whenever an answer could; each public ``@http`` handler is
decorated ``@public_page`` under its ``@http``. Then, for every request of such a route:

- the query string is checked first: at most ``MAX_QUERY_BYTES``, ``MAX_PARAMETERS``
  parameters, each named once, UTF-8 once percent-decoded; else 400 with
  ``{"error": "InvalidCommand", "fields": {name: [reason]}}`` and the handler never runs;
- the answer's ETag is derived from the path, the query's parameters (an empty one is left
  out: the handlers take it as not given), the version and the code that renders it
  (``release``: a digest of the service's package), so replicas of one build agree. A
  matching ``If-None-Match`` gets ``304 Not Modified`` without rendering;
- a 200 answer is kept in a cache shared by the service's workers, keyed like the ETag,
  bounded in bytes (``PUBLIC_PAGE_CACHE_BYTES``, default 32 MiB; least recently used out)
  and emptied as soon as a request reads a new version: never a page older than the version
  read after the request arrived. Concurrent requests share one read of the version (one
  started after each of them arrived) and one rendering of each page;
- the body is gzipped once per cached answer, sent to clients whose ``Accept-Encoding``
  takes gzip (``Vary: Accept-Encoding``);
- every answer (200, 304, 400) carries ``SECURITY_HEADERS``, and ``Cache-Control`` lets a
  shared cache keep it ``PUBLIC_PAGE_SHARED_SECONDS`` (default 10) and then revalidate
  (docs/operations.md, "Public pages behind a CDN"); browsers revalidate each time.

A handler under ``@public_page`` must answer from the request's path and query string alone
(never a header or cookie), from data the version covers.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

MAX_QUERY_BYTES = 2048
MAX_PARAMETERS = 16
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
DEFAULT_SHARED_SECONDS = 10
COMPRESS_FROM = 512  # bytes: a smaller body goes as it is

#: The pages are self-contained (inline CSS and SVG, no script, nothing from elsewhere).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    "Strict-Transport-Security": "max-age=31536000",
}


class InvalidQuery(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def query_parameters(raw: bytes) -> tuple[tuple[str, str], ...]:
    """The query string's parameters, sorted; ``InvalidQuery`` when it is too long, has too
    many parameters, names one twice, or is not UTF-8."""
    if len(raw) > MAX_QUERY_BYTES:
        raise InvalidQuery("query", f"longer than {MAX_QUERY_BYTES} bytes")
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_PARAMETERS,
        )
    except UnicodeDecodeError:
        raise InvalidQuery("query", "not UTF-8") from None
    except ValueError:
        raise InvalidQuery("query", f"more than {MAX_PARAMETERS} parameters") from None
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise InvalidQuery(name[:100], "given more than once")
        seen.add(name)
    return tuple(sorted(pairs))


def invalid(field: str, reason: str) -> Response:
    body = {"error": "InvalidCommand", "fields": {field: [reason]}}
    return Response(
        json.dumps(body, ensure_ascii=False), 400, content_type="application/json; charset=utf-8"
    )


class Fresh:
    """A value read for concurrent callers: each gets the value of a read that started after
    it called, and at most one read runs at a time (the callers who arrive during a read
    share the next one, done by one of them with its own ``read``)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.started = self.finished = 0
        self.running = False
        self.value: Hashable = None

    def get(self, read: Callable[[], Hashable]) -> Hashable:
        with self.condition:
            wanted = self.started + 1
            while self.finished < wanted:
                if not self.running:
                    self.running, self.started = True, self.started + 1
                    mine = self.started
                    break
                self.condition.wait()
            else:
                return self.value
        try:
            value = read()
        except BaseException:
            with self.condition:
                self.running = False
                self.condition.notify_all()
            raise
        with self.condition:
            self.value, self.finished, self.running = value, mine, False
            self.condition.notify_all()
        return value


class Answer:
    """A rendered 200 answer: its body as it is and gzipped, its content type."""

    def __init__(self, body: bytes, content_type: str) -> None:
        self.body, self.content_type = body, content_type
        self.gzipped = (
            gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= COMPRESS_FROM else None
        )
        self.size = len(body) + len(self.gzipped or b"") + 200


class AnswerCache:
    """Rendered answers of the current version, least recently used out past ``max_bytes``;
    each key rendered once however many ask for it at the same time."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self.rendering: dict[Hashable, threading.Event] = {}
        self.version: Hashable = None
        self.bytes = 0

    def seen(self, version: Hashable) -> None:
        """Forget every answer of another version."""
        with self.lock:
            if version != self.version:
                self.version = version
                self.answers.clear()
                self.bytes = 0

    def get(self, key: Hashable, version: Hashable, render: Callable[[], Response]) -> Any:
        """The answer for ``key`` (an ``Answer``), or the handler's own response when it is
        not a 200 (not kept)."""
        while True:
            with self.lock:
                answer = self.answers.get(key)
                if answer is not None:
                    self.answers.move_to_end(key)
                    return answer
                event = self.rendering.get(key)
                if event is None:
                    event = self.rendering[key] = threading.Event()
                    break
            event.wait()  # another request renders it; then look again
        try:
            response = render()
            if response.status_code != 200 or response.direct_passthrough:
                return response
            answer = Answer(response.get_data(), response.content_type or "text/plain")
            with self.lock:
                if version == self.version and answer.size <= self.max_bytes // 8:
                    self.answers[key] = answer
                    self.bytes += answer.size
                    while self.bytes > self.max_bytes:
                        _, dropped = self.answers.popitem(last=False)
                        self.bytes -= dropped.size
            return answer
        finally:
            with self.lock:
                self.rendering.pop(key, None)
            event.set()


def package_digest(module_file: str) -> str:
    """A digest of the files of the package holding ``module_file`` (its code, templates)."""
    digest = hashlib.sha256()
    folder = Path(module_file).parent
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class PublicSite:
    """What the workers of one service share: the version's reader and the cache."""

    def __init__(self, version: Callable[[Any], Hashable], release: str, config: dict) -> None:
        self.version, self.fresh, self.release = version, Fresh(), release
        self.cache = AnswerCache(int(config.get("PUBLIC_PAGE_CACHE_BYTES") or DEFAULT_CACHE_BYTES))
        shared = int(config.get("PUBLIC_PAGE_SHARED_SECONDS") or DEFAULT_SHARED_SECONDS)
        self.cache_control = f"public, max-age=0, s-maxage={shared}, must-revalidate"

    def answer(self, service: Any, request: Request, render: Callable[[], Response]) -> Response:
        try:
            parameters = query_parameters(request.query_string)
        except InvalidQuery as error:
            return self._headed(invalid(error.field, error.reason))
        version = self.fresh.get(lambda: self.version(service))
        self.cache.seen(version)
        key = (request.path, tuple(p for p in parameters if p[1] != ""), version)
        etag = hashlib.sha256(repr((self.release, key)).encode()).hexdigest()[:24]
        headers = {"ETag": f'W/"{etag}"', "Cache-Control": self.cache_control,
                   "Vary": "Accept-Encoding"}  # fmt: skip
        if request.if_none_match.contains_weak(etag):
            return self._headed(Response(status=304, headers=headers))
        answer = self.cache.get(key, version, render)
        if isinstance(answer, Response):
            answer.headers.setdefault("Cache-Control", "no-cache")
            return self._headed(answer)
        response = Response(headers=headers, content_type=answer.content_type)
        if answer.gzipped is not None and request.accept_encodings["gzip"]:
            response.set_data(answer.gzipped)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response.set_data(answer.body)
        return self._headed(response)

    @staticmethod
    def _headed(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


class PublicPages(DependencyProvider):
    """The service's ``PublicSite`` (see the module): ``version(service)`` reads what the
    pages are built from; the release is a digest of the service's package."""

    def __init__(self, version: Callable[[Any], Hashable]) -> None:
        self.version = version

    def setup(self) -> None:
        service_class = self.container.service_cls
        module = sys.modules[service_class.__module__]
        release = package_digest(str(module.__file__))
        self.site = PublicSite(self.version, release, self.container.config)

    def get_dependency(self, worker_ctx: Any) -> PublicSite:
        return self.site


def public_page(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Serve ``handler`` (an ``@http`` GET handler of a service with ``public_pages =
    PublicPages(version)``) as the module says; put it under ``@http``."""

    @functools.wraps(handler)
    def serve(service: Any, request: Request, **path: Any) -> Response:
        render = functools.partial(handler, service, request, **path)
        return service.public_pages.answer(service, request, render)

    return serve
