"""How the benchmarks measure a piece of work: its wall time, and its peak Python memory."""

from __future__ import annotations

import time
import tracemalloc


def timed(work) -> float:
    """Seconds ``work()`` took."""
    started = time.monotonic()
    work()
    return time.monotonic() - started


def peak_kib(work) -> float:
    """The peak of memory Python allocated while ``work()`` ran, in KiB (tracemalloc)."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()
