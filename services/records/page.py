"""The public accountability page (向社会公布问责结果) as HTML: pure rendering, no I/O.

The records service answers a query over ``@http`` and hands the answer here; the page is
one self-contained HTML5 document: inline CSS, bar charts drawn as inline SVG on the server
(so they show without JavaScript), and no script, font or image from anywhere. A
Content-Security-Policy in the document itself forbids scripts, so even a slip in escaping
could not run one. Chinese first, English beside it (DOMAIN.md).

Only the published fields of a record are read (``PUBLISHED``); anything else that a record
dict carries is never shown. Every value is escaped with ``html.escape``.

Hooks for tests: ``id="total"`` (the number of matching records), ``id="records"`` (the
table; one ``tr[data-record-id]`` per record, its cells ``td.<column>`` as ``COLUMNS`` names
them, ``td.summary`` the text published for the public), ``id="empty"`` (no records),
``svg[data-chart=by_category|by_decision|by_month]`` with one ``rect[data-code][data-count]``
per bar (the only rects in a chart), ``nav#pages`` and ``a#json``.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any
from urllib.parse import urlencode

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

# Chart geometry, in the SVG's own units (it scales to the width of its card).
CHART_WIDTH = 300
COUNT_ROOM = 44  # right of the longest bar, for its count
BAR_HEIGHT = 16
ROW_GAP = 10
LABEL_LINE = 18  # a label above its bar (categories, measures)
MONTH_LABEL = 64  # a month's label beside its bar


def e(value: Any) -> str:
    """``value`` as escaped HTML text or attribute value (``None`` is empty)."""
    return "" if value is None else escape(str(value), quote=True)


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


def label_html(label: dict | None, short: bool = False) -> str:
    """A label as its Chinese with the English beside it; a dash for none."""
    if not label:
        return '<span class="none">—</span>'
    en = short_en(label) if short else label.get("en")
    return (
        f'<span class="zh" lang="zh-CN">{e(label.get("zh"))}</span> '
        f'<span class="en" lang="en">{e(en)}</span>'
    )


def render_page(
    answer: dict, charts: dict, filters: dict, options: dict, integrity: dict | None = None
) -> str:
    """The whole page for one query: ``answer`` (a page of records and their total),
    ``charts`` (counts over all records that match), ``filters`` (the query) and
    ``options`` (the choices of the search form); and ``integrity``: the latest signed
    checkpoint of each log and the signing keys, for anyone to check an export against."""
    records = answer.get("records") or []
    total = int(answer.get("total") or 0)
    json_href = "records.json" + query_string(filters)
    body = "\n".join(
        [
            '<header class="top">',
            f'<h1><span lang="zh-CN">{e(TITLE_ZH)}</span>'
            f' <span class="en" lang="en">{e(TITLE_EN)}</span></h1>',
            '<p class="lead"><span lang="zh-CN">'
            "向社会公布的问责结果，按类别、问责方式和月份查询。</span>"
            ' <span class="en" lang="en">Accountability results published to the public,'
            " searchable by category, measure and month.</span></p>",
            HONOUR_LINK,
            "</header>",
            "<main>",
            _form(filters, options),
            '<p class="count">'
            f'<span lang="zh-CN">共 <strong id="total" data-total="{total}">{total}</strong>'
            " 条记录</span>"
            f' <span class="en" lang="en">{total} {"record" if total == 1 else "records"}'
            " found</span>"
            f'<a id="json" class="json" href="{e(json_href)}" type="application/json">'
            "JSON 数据 · JSON</a></p>",
            _table(records) if records else _empty(),
            _pages(answer, filters, total),
            '<section class="charts" aria-labelledby="charts-title">',
            '<h2 id="charts-title"><span lang="zh-CN">统计</span>'
            ' <span class="en" lang="en">Charts</span></h2>',
            '<div class="chart-grid">',
            *(_chart(key, zh, en, charts.get(key) or []) for key, zh, en in CHARTS),
            "</div>",
            '<p class="note"><span lang="zh-CN">统计范围为符合当前查询条件的全部记录。</span>'
            ' <span class="en" lang="en">Counts cover every record that matches the query,'
            " not only this page.</span></p>",
            "</section>",
            _integrity(integrity) if integrity else "",
            "</main>",
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'\">\n"
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{e(TITLE_ZH)} / {e(TITLE_EN)}</title>\n"
        f'<link rel="alternate" type="application/json" href="{e(json_href)}">\n'
        f"<style>{CSS}{HONOUR_CSS}</style>\n"
        "</head>\n<body>\n"
        f"{body}\n"
        "</body>\n</html>\n"
    )


def _select(name: str, zh: str, en: str, choices: list[tuple[str, str]], chosen: Any) -> str:
    """A select with "all" first; ``chosen`` stays a choice even when ``options`` lacks it."""
    chosen = "" if chosen is None else str(chosen)
    if chosen and chosen not in {value for value, _ in choices}:
        choices = [*choices, (chosen, e(chosen))]
    items = ['<option value="">全部 All</option>']
    for value, text in choices:
        selected = " selected" if value == chosen else ""
        items.append(f'<option value="{e(value)}"{selected}>{text}</option>')
    return (
        f'<label class="field"><span class="name">{zh} <span class="en" lang="en">{en}</span>'
        f'</span><select name="{name}">{"".join(items)}</select></label>'
    )


def _label_choices(labels: list[dict]) -> list[tuple[str, str]]:
    return [
        (str(label["code"]), f"{e(label.get('zh'))} {e(short_en(label))}") for label in labels or []
    ]


def _form(filters: dict, options: dict) -> str:
    months = [(str(month), e(month)) for month in options.get("months") or []]
    keep_size = filters.get("page_size")
    hidden = f'<input type="hidden" name="page_size" value="{e(keep_size)}">' if keep_size else ""
    return "\n".join(
        [
            '<form class="search" method="get" action="./" role="search">',
            '<label class="field wide"><span class="name">关键词 <span class="en" lang="en">'
            "Name, unit or post</span></span>"
            f'<input type="search" name="q" value="{e(filters.get("q"))}"'
            ' placeholder="姓名、单位或职务 name, unit or post"></label>',
            _select(
                "category",
                "类别",
                "Category",
                _label_choices(options.get("categories")),
                filters.get("category"),
            ),
            _select(
                "decision",
                "问责方式",
                "Measure or handling",
                _label_choices(options.get("decisions")),
                filters.get("decision"),
            ),
            _select("month", "月份", "Month", months, filters.get("month")),
            hidden,
            '<div class="actions"><button type="submit">查询 Search</button>'
            '<a class="reset" href="./">清除 Clear</a></div>',
            "</form>",
        ]
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


def _cell(key: str, zh: str, en: str, content: str) -> str:
    return f'<td class="{key}" data-label="{e(zh)} {e(en)}"><div class="v">{content}</div></td>'


def _row(record: dict) -> str:
    record = {key: record.get(key) for key in PUBLISHED}
    withheld = '<span class="none">（不公开）<span class="en" lang="en">withheld</span></span>'
    name = e(record["cadre_name"]) if record["cadre_name"] else withheld
    kind = record["decision_type"]  # a label (or, from older answers, its code)
    kind = (kind.get("zh"), kind.get("en")) if isinstance(kind, dict) else DECISION_TYPES.get(kind)
    decision = label_html(record["decision"])
    if record["form"]:
        form = label_html(record["form"])
        decision += f'<span class="form">形式 <span lang="en">form</span>: {form}</span>'
    if kind:
        decision = (
            f'<span class="kind">{e(kind[0])} <span class="en" lang="en">{e(kind[1])}</span>'
            f"</span> {decision}"
        )
    date = (
        f'<time datetime="{e(record["decided_on"])}">{e(record["decided_on"])}</time>'
        f'<span class="published">公布 <span lang="en">published</span>'
        f' <time datetime="{e(record["published_on"])}">{e(record["published_on"])}</time>'
        "</span>"
    )
    contents = {
        "name": name,
        "unit": e(record["unit"]) if record["unit"] else '<span class="none">—</span>',
        "post": e(record["post"]) if record["post"] else '<span class="none">—</span>',
        "category": label_html(record["category"], short=True),
        "situation": label_html(record["situation"]),
        "decision": decision,
        "summary": e(record["summary"]) if record["summary"] else withheld,
        "date": date,
    }
    cells = "".join(_cell(key, zh, en, contents[key]) for key, zh, en in COLUMNS)
    return f'<tr data-record-id="{e(record["record_id"])}">{cells}</tr>'


def _table(records: list[dict]) -> str:
    rows = "\n".join(_row(record) for record in records)
    return _bilingual_table("records", "问责结果 Accountability records", COLUMNS, rows)


def _bilingual_table(table_id: str, caption: str, columns, rows: str) -> str:
    """A table with its columns' Chinese and English headings, and ``rows`` as HTML."""
    head = "".join(
        f'<th scope="col" class="{key}">{e(zh)} <span class="en" lang="en">{e(en)}</span></th>'
        for key, zh, en in columns
    )
    return (
        f'<div class="table-wrap"><table id="{table_id}">'
        f'<caption class="visually-hidden">{e(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody></table></div>"
    )


