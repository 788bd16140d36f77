"""The public accountability page in a real browser (headless Chromium, ``tests.browser``):
``render_page`` for sample records, served by a small local HTTP server that answers the
page's query string the way the records service will (``records_page_sample.page_for``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from services.records.page import render_page
from tests.browser import SamplePage, fonts_used, sample_site, tofu
from tests.services.records_page_sample import (
    PRIVATE,
    RECORDS,
    SCRIPT_NAME,
    SCRIPT_UNIT,
    filters_from,
    matching,
    page_for,
)

pytestmark = pytest.mark.browser


class SampleSite(SamplePage):
    """``/`` is the page, ``/records.json`` its JSON, both for the query string."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        answer, charts, filters, options = page_for(query)
        if url.path == "/":
            body = render_page(answer, charts, filters, options).encode()
            kind = "text/html; charset=utf-8"
        elif url.path == "/records.json":
            body = json.dumps({**answer, "charts": charts}, ensure_ascii=False).encode()
            kind = "application/json; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send(body, kind)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with sample_site(SampleSite) as url:
        yield url


@pytest.fixture
def page(browser_page, site):
    """The page at the site, with every dialog and script error recorded (and dismissed)."""
    browser_page.dialogs = []
    browser_page.errors = []
    browser_page.on("dialog", lambda d: (browser_page.dialogs.append(d.message), d.dismiss()))
    browser_page.on("pageerror", lambda error: browser_page.errors.append(str(error)))
    browser_page.goto(site)
    return browser_page


def shown_ids(page) -> list[str]:
    return page.locator("#records tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.recordId)"
    )


def test_the_table_shows_the_records_newest_first(page) -> None:
    assert page.title() == "有为 · 问责结果公开 / Public accountability records"
    assert page.locator("#total").inner_text() == str(len(RECORDS))
    newest_first = sorted(RECORDS, key=lambda r: r["decided_on"], reverse=True)
    assert shown_ids(page) == [r["record_id"] for r in newest_first]
    row = page.locator('tr[data-record-id="r-001"]')
    assert row.locator("td.name").inner_text() == "张三"
    assert row.locator("td.unit").inner_text() == "玉溪市红塔区住建局"
    assert "懒" in row.locator("td.category").inner_text()
    assert "laziness" in row.locator("td.category").inner_text()
    assert "约谈" in row.locator("td.decision").inner_text()
    assert "2026-01-12" in row.locator("td.date").inner_text()
    assert row.locator("td.summary").inner_text() == RECORDS[0]["summary"]
    withheld = page.locator('tr[data-record-id="r-007"] td.name').inner_text()
    assert "不公开" in withheld
    assert "不公开" in page.locator('tr[data-record-id="r-007"] td.summary').inner_text()


def test_the_chinese_text_is_drawn_in_a_cjk_font(page) -> None:
    """Chinese glyphs, not boxes ("tofu"): every Han character of the title, a record, a form
    label and a chart's labels draws unlike a character no font has."""
    for selector in (
        "h1 span[lang=zh-CN]",
        'tr[data-record-id="r-001"] td.unit .v',
        "form .field .name",
        'svg[data-chart="by_category"] text.label',
    ):
        han, boxes = tofu(page.locator(selector).first)
        assert han, selector
        assert boxes == [], (selector, boxes, fonts_used(page, selector))


def test_data_is_shown_as_text_and_runs_no_script(page) -> None:
    row = page.locator('tr[data-record-id="r-003"]')
    assert row.locator("td.name").inner_text() == SCRIPT_NAME
    assert row.locator("td.unit").inner_text() == SCRIPT_UNIT
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.dialogs == []
    assert page.errors == []
    text = page.locator("body").inner_text()
    for private in PRIVATE:
        assert private not in text
        assert private not in page.content()


