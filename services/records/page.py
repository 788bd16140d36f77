"""The public accountability page (向社会公布问责结果) as HTML: pure rendering, no I/O.

The records service answers a query over ``@http`` and hands the answer here; the page is
one self-contained HTML5 document: inline CSS, bar charts drawn as inline SVG on the server
(so they show without JavaScript), and no script, font or image from anywhere. A
Content-Security-Policy in the document itself forbids scripts, so even a slip in escaping
could not run one. Chinese first, English beside it (DOMAIN.md).

The markup is in Jinja2 templates (``templates/``: ``page.html``, ``honours.html``, their
parts in ``macros.html``, the stylesheet ``page.css`` inlined); this module gives them their
data: the published fields, the pages' links and the charts' geometry. Autoescaping is on
and an undefined value fails the rendering.

Only the published fields of a record are read (``PUBLISHED``); anything else that a record
dict carries is never shown.

Hooks for tests: ``id="total"`` (the number of matching records), ``id="records"`` (the
table; one ``tr[data-record-id]`` per record, its cells ``td.<column>`` as ``COLUMNS`` names
them, ``td.summary`` the text published for the public), ``id="empty"`` (no records),
``svg[data-chart=by_category|by_decision|by_month]`` with one ``rect[data-code][data-count]``
per bar (the only rects in a chart), ``nav#pages`` and ``a#json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Any, NamedTuple
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup

from schemas.records import HONOUR_FIELDS, PUBLIC_RECORD_FIELDS

TITLE_ZH = "有为 · 问责结果公开"
TITLE_EN = "Public accountability records"

#: The fields of a record that the page shows; nothing else of a record is read.
PUBLISHED = PUBLIC_RECORD_FIELDS

#: The query parameters of the page (and of ``records.json``), in link order.
QUERY_KEYS = ("q", "category", "decision", "month", "page", "page_size")

DECISION_TYPES = {
    "measure": ("问责方式", "measure"),
    "handling": ("组织处理", "handling"),
}

CHARTS = (
    ("by_category", "按类别", "by category (庸懒散混)"),
    ("by_decision", "按问责方式", "by measure or handling"),
    ("by_month", "按月份", "by month"),
)

COLUMNS = (
    ("name", "姓名", "Name"),
    ("unit", "单位", "Unit"),
    ("post", "职务", "Post"),
    ("category", "类别", "Category"),
    ("situation", "情形", "Situation"),
    ("decision", "处理", "Measure or handling"),
    ("summary", "公布内容", "As published"),
    ("date", "日期", "Date"),
)

# Chart geometry, in the SVG's own units (it scales to the width of its card).
CHART_WIDTH = 300
COUNT_ROOM = 44  # right of the longest bar, for its count
BAR_HEIGHT = 16
ROW_GAP = 10
LABEL_LINE = 18  # a label above its bar (categories, measures)
MONTH_LABEL = 64  # a month's label beside its bar

# --- the honour roll (宣传先进事迹): /honours ------------------------------------------------

HONOUR_TITLE_ZH = "有为 · 先进典型光荣榜"
HONOUR_TITLE_EN = "Honour roll of commended cadres"
HONOUR_KEYS = ("q", "kind", "month", "page", "page_size")
HONOUR_COLUMNS = (
    ("name", "姓名", "Name"),
    ("unit", "单位", "Unit"),
    ("post", "职务", "Post"),
    ("commendation", "表彰类别", "Commendation"),
    ("citation", "先进事迹", "Citation"),
    ("date", "日期", "Date"),
)
HONOUR_CHARTS = (
    ("by_kind", "按表彰类别", "by kind of commendation"),
    ("by_month", "按月份", "by month"),
)


def query_string(filters: dict, keys: tuple[str, ...] = QUERY_KEYS, **changes: Any) -> str:
    """The query string for ``filters`` with ``changes`` applied, with its leading ``?``
    (empty when nothing is set): the keys of ``keys`` only, in that order, leaving out
    what is ``None`` or empty, and page 1. Not HTML-escaped: escape it into an attribute."""
    merged = {**filters, **changes}
    pairs = []
    for key in keys:
        value = merged.get(key)
        if value is None or value == "" or (key == "page" and str(value) == "1"):
            continue
        pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def short_en(label: dict) -> str:
    """The English of a label up to its first colon ("laziness: ..." → "laziness")."""
    return str(label.get("en") or "").split(":", 1)[0].strip()


def _escaped(value: Any) -> Markup:
    """How the templates print a value (the environment's ``finalize``, before autoescaping):
    escaped as ``html.escape`` does (``&#x27;`` and ``&quot;``, where markupsafe writes
    ``&#39;`` and ``&#34;``), as the page always has been; ``None`` prints nothing; markup
    (a macro's output) is left as it is. An undefined value raises here."""
    if hasattr(value, "__html__"):
        return value
    return Markup("" if value is None else escape(str(value), quote=True))


_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("services.records", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    finalize=_escaped,
    keep_trailing_newline=True,
    auto_reload=False,  # they ship with the package; checking their files took a third of a render
)
_templates.filters["short_en"] = short_en


class Select(NamedTuple):
    """A select of the search form: "all" first, then ``choices`` (value, text)."""

    name: str
    zh: str
    en: str
    choices: list[tuple[str, str]]
    chosen: str


class Link(NamedTuple):
    kind: str  # "link", "current" (the page shown) or "gap"
    number: int = 0
    text: str = ""
    href: str = ""
    rel: str = ""


class Pages(NamedTuple):
    page: int
    last: int
    links: list[Link]


@dataclass(frozen=True)
class Bar:
    """A chart's bar, where the SVG draws it: its label (the month, or Chinese and short
    English) at ``label_y``, the bar at (``x``, ``y``), its count at (``count_x``, ``count_y``)."""

    monthly: bool
    code: str
    zh: Any
    en: str
    tip: str
    count: int
    label_y: int
    x: int
    y: int
    width: float
    count_x: float
    count_y: int
    height: int = BAR_HEIGHT


class Chart(NamedTuple):
    key: str
    zh: str
    en: str
    title: str
    bars: list[Bar]
    height: int
    width: int = CHART_WIDTH


class Integrity(NamedTuple):
    checkpoints: list[dict]
    keys: list[dict]
    tree: dict | None = None  # the latest signed and witnessed tree heads


def render_page(
    answer: dict, charts: dict, filters: dict, options: dict, integrity: dict | None = None
) -> str:
    """The whole page for one query: ``answer`` (a page of records and their total),
    ``charts`` (counts over all records that match), ``filters`` (the query) and
    ``options`` (the choices of the search form); and ``integrity``: the latest signed
    checkpoint of each log and the signing keys, for anyone to check an export against."""
    total = int(answer.get("total") or 0)
    selects = [
        _select("category", "类别", "Category", _label_choices(options.get("categories")),
                filters.get("category")),
        _select("decision", "问责方式", "Measure or handling",
                _label_choices(options.get("decisions")), filters.get("decision")),
        _select("month", "月份", "Month", _month_choices(options), filters.get("month")),
    ]  # fmt: skip
    return _templates.get_template("page.html").render(
        title_zh=TITLE_ZH,
        title_en=TITLE_EN,
        json_href="records.json" + query_string(filters),
        filters=filters,
        selects=selects,
        total=total,
        columns=COLUMNS,
        records=[published_record(record) for record in answer.get("records") or []],
        pages=_pages(answer, filters, total),
        charts=[_chart(key, zh, en, charts.get(key) or []) for key, zh, en in CHARTS],
        integrity=_integrity(integrity) if integrity else None,
    )


def render_honour_roll(answer: dict, charts: dict, filters: dict, options: dict) -> str:
    """The honour roll for one query: ``answer`` (a page of honours and their total),
    ``charts`` (counts over all honours that match: by kind, by month), ``filters`` and
    ``options`` (the kinds and months of the search form). Only ``HONOUR_FIELDS`` are read.
    Hooks for tests: ``#total``, ``#honours`` (``tr[data-honour-id]``, cells ``td.<column>``
    as ``HONOUR_COLUMNS`` names them: ``td.commendation`` the kind), ``#empty``,
    ``svg[data-chart=by_kind|by_month]``, ``nav#pages``, ``a#json`` and ``a#to-records``."""
    total = int(answer.get("total") or 0)
    selects = [
        _select("kind", "表彰类别", "Commendation", _label_choices(options.get("kinds")),
                filters.get("kind")),
        _select("month", "月份", "Month", _month_choices(options), filters.get("month")),
    ]  # fmt: skip
    return _templates.get_template("honours.html").render(
        title_zh=HONOUR_TITLE_ZH,
        title_en=HONOUR_TITLE_EN,
        json_href="honours.json" + query_string(filters, HONOUR_KEYS),
        filters=filters,
        selects=selects,
        total=total,
        columns=HONOUR_COLUMNS,
        honours=[published_honour(honour) for honour in answer.get("honours") or []],
        pages=_pages(answer, filters, total, HONOUR_KEYS, "honours"),
        charts=[_chart(key, zh, en, charts.get(key) or []) for key, zh, en in HONOUR_CHARTS],
    )


def published_record(record: dict) -> dict:
    """The published fields of a record (``None`` where it has none), and ``kind``: the
    (Chinese, English) of its decision type, which is a label (or, from older answers, its
    code; ``None`` for an unknown one)."""
    record = {key: record.get(key) for key in PUBLISHED}
    kind = record["decision_type"]
    kind = (kind.get("zh"), kind.get("en")) if isinstance(kind, dict) else DECISION_TYPES.get(kind)
    return {**record, "kind": kind}


def published_honour(honour: dict) -> dict:
    """The published fields of a commendation (``None`` where it has none)."""
    return {key: honour.get(key) for key in HONOUR_FIELDS}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _select(name: str, zh: str, en: str, choices: list[tuple[str, str]], chosen: Any) -> Select:
    """``chosen`` stays a choice even when ``options`` lacks it."""
    chosen = _text(chosen)
    if chosen and chosen not in {value for value, _ in choices}:
        choices = [*choices, (chosen, chosen)]
    return Select(name, zh, en, choices, chosen)


def _label_choices(labels: list[dict] | None) -> list[tuple[str, str]]:
    return [
        (str(label["code"]), f"{_text(label.get('zh'))} {short_en(label)}")
        for label in labels or []
    ]


def _month_choices(options: dict) -> list[tuple[str, str]]:
    return [(str(month), _text(month)) for month in options.get("months") or []]


def _pages(
    answer: dict, filters: dict, total: int, keys: tuple[str, ...] = QUERY_KEYS, base: str = "./"
) -> Pages | None:
    """The page links, or ``None`` when one page holds everything."""
    size = max(1, int(answer.get("page_size") or filters.get("page_size") or 1))
    page = max(1, int(answer.get("page") or filters.get("page") or 1))
    last = max(1, math.ceil(total / size))
    if last == 1 and page == 1:
        return None

    def link(number: int, text: str, rel: str = "") -> Link:
        return Link("link", number, text, base + query_string(filters, keys, page=number), rel)

    links = []
    if page > 1:
        links.append(link(min(page - 1, last), "‹ 上一页 Previous", "prev"))
    shown = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    previous = 0
    for number in shown:
        if number - previous > 1:
            links.append(Link("gap"))
        links.append(Link("current", number) if number == page else link(number, str(number)))
        previous = number
    if page < last:
        links.append(link(page + 1, "下一页 Next ›", "next"))
    return Pages(page, last, links)


def _bar_width(count: int, largest: int, room: float) -> float:
    if count <= 0 or largest <= 0:
        return 0.0
    return max(2.0, round(room * count / largest, 1))


def _chart(key: str, zh: str, en: str, entries: list[dict]) -> Chart:
    """One chart's bars, an entry each: a label above its bar, but a month's beside it."""
    monthly = key == "by_month"
    largest = max((int(entry.get("count") or 0) for entry in entries), default=0)
    bars = []
    y = 4
    for entry in entries:
        count = int(entry.get("count") or 0)
        if monthly:
            code = str(entry.get("month"))
            tip = f"{code} — {count}"
            x, label_y, bar_y = MONTH_LABEL, y + BAR_HEIGHT - 3, y
            y += BAR_HEIGHT + ROW_GAP
        else:
            code = str(entry.get("code"))
            tip = f"{entry.get('zh')} {entry.get('en')} — {count}"
            x, label_y, bar_y = 0, y + 13, y + LABEL_LINE
            y += LABEL_LINE + BAR_HEIGHT + ROW_GAP
        width = _bar_width(count, largest, CHART_WIDTH - x - COUNT_ROOM)
        bars.append(
            Bar(monthly=monthly, code=code, zh=None if monthly else entry.get("zh"),
                en="" if monthly else short_en(entry), tip=tip, count=count, label_y=label_y,
                x=x, y=bar_y, width=width, count_x=x + width + 6,
                count_y=bar_y + BAR_HEIGHT - 3)
        )  # fmt: skip
    if not entries:
        y = 30
    return Chart(key, zh, en, f"{zh} {en}", bars, height=max(y, 30))


def _integrity(integrity: dict) -> Integrity:
    checkpoints = [
        {**checkpoint, "position": int(checkpoint["position"])}
        for checkpoint in integrity.get("checkpoints") or []
    ]
    return Integrity(checkpoints, integrity.get("keys") or [], integrity.get("transparency"))