def _empty() -> str:
    return (
        '<p id="empty" class="empty"><span lang="zh-CN">没有符合条件的记录。</span>'
        ' <span class="en" lang="en">No records match this query.</span></p>'
    )


def _pages(
    answer: dict, filters: dict, total: int, keys: tuple[str, ...] = QUERY_KEYS, base: str = "./"
) -> str:
    size = max(1, int(answer.get("page_size") or filters.get("page_size") or 1))
    page = max(1, int(answer.get("page") or filters.get("page") or 1))
    last = max(1, math.ceil(total / size))
    if last == 1 and page == 1:
        return ""

    def link(number: int, text: str, rel: str = "") -> str:
        attribute = f' rel="{rel}"' if rel else ""
        href = e(base + query_string(filters, keys, page=number))
        return f'<a href="{href}"{attribute} data-page="{number}">{text}</a>'

    items = []
    if page > 1:
        items.append(link(min(page - 1, last), "‹ 上一页 Previous", "prev"))
    shown = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    previous = 0
    for number in shown:
        if number - previous > 1:
            items.append('<span class="gap">…</span>')
        if number == page:
            items.append(f'<span aria-current="page" data-page="{number}">{number}</span>')
        else:
            items.append(link(number, str(number)))
        previous = number
    if page < last:
        items.append(link(page + 1, "下一页 Next ›", "next"))
    return (
        '<nav id="pages" class="pages" aria-label="分页 Pages">'
        f'<span class="where">第 {page} / {last} 页 <span class="en" lang="en">'
        f"page {page} of {last}</span></span>{''.join(items)}</nav>"
    )


