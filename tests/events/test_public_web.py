"""The parts of ``events.web.public`` that need no server: the query string's guard, the
shared read of the version, and the bounded cache of rendered answers."""

from __future__ import annotations

import gzip
import threading
import time

import pytest
from werkzeug.wrappers import Response

from events.web.public import (
    MAX_PARAMETERS,
    MAX_QUERY_BYTES,
    AnswerCache,
    Fresh,
    InvalidQuery,
    query_parameters,
)

pytestmark = pytest.mark.plain


def test_query_parameters_are_sorted_and_decoded() -> None:
    assert query_parameters(b"q=%E9%92%B1&page=2&category=") == (
        ("category", ""), ("page", "2"), ("q", "钱"))  # fmt: skip
    assert query_parameters(b"") == ()


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b"q=%FF", "query", "not UTF-8"),
        (b"q=\xff", "query", "not UTF-8"),
        (b"q=%ED%A0%80", "query", "not UTF-8"),  # an encoded lone surrogate
        (b"q=" + b"a" * MAX_QUERY_BYTES, "query", f"longer than {MAX_QUERY_BYTES} bytes"),
        (b"&".join(b"k%d=1" % i for i in range(MAX_PARAMETERS + 1)), "query",
         f"more than {MAX_PARAMETERS} parameters"),
        (b"page=1&page=2", "page", "given more than once"),
    ],
)  # fmt: skip
def test_bad_query_strings_are_named(raw: bytes, field: str, reason: str) -> None:
    with pytest.raises(InvalidQuery) as refused:
        query_parameters(raw)
    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_concurrent_callers_share_one_read_started_after_they_called() -> None:
    reads: list[int] = []
    gate = threading.Event()

    def read() -> int:
        reads.append(len(reads) + 1)
        gate.wait(5)
        return len(reads)

    fresh = Fresh()
    got: list[int] = []
    first = threading.Thread(target=lambda: got.append(fresh.get(read)))
    first.start()
    while not reads:
        time.sleep(0.001)
    # these arrive while read 1 runs: they must not take its value, and share read 2
    others = [threading.Thread(target=lambda: got.append(fresh.get(read))) for _ in range(5)]
    for thread in others:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in (first, *others):
        thread.join(5)
    assert reads == [1, 2]
    assert sorted(got) == [1, 2, 2, 2, 2, 2]


def test_the_cache_keeps_the_current_version_within_its_bytes() -> None:
    cache = AnswerCache(max_bytes=64_000)
    cache.seen("v1")
    renders: list[str] = []

    def page(key: str, size: int = 3000):
        def render() -> Response:
            renders.append(key)
            return Response(key.encode() + b"x" * size, content_type="text/html")

        return cache.get(key, "v1", render)

    a = page("a")
    assert page("a") is a and renders == ["a"]  # kept
    assert gzip.decompress(a.gzipped) == a.body
    for i in range(100):
        page(f"k{i}")
    assert cache.bytes <= 64_000 and len(cache.answers) < 100
    assert "a" not in cache.answers  # least recently used, out
    cache.seen("v2")  # the projection moved on: nothing of v1 is served again
    assert cache.answers == {} and cache.bytes == 0
    renders.clear()
    page("k99")
    assert renders == ["k99"]
    assert cache.answers == {}  # rendered for v1 after v2 was seen: not kept


def test_a_failed_answer_is_not_kept() -> None:
    cache = AnswerCache(max_bytes=64_000)
    cache.seen("v1")
    refused = cache.get("bad", "v1", lambda: Response("no", status=400))
    assert isinstance(refused, Response) and refused.status_code == 400
    assert cache.answers == {}