def test_each_chart_draws_one_visible_bar_per_entry(page) -> None:
    _, charts, _, _ = page_for({})
    for key, entries in charts.items():
        chart = page.locator(f'svg[data-chart="{key}"]')
        assert chart.is_visible()
        bars = chart.locator("rect")
        assert bars.count() == len(entries) > 0
        for index, entry in enumerate(entries):
            bar = bars.nth(index)
            box = bar.bounding_box()
            assert box is not None and box["width"] > 0 and box["height"] > 0, (key, entry)
            assert bar.get_attribute("data-count") == str(entry["count"])
            assert bar.get_attribute("data-code") == entry.get("code", entry.get("month"))
        shown = chart.locator("text.count").all_text_contents()
        assert shown == [str(entry["count"]) for entry in entries]
    widths = {
        bar.get_attribute("data-count"): bar.bounding_box()["width"]
        for bar in page.locator('svg[data-chart="by_month"] rect').all()
    }
    assert widths[str(max(e["count"] for e in charts["by_month"]))] == max(widths.values())


def test_the_form_submits_the_filters_and_keeps_them(page, site) -> None:
    page.fill('input[name="q"]', "局")
    page.select_option('select[name="category"]', "laziness")
    with page.expect_navigation():
        page.click('button[type="submit"]')
    query = dict(parse_qsl(urlsplit(page.url).query))
    assert query["q"] == "局" and query["category"] == "laziness"
    expected = matching(RECORDS, filters_from(query))
    assert len(expected) < len(RECORDS)
    assert page.locator("#total").inner_text() == str(len(expected))
    assert sorted(shown_ids(page)) == sorted(r["record_id"] for r in expected)
    assert page.input_value('input[name="q"]') == "局"
    assert page.input_value('select[name="category"]') == "laziness"
    category_bars = page.locator('svg[data-chart="by_category"] rect')
    assert category_bars.count() == 1
    assert category_bars.get_attribute("data-count") == str(len(expected))

    page.select_option('select[name="category"]', "")
    page.select_option('select[name="month"]', "2026-03")
    with page.expect_navigation():
        page.click('button[type="submit"]')
    in_march = [r for r in RECORDS if r["decided_on"].startswith("2026-03") and "局" in r["unit"]]
    assert page.locator("#total").inner_text() == str(len(in_march))
    assert [r.get_attribute("data-month") for r in page.locator("svg rect[data-month]").all()] == [
        "2026-03"
    ]


def test_pages_and_the_json_link_keep_the_filters(page, site) -> None:
    page.goto(site + "?decision=talk&page_size=2")
    talks = [r for r in RECORDS if r["decision"]["code"] == "talk"]
    assert len(talks) == 3
    assert page.locator("#records tbody tr").count() == 2
    with page.expect_navigation():
        page.click('nav#pages a[rel="next"]')
    query = dict(parse_qsl(urlsplit(page.url).query))
    assert query == {"decision": "talk", "page": "2", "page_size": "2"}
    assert page.locator("#records tbody tr").count() == 1
    assert page.input_value('select[name="decision"]') == "talk"

    response = page.request.get(page.locator("a#json").evaluate("a => a.href"))
    data = response.json()
    assert data["total"] == 3 and data["page"] == 2
    assert [r["record_id"] for r in data["records"]] == shown_ids(page)


def test_no_records_shows_the_empty_state(page, site) -> None:
    page.goto(site + "?q=%E6%97%A0%E6%AD%A4%E4%BA%BA")  # 无此人
    assert page.locator("#total").inner_text() == "0"
    assert page.locator("#records").count() == 0
    assert "没有符合条件的记录" in page.locator("#empty").inner_text()
    assert page.locator('svg[data-chart="by_category"] rect').count() == 0


def test_on_a_phone_nothing_is_wider_than_the_screen(page, site) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(site)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    cell = page.locator('tr[data-record-id="r-001"] td.unit').bounding_box()
    assert cell is not None and cell["width"] < 375
    for key in ("by_category", "by_decision", "by_month"):
        box = page.locator(f'svg[data-chart="{key}"]').bounding_box()
        assert box is not None and 0 < box["width"] <= 375
