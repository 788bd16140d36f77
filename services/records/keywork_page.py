"""The key work's progress (重点工作进展, ``/keywork``) as HTML: pure rendering, no I/O, with
the public pages' templates and charts (``services.records.page``): inline CSS and SVG, no
script and nothing from elsewhere.

Only ``KEY_WORK_FIELDS`` of a share are read. Hooks for tests: ``#total``, ``#shares``
(``tr[data-share-id]``, cells ``td.<column>`` as ``COLUMNS`` names them; in ``td.targets``
one ``li.target`` per target with its ``svg.progress rect.done[data-percent]`` and
``li.milestone`` per milestone), ``#empty``, ``svg[data-chart=by_outcome|by_month]``,
``nav#pages``, ``a#json``.
"""

from __future__ import annotations

from typing import Any

from schemas.records import KEY_WORK_FIELDS
from services.records.page import _chart, _pages, _templates, query_string

TITLE_ZH = "有为 · 重点工作进展"
TITLE_EN = "Progress of the city's key work"
KEYS = ("q", "page", "page_size")
COLUMNS = (
    ("title", "重点工作", "Key work"),
    ("name", "责任领导", "Owner"),
    ("unit", "单位", "Unit"),
    ("post", "职务", "Post"),
    ("targets", "目标、进度与节点", "Targets, progress and due dates"),
)
CHARTS = (
    ("by_outcome", "目标完成情况", "targets by outcome"),
    ("by_month", "目标到期月份", "targets by month due"),
)
PROGRESS_WIDTH = 160  # a target's progress bar, in its SVG's units


def number(value: Any) -> str:
    """A value as people write it: 120 rather than the 120.0 a float carries; 12.5 as is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_templates.filters["number"] = number


def render_key_work(answer: dict, charts: dict, filters: dict) -> str:
    """The page for one query: ``answer`` (a page of shares and their total), ``charts``
    (over every share that matches: targets by outcome, by month due) and ``filters``."""
    total = int(answer.get("total") or 0)
    return _templates.get_template("keywork.html").render(
        title_zh=TITLE_ZH,
        title_en=TITLE_EN,
        json_href="keywork.json" + query_string(filters, KEYS),
        filters=filters,
        total=total,
        columns=COLUMNS,
        shares=[published_share(share) for share in answer.get("shares") or []],
        pages=_pages(answer, filters, total, KEYS, "keywork"),
        charts=[_chart(key, zh, en, charts.get(key) or []) for key, zh, en in CHARTS],
        width=PROGRESS_WIDTH,
    )


def published_share(share: dict[str, Any]) -> dict[str, Any]:
    """The published fields of a share, and each target's bar width (its percent, at most
    the whole bar)."""
    shown = {key: share.get(key) for key in KEY_WORK_FIELDS}
    shown["targets"] = [
        {
            **target,
            "bar": round(PROGRESS_WIDTH * min(float(target.get("percent") or 0), 100) / 100, 1),
        }
        for target in shown["targets"] or []
    ]
    return shown
