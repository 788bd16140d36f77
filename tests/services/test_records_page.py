"""The public accountability page as HTML, on the pure renderer (``services.records.page``):
escaping, links that keep the query, the empty state, the charts, and nothing private."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest

from services.records.page import query_string, render_page
from tests.services.records_page_sample import (
    PRIVATE,
    RECORDS,
    SCRIPT_NAME,
    SCRIPT_UNIT,
    page_for,
)

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)


class Elements(HTMLParser):
    """Every start tag of a document with its attributes, and the text of the document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and all(attrs.get(key) == value for key, value in wanted.items())
        ]


def rendered(query: dict | None = None, records: list[dict] = RECORDS) -> str:
    return render_page(*page_for(query or {}, records))


def test_a_complete_self_contained_document() -> None:
    html = rendered()
    assert html.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    page = Elements(html)
    assert page.all("meta", charset="utf-8")
    assert "有为 · 问责结果公开 / Public accountability records" in html
    # No resource from anywhere: no script, no external stylesheet, font or image.
    for tag in ("script", "img", "iframe", "object", "embed"):
        assert page.all(tag) == []
    assert [a for a in page.all("link") if a.get("rel") == "stylesheet"] == []
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html and "url(" not in html
    csp = page.all("meta", **{"http-equiv": "Content-Security-Policy"})[0]["content"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_data_is_escaped() -> None:
    html = rendered()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;王五" in html
    assert "<img" not in html
    page = Elements(html)
    assert SCRIPT_NAME in "".join(page.text)
    assert SCRIPT_UNIT in "".join(page.text)
    row = page.all("tr", **{"data-record-id": "r-003"})
    assert len(row) == 1


def test_an_escaped_query_stays_in_the_form_and_the_links() -> None:
    html = rendered({"q": '"><script>x</script>', "page_size": "1"})
    assert "<script>" not in html
    page = Elements(html)
    assert page.all("input", name="q")[0]["value"] == '"><script>x</script>'


def test_nothing_private_is_shown() -> None:
    html = rendered()
    for private in PRIVATE:
        assert private not in html


def test_the_table_has_a_row_per_record_with_labels_in_both_languages() -> None:
    page = Elements(rendered())
    assert page.all("table", id="records")
    ids = [attrs["data-record-id"] for attrs in page.all("tr") if "data-record-id" in attrs]
    assert sorted(ids) == sorted(r["record_id"] for r in RECORDS)
    html = rendered()
    assert '<span class="zh" lang="zh-CN">懒</span> <span class="en" lang="en">laziness</span>' in (
        html
    )
    assert "诫勉谈话" in html and "admonishment talk" in html
    assert "（不公开）" in html  # a record whose name is withheld
    for column in ("姓名", "单位", "职务", "类别", "情形", "处理", "公布内容", "日期"):
        assert column in html
    total = page.all("strong", id="total")[0]
    assert total["data-total"] == str(len(RECORDS))


def test_each_row_shows_the_text_published_for_the_public() -> None:
    html = rendered()
    cells = re.findall(r'<tr data-record-id="([^"]+)">.*?<td class="summary"[^>]*>(.*?)</td>', html)
    assert [record_id for record_id, _ in cells] == [
        r["record_id"] for r in sorted(RECORDS, key=lambda r: r["decided_on"], reverse=True)
    ]
    shown = dict(cells)
    assert shown["r-001"] == '<div class="v">对玉溪市红塔区住建局副局长张三同志予以约谈</div>'
    assert "（不公开）" in shown["r-007"]  # none: withheld with the erased name
    assert "<script>" not in shown["r-003"] and "&lt;script&gt;" in shown["r-003"]
    assert "公布内容" in html and "As published" in html


def test_query_string_keeps_the_filters_and_applies_changes() -> None:
    filters = {"q": "水务 局", "category": "laziness", "decision": None, "month": "2026-03",
               "page": 3, "page_size": 20}  # fmt: skip
    link = query_string(filters, page=4)
    assert link.startswith("?")
    assert parse_qsl(link[1:]) == [
        ("q", "水务 局"), ("category", "laziness"), ("month", "2026-03"),
        ("page", "4"), ("page_size", "20"),
    ]  # fmt: skip
    assert "page=" not in query_string(filters, page=1)
    assert query_string({"q": None, "page": 1}) == ""
    assert query_string({"q": "", "month": None}) == ""


def test_pagination_and_json_links_keep_the_filters() -> None:
    query = {"q": "局", "month": "2026-03", "page_size": "2"}
    page = Elements(rendered(query))
    links = [a["href"] for a in page.all("a") if a.get("data-page")]
    assert links, "more than one page of records"
    for href in links:
        url = urlsplit(href)
        assert url.path == "./"
        got = dict(parse_qsl(url.query))
        assert got["q"] == "局" and got["month"] == "2026-03" and got["page_size"] == "2"
    assert {a["rel"] for a in page.all("a") if a.get("rel")} == {"next"}
    json_link = page.all("a", id="json")[0]["href"]
    assert urlsplit(json_link).path == "records.json"
    assert dict(parse_qsl(urlsplit(json_link).query)) == query
    form = page.all("form")[0]
    assert form["method"] == "get" and form["action"] == "./"
    assert {a["name"] for a in page.all("input") + page.all("select")} >= {
        "q", "category", "decision", "month",
    }  # fmt: skip
    assert page.all("input", name="page_size")[0]["value"] == "2"
    assert "selected" in page.all("option", value="2026-03")[0]


def test_the_last_page_links_back_and_not_on() -> None:
    page = Elements(rendered({"page_size": "3", "page": "4"}))
    assert {a["rel"] for a in page.all("a") if a.get("rel")} == {"prev"}
    current = [s for s in page.all("span") if s.get("aria-current") == "page"]
    assert current[0]["data-page"] == "4"


def test_one_page_needs_no_pagination() -> None:
    assert 'id="pages"' not in rendered()


def test_no_records_shows_the_empty_state() -> None:
    html = rendered({"q": "无此人"})
    page = Elements(html)
    assert page.all("p", id="empty")
    assert not page.all("table", id="records")
    assert page.all("strong", id="total")[0]["data-total"] == "0"
    assert "没有符合条件的记录" in html and "No records match" in html
    assert rendered(records=[]).count('id="empty"') == 1


def test_each_chart_has_one_bar_per_entry_with_its_count() -> None:
    html = rendered()
    _, charts, _, _ = page_for({})
    bars = re.findall(r'<svg data-chart="(\w+)"(.*?)</svg>', html, re.S)
    assert [key for key, _ in bars] == ["by_category", "by_decision", "by_month"]
    for key, svg in bars:
        page = Elements(f"<svg{svg}</svg>")
        rects = page.all("rect")
        entries = charts[key]
        assert len(rects) == len(entries) > 0
        for rect, entry in zip(rects, entries, strict=True):
            assert rect["data-count"] == str(entry["count"])
            assert rect["data-code"] == entry.get("code", entry.get("month"))
            assert float(rect["width"]) > 0 and float(rect["height"]) > 0
        counts = re.findall(r'<text class="count"[^>]*>(\d+)</text>', svg)
        assert counts == [str(entry["count"]) for entry in entries]
        assert svg.count("<title>") == len(entries) + 1  # one per bar, one for the chart
    # The longest bar is the largest count.
    by_month = re.search(r'<svg data-chart="by_month".*?</svg>', html, re.S).group(0)
    widths = {
        int(count): float(width)
        for width, count in re.findall(
            r'width="([\d.]+)" height="16"[^>]*data-count="(\d+)"', by_month
        )
    }
    assert widths[max(widths)] == max(widths.values())


def test_charts_escape_their_labels_and_show_an_empty_chart() -> None:
    answer = {"total": 0, "page": 1, "page_size": 20, "records": []}
    charts = {
        "by_category": [{"code": "x<y", "zh": "<b>懒</b>", "en": "a & b", "count": 2}],
        "by_decision": [],
        "by_month": [{"month": "2026-03", "count": 0}],
    }
    filters = {"q": None, "category": None, "decision": None, "month": None, "page": 1,
               "page_size": 20}  # fmt: skip
    html = render_page(answer, charts, filters, {"categories": [], "decisions": [], "months": []})
    assert "<b>" not in html and "&lt;b&gt;懒&lt;/b&gt;" in html
    assert 'data-code="x&lt;y"' in html and "a &amp; b" in html
    decisions = re.search(r'<svg data-chart="by_decision".*?</svg>', html, re.S).group(0)
    assert "<rect" not in decisions and "无数据" in decisions
    months = re.search(r'<svg data-chart="by_month".*?</svg>', html, re.S).group(0)
    assert 'width="0.0"' in months and 'data-count="0"' in months


def test_the_checkpoints_say_how_to_check_against_them() -> None:
    """Issue 26: the page said `verify --from` where it means `--against` what one kept."""
    checkpoint = {"log": "accountability_events", "position": 5, "hash": "ab" * 32,
                  "signed_at": "2026-12-01T00:00:00.000Z", "key_id": "0123456789abcdef",
                  "signature": "cd" * 64}  # fmt: skip
    html = render_page(*page_for({}, RECORDS), {"checkpoints": [checkpoint], "keys": []})
    assert "youwei audit verify --trust KEY_ID --against records.json" in html
    assert "--from" not in html