def _bar_width(count: int, largest: int, room: float) -> float:
    if count <= 0 or largest <= 0:
        return 0.0
    return max(2.0, round(room * count / largest, 1))


def _chart(key: str, zh: str, en: str, entries: list[dict]) -> str:
    """One chart: a horizontal bar per entry, with its count at the bar's end and a tooltip.
    Labels sit above their bars, but a month's sits beside its bar."""
    monthly = key == "by_month"
    largest = max((int(entry.get("count") or 0) for entry in entries), default=0)
    parts = []
    y = 4
    for entry in entries:
        count = int(entry.get("count") or 0)
        if monthly:
            code = str(entry.get("month"))
            text = e(code)
            tip = f"{code} — {count}"
            x = MONTH_LABEL
            parts.append(f'<text class="label" x="0" y="{y + BAR_HEIGHT - 3}">{text}</text>')
            bar_y = y
            y += BAR_HEIGHT + ROW_GAP
        else:
            code = str(entry.get("code"))
            text = (
                f'<tspan class="zh">{e(entry.get("zh"))}</tspan>'
                f'<tspan class="en" dx="6">{e(short_en(entry))}</tspan>'
            )
            tip = f"{entry.get('zh')} {entry.get('en')} — {count}"
            x = 0
            parts.append(f'<text class="label" x="0" y="{y + 13}">{text}</text>')
            bar_y = y + LABEL_LINE
            y += LABEL_LINE + BAR_HEIGHT + ROW_GAP
        width = _bar_width(count, largest, CHART_WIDTH - x - COUNT_ROOM)
        extra = f' data-month="{e(code)}"' if monthly else ""
        parts.append(
            f'<rect class="bar" x="{x}" y="{bar_y}" width="{width}" height="{BAR_HEIGHT}"'
            f' rx="3" data-code="{e(code)}" data-count="{count}"{extra}>'
            f"<title>{e(tip)}</title></rect>"
        )
        parts.append(
            f'<text class="count" x="{x + width + 6}" y="{bar_y + BAR_HEIGHT - 3}">{count}</text>'
        )
    if not entries:
        parts.append('<text class="label" x="0" y="18">无数据 No data</text>')
        y = 30
    height = max(y, 30)
    title = f"{zh} {en}"
    return (
        f'<figure class="chart" id="chart-{key}">'
        f'<figcaption>{e(zh)} <span class="en" lang="en">{e(en)}</span></figcaption>'
        f'<svg data-chart="{key}" role="img" aria-label="{e(title)}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" width="{CHART_WIDTH}" height="{height}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{e(title)}</title>{''.join(parts)}</svg></figure>"
    )


CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --bg: #f6f8fa; --accent: #b42318;
  --bar: #c2410c; --card: #fff; color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); line-height: 1.5;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "PingFang SC",
  "Microsoft YaHei", "Source Han Sans SC", sans-serif; }
.en { color: var(--muted); font-size: .88em; }
.top { background: var(--accent); color: #fff; padding: 1.2rem 1rem 1rem; }
.top h1 { margin: 0 auto; max-width: 72rem; font-size: 1.5rem; font-weight: 650; }
.top .en { color: #fde7e4; font-weight: 400; font-size: .7em; display: inline-block; }
.top .lead { margin: .3rem auto 0; max-width: 72rem; color: #fff3f1; font-size: .92rem; }
.top .lead .en { color: #fde7e4; font-size: .9em; }
section.integrity .hash { word-break: break-all; font-size: .8em; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
.search { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(11rem, 1fr));
  align-items: end; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 1rem; }
.search .wide { grid-column: span 2; }
.field { display: flex; flex-direction: column; gap: .25rem; font-size: .9rem; }
.field .name { font-weight: 600; }
input, select, button { font: inherit; }
input[type=search], select { width: 100%; padding: .45rem .55rem; border: 1px solid #b7c0c9;
  border-radius: 6px; background: #fff; color: var(--ink); min-height: 2.4rem; }
.actions { display: flex; gap: .6rem; align-items: center; }
button { background: var(--accent); color: #fff; border: 0; border-radius: 6px;
  padding: .5rem 1.1rem; min-height: 2.4rem; cursor: pointer; font-weight: 600;
  white-space: nowrap; }
button:hover { background: #912018; }
.reset { color: var(--muted); white-space: nowrap; }
.count { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline;
  margin: 1rem 0 .5rem; }
.count strong { font-size: 1.25rem; color: var(--accent); }
.json { margin-left: auto; font-size: .85rem; }
a { color: #0b57a4; }
.table-wrap { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; vertical-align: top; padding: .6rem .7rem;
  border-bottom: 1px solid var(--line); }
th { background: #eef1f4; font-weight: 600; white-space: nowrap; }
tbody tr:last-child td { border-bottom: 0; }
tbody tr:nth-child(even) { background: #fafbfc; }
td.name { font-weight: 600; white-space: nowrap; }
td .en { display: block; }
td.category .en, td.decision .kind .en, td .form .en { display: inline; }
.kind { display: inline-block; font-size: .78rem; color: var(--muted);
  border: 1px solid var(--line); border-radius: 4px; padding: 0 .3rem; margin-bottom: .15rem; }
.form { display: block; margin-top: .2rem; font-size: .85rem; color: var(--muted); }
.form .zh { color: var(--ink); }
td.date { white-space: nowrap; }
td.summary { min-width: 12rem; }
.published { display: block; color: var(--muted); font-size: .8rem; }
.none { color: var(--muted); }
.empty { background: var(--card); border: 1px dashed #b7c0c9; border-radius: 8px;
  padding: 2rem 1rem; text-align: center; }
.pages { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; margin: 1rem 0; }
.pages a, .pages [aria-current] { padding: .3rem .65rem; border: 1px solid var(--line);
  border-radius: 6px; background: var(--card); text-decoration: none; }
.pages [aria-current] { background: var(--accent); color: #fff; border-color: var(--accent); }
.pages .where { margin-right: .5rem; color: var(--muted); font-size: .9rem; }
.charts h2 { font-size: 1.15rem; margin: 1.5rem 0 .6rem; }
.chart-grid { display: grid; gap: 1rem; align-items: start;
  grid-template-columns: repeat(auto-fit, minmax(17rem, 1fr)); }
.chart { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .8rem 1rem 1rem; }
.chart figcaption { font-weight: 600; margin-bottom: .5rem; }
.chart svg { display: block; width: 100%; height: auto; overflow: visible; }
.chart .bar { fill: var(--bar); }
.chart .bar:hover { fill: var(--accent); }
.chart text { font-size: 13px; fill: var(--ink); }
.chart text .en { fill: var(--muted); font-size: 11px; }
.chart .count { font-weight: 600; font-variant-numeric: tabular-nums; }
.note { color: var(--muted); font-size: .85rem; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
@media (max-width: 40rem) {
  .top h1 { font-size: 1.25rem; }
  .search .wide { grid-column: auto; }
  .json { margin-left: 0; }
  .table-wrap { background: none; border: 0; }
  table, thead, tbody, tr, td { display: block; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  tbody tr { background: var(--card) !important; border: 1px solid var(--line);
    border-radius: 8px; margin-bottom: .75rem; padding: .3rem 0; }
  td { border: 0; padding: .3rem .8rem; display: grid; grid-template-columns: 6.5rem 1fr;
    gap: .5rem; }
  td::before { content: attr(data-label); color: var(--muted); font-size: .8rem;
    font-weight: 400; }
  td.name, td.date { white-space: normal; }
}
"""


def _integrity(integrity: dict) -> str:
    rows = "".join(
        f'<tr data-log="{e(c["log"])}"><td>{e(c["log"])}</td><td>{int(c["position"])}</td>'
        f'<td class="hash"><code>{e(c["hash"])}</code></td><td>{e(c["signed_at"])}</td>'
        f"<td><code>{e(c['key_id'])}</code></td>"
        f'<td class="hash"><code>{e(c.get("signature") or "")}</code></td></tr>'
        for c in integrity.get("checkpoints") or []
    )
    keys = "".join(
        f'<li data-key-id="{e(k["id"])}"><code>{e(k["id"])}</code> Ed25519 '
        f'<code class="hash">{e(k["public_key"])}</code> <span lang="zh-CN">启用</span> '
        f"{e(k['since'])}"
        + (f' <span lang="zh-CN">停用</span> {e(k["retired_at"])}' if k.get("retired_at") else "")
        + "</li>"
        for k in integrity.get("keys") or []
    )
    return (
        '<section class="integrity" aria-labelledby="integrity-title">'
        '<h2 id="integrity-title"><span lang="zh-CN">日志签名</span>'
        ' <span class="en" lang="en">Signed log checkpoints</span></h2>'
        '<p class="note"><span lang="zh-CN">每条事件日志的最新签名检查点，可用于核验导出的日志'
        "（youwei audit verify --from）。</span>"
        ' <span class="en" lang="en">The latest signed checkpoint of each event log: check an'
        " export of the logs against them (youwei audit verify --from).</span></p>"
        '<table id="checkpoints"><thead><tr><th>log</th><th>position</th><th>hash</th>'
        f"<th>signed</th><th>key</th><th>signature</th></tr></thead><tbody>{rows}</tbody></table>"
        f'<ul id="signing-keys">{keys}</ul></section>'
    )


# --- the honour roll (宣传先进事迹): /honours ------------------------------------------------

HONOUR_TITLE_ZH = "有为 · 先进典型光荣榜"
HONOUR_TITLE_EN = "Honour roll of commended cadres"
HONOUR_KEYS = ("q", "kind", "month", "page", "page_size")
HONOUR_LINK = (
    '<nav class="site"><a id="to-honours" href="honours">光荣榜 <span lang="en">Honour roll'
    "</span></a></nav>"
)
RECORDS_LINK = (
    '<nav class="site"><a id="to-records" href="./">问责结果公开 <span lang="en">'
    "Accountability records</span></a></nav>"
)
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
HONOUR_CSS = """
nav.site { margin: .5rem auto 0; max-width: 72rem; font-size: .9rem; }
nav.site a { color: #fff; }
.top.honours { background: #a16207; }
td.citation { min-width: 14rem; }
"""


def render_honour_roll(answer: dict, charts: dict, filters: dict, options: dict) -> str:
    """The honour roll for one query: ``answer`` (a page of honours and their total),
    ``charts`` (counts over all honours that match: by kind, by month), ``filters`` and
    ``options`` (the kinds and months of the search form). Only ``HONOUR_FIELDS`` are read.
    Hooks for tests: ``#total``, ``#honours`` (``tr[data-honour-id]``, cells ``td.<column>``
    as ``HONOUR_COLUMNS`` names them: ``td.commendation`` the kind), ``#empty``,
    ``svg[data-chart=by_kind|by_month]``, ``nav#pages``, ``a#json`` and ``a#to-records``."""
    honours = answer.get("honours") or []
    total = int(answer.get("total") or 0)
    json_href = "honours.json" + query_string(filters, HONOUR_KEYS)
    months = [(str(month), e(month)) for month in options.get("months") or []]
    keep_size = filters.get("page_size")
    hidden = f'<input type="hidden" name="page_size" value="{e(keep_size)}">' if keep_size else ""
    form = "\n".join(
        [
            '<form class="search" method="get" action="honours" role="search">',
            '<label class="field wide"><span class="name">关键词 <span class="en" lang="en">'
            "Name, unit or post</span></span>"
            f'<input type="search" name="q" value="{e(filters.get("q"))}"'
            ' placeholder="姓名、单位或职务 name, unit or post"></label>',
            _select("kind", "表彰类别", "Commendation", _label_choices(options.get("kinds")),
                    filters.get("kind")),
            _select("month", "月份", "Month", months, filters.get("month")),
            hidden,
            '<div class="actions"><button type="submit">查询 Search</button>'
            '<a class="reset" href="honours">清除 Clear</a></div>',
            "</form>",
        ]
    )  # fmt: skip
    body = "\n".join(
        [
            '<header class="top honours">',
            f'<h1><span lang="zh-CN">{e(HONOUR_TITLE_ZH)}</span>'
            f' <span class="en" lang="en">{e(HONOUR_TITLE_EN)}</span></h1>',
            '<p class="lead"><span lang="zh-CN">宣传先进事迹：受到表彰的干部及其公开的事迹，'
            "与问责结果一并公开。</span>"
            ' <span class="en" lang="en">Model cadres commended and their deeds, published'
            " beside the accountability results.</span></p>",
            RECORDS_LINK,
            "</header>",
            "<main>",
            form,
            '<p class="count">'
            f'<span lang="zh-CN">共 <strong id="total" data-total="{total}">{total}</strong>'
            " 人次</span>"
            f' <span class="en" lang="en">{total} commendation{"" if total == 1 else "s"}'
            " found</span>"
            f'<a id="json" class="json" href="{e(json_href)}" type="application/json">'
            "JSON 数据 · JSON</a></p>",
            _honour_table(honours) if honours else _honour_empty(),
            _pages(answer, filters, total, HONOUR_KEYS, "honours"),
            '<section class="charts" aria-labelledby="charts-title">',
            '<h2 id="charts-title"><span lang="zh-CN">统计</span>'
            ' <span class="en" lang="en">Charts</span></h2>',
            '<div class="chart-grid">',
            *(_chart(key, zh, en, charts.get(key) or []) for key, zh, en in HONOUR_CHARTS),
            "</div>",
            "</section>",
            "</main>",
        ]
    )  # fmt: skip
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "base-uri 'none'\">\n"
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{e(HONOUR_TITLE_ZH)} / {e(HONOUR_TITLE_EN)}</title>\n"
        f'<link rel="alternate" type="application/json" href="{e(json_href)}">\n'
        f"<style>{CSS}{HONOUR_CSS}</style>\n"
        "</head>\n<body>\n"
        f"{body}\n"
        "</body>\n</html>\n"
    )


def _honour_row(honour: dict) -> str:
    honour = {key: honour.get(key) for key in HONOUR_FIELDS}
    withheld = '<span class="none">（不公开）<span class="en" lang="en">withheld</span></span>'
    none = '<span class="none">—</span>'
    date = (
        f'<time datetime="{e(honour["commended_on"])}">{e(honour["commended_on"])}</time>'
        f'<span class="published">公布 <span lang="en">published</span>'
        f' <time datetime="{e(honour["published_on"])}">{e(honour["published_on"])}</time>'
        "</span>"
    )
    contents = {
        "name": e(honour["cadre_name"]) if honour["cadre_name"] else withheld,
        "unit": e(honour["unit"]) if honour["unit"] else none,
        "post": e(honour["post"]) if honour["post"] else none,
        "commendation": label_html(honour["kind"]),
        "citation": e(honour["citation"]) if honour["citation"] else withheld,
        "date": date,
    }
    cells = "".join(_cell(key, zh, en, contents[key]) for key, zh, en in HONOUR_COLUMNS)
    return f'<tr data-honour-id="{e(honour["honour_id"])}">{cells}</tr>'


def _honour_table(honours: list[dict]) -> str:
    rows = "\n".join(_honour_row(honour) for honour in honours)
    return _bilingual_table("honours", "光荣榜 Honour roll", HONOUR_COLUMNS, rows)


def _honour_empty() -> str:
    return (
        '<p id="empty" class="empty"><span lang="zh-CN">没有符合条件的表彰。</span>'
        ' <span class="en" lang="en">No commendations match this query.</span></p>'
    )
