"""The key work's public page in a real browser (headless Chromium, ``tests.browser``):
``render_key_work`` for sample shares (projection documents made public by
``keywork.public_share``, as the records service does), served by a small local HTTP server
that answers ``keywork?q=…`` as the service does. The service's own answers are tested over
the real stack in test_key_work_page.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest

from schemas.common import label
from schemas.inspections.chain import TARGET_OUTCOMES
from services.records.keywork import public_share, public_targets, share_id
from services.records.keywork_page import render_key_work
from tests.browser import SamplePage, fonts_used, sample_site, tofu

pytestmark = pytest.mark.browser
TODAY = "2026-09-15"


def document(task: str, title: str, owner: str | None, targets: dict, reports: dict,
             milestones: dict, outcomes: dict | None = None) -> dict:  # fmt: skip
    """A share as the projection stores it (``services.records.keywork``)."""
    share = {"_id": task, "kind": "key_work_share", "title": title, "owner_name": owner,
             "unit": "市人民政府", "post": "副市长", "assigned_on": "2026-02-01",
             "targets": targets, "reports": reports, "milestones": milestones,
             "outcomes": outcomes or {}, "share_id": share_id(task)}  # fmt: skip
    share["public_targets"] = public_targets(share)
    return share


def report(target: str, value: float, on: str, order: int, counts: bool = True) -> dict:
    return {"target_id": target, "value": value, "on": on, "order": order, "counts": counts}


SHARES = [
    document(
        "t-1", "七位一体重点工作：项目建设", "王建国",
        {"a": {"indicator": "重点项目开工", "unit": "个", "target_value": 40,
               "due_on": "2026-12-31"}},
        {"r1": report("a", 39, "2026-05-01", 0, counts=False),  # disputed
         "r2": report("a", 12, "2026-05-02", 1), "r3": report("a", 22, "2026-08-30", 2)},
        {"m1": {"target_id": "a", "title": "二季度开工过半", "value": 20,
                "due_on": "2026-06-30", "overdue_on": "2026-07-01"}},
    ),
    document(
        "t-2", "七位一体重点工作：优化营商环境", "李红梅",
        {"b": {"indicator": "审批时限压缩", "unit": "%", "target_value": 50,
               "due_on": "2026-08-31"}},
        {"r4": report("b", 55, "2026-08-20", 0)},
        {"m2": {"target_id": "b", "title": "上半年压缩三成", "value": 30,
                "due_on": "2026-06-30", "overdue_on": None}},
    ),
    document(
        "t-3", "七位一体重点工作：乡村振兴", None,  # the owner's name erased
        {"c": {"indicator": "高标准农田", "unit": "万亩", "target_value": 10,
               "due_on": "2026-06-30"}},
        {}, {},
    ),
]  # fmt: skip


def answer_for(query: dict) -> tuple[dict, dict, dict]:
    q = query.get("q") or ""
    searched = ("title", "owner_name", "unit", "post")
    found = [s for s in SHARES if not q or any(q in (s.get(k) or "") for k in searched)]
    shares = [public_share(s, TODAY) for s in sorted(found, key=lambda s: s["title"])]
    outcomes = Counter(t["outcome"]["code"] for s in shares for t in s["targets"])
    months = Counter(t["due_on"][:7] for s in shares for t in s["targets"])
    charts = {
        "by_outcome": [
            {**label(TARGET_OUTCOMES, c), "count": outcomes[c]} for c in TARGET_OUTCOMES
        ],
        "by_month": [{"month": m, "count": n} for m, n in sorted(months.items())],
    }
    answer = {"total": len(shares), "page": 1, "page_size": 20, "shares": shares}
    return answer, charts, {"q": q or None, "page": 1, "page_size": None}


class SampleSite(SamplePage):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/keywork":
            self.send_error(404)
            return
        self.send(render_key_work(*answer_for(dict(parse_qsl(url.query)))).encode())


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with sample_site(SampleSite, "/keywork") as url:
        yield url


def test_the_key_work_page_shows_owners_targets_progress_and_due_dates(site, browser_page) -> None:
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(site)
    assert page.title() == "有为 · 重点工作进展 / Progress of the city's key work"
    assert page.locator("#total").inner_text() == "3"
    rows = page.locator("#shares tbody tr[data-share-id]")
    assert rows.count() == 3
    building = page.locator(f'tr[data-share-id="{share_id("t-1")}"]')
    assert building.locator("td.name").inner_text() == "王建国"
    assert building.locator("td.post").inner_text() == "副市长"
    target = building.locator("li.target")
    assert "22 / 40 个" in target.inner_text()  # the disputed 39 does not count
    assert "39" not in building.inner_text()
    assert "2026-12-31" in target.locator(".due").inner_text()
    done = target.locator("svg.progress rect.done")
    assert done.get_attribute("data-percent") == "55.0"
    track = target.locator("svg.progress rect.track").bounding_box()
    bar = done.bounding_box()
    assert track and bar and abs(bar["width"] / track["width"] - 0.55) < 0.02
    milestone = target.locator("li.milestone")
    assert milestone.get_attribute("data-state") == "overdue"
    assert "已逾期" in milestone.inner_text() and "2026-07-01" in milestone.inner_text()

    business = page.locator(f'tr[data-share-id="{share_id("t-2")}"]')
    assert business.locator("li.target").get_attribute("data-outcome") == "met_on_time"
    assert business.locator("li.milestone").get_attribute("data-state") == "pending"
    full = business.locator("rect.done").bounding_box()
    assert full and track and abs(full["width"] - track["width"]) < 1  # 110% fills the bar
    erased = page.locator(f'tr[data-share-id="{share_id("t-3")}"]')
    assert "不公开" in erased.locator("td.name").inner_text()
    assert erased.locator("li.target").get_attribute("data-outcome") == "missed"

    for code, count in (("in_progress", "1"), ("met_on_time", "1"), ("missed", "1")):
        rect = page.locator(f'svg[data-chart=by_outcome] rect[data-code="{code}"]')
        assert rect.get_attribute("data-count") == count
        box = rect.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0
    assert page.locator("svg[data-chart=by_month] rect").count() == 3
    han, boxes = tofu(page.locator("#shares td.title .v").first)
    assert han and boxes == [], fonts_used(page, "#shares td.title .v")
    assert page.locator("script").count() == 0 and errors == []

    page.fill("input[name=q]", "营商")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "q=" in page.url and page.input_value("input[name=q]") == "营商"
    assert page.locator("#shares tbody tr").count() == 1
    assert page.locator("#total").inner_text() == "1"
    page.fill("input[name=q]", "无此工作")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.locator("#empty").count() == 1 and page.locator("#shares").count() == 0
    page.goto(site)
    page.set_viewport_size({"width": 375, "height": 800})  # on a phone: nothing wider
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
