"""A small city recorded in one go (one afternoon): docs/rpc.md's examples run against the
services' real entrypoints and applications on SecantusDB, as tests/test_docs.py does.
Among them the liaison 陈刚: admonished on 2026-05-20, the admonishment revoked on appeal on
2026-06-01."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.rpc_examples import documented_services, examples, run_example


@contextlib.contextmanager
def rpc_world(mongodb_uri: str) -> Iterator[tuple[str, dict]]:
    """The database's name and the examples' names (``liaison``, ``case``, ...)."""
    with documented_services(mongodb_uri) as (database, _, namespace):
        for example in examples():
            run_example(example, namespace)
        yield database, namespace
