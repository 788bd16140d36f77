"""The public page in a real browser, served by the records service over the real stack:
the five services as ``nameko run`` processes (a browser cannot run beside nameko
containers under eventlet: tests/browser.py), fed the scripted year of tests/services/
test_records.py over RPC."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import date

import pytest

from events.audit.checkpoints import new_private_key_pem
from events.identity.agency import IdentifiedClusterRpcProxy
from events.web.public import SECURITY_HEADERS
from schemas.events import LOGS
from schemas.records import HONOUR_FIELDS
from tests.browser import fonts_used, tofu
from tests.events.support import fresh_database_name
from tests.processes import ServiceProcess
from tests.services.support import command
from tests.services.test_inspections_rpc import wait_for
from tests.services.test_records import CITATION, PRIVATE, script
from youwei.ports import free_port

pytestmark = [pytest.mark.processes, pytest.mark.browser]
SERVICES = ("cadre_registry", "evaluations", "inspections", "accountability", "records")


def restart(processes: list[ServiceProcess], today: date) -> None:
    """The services again, their today moved on (``YOUWEI_TODAY``)."""
    for process in processes:
        process.kill()
    for process in processes:
        process.env["YOUWEI_TODAY"] = today.isoformat()
        process.start()


@pytest.fixture(scope="module")
def site(rabbit_config_module, mongodb_uri, tmp_path_factory):
    """The page's address, once the year is in the logs and published."""
    port = free_port()
    env = {
        "AMQP_URI": rabbit_config_module["AMQP_URI"],
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DATABASE": fresh_database_name(),
        "YOUWEI_TODAY": date(2026, 3, 10).isoformat(),
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "PROJECTIONS_POLL_SECONDS": "0.2",
        "EVENT_RETRY_DELAYS": "[0.2, 0.5]",
    }
    folder = tmp_path_factory.mktemp("services")
    (folder / "signing.pem").write_bytes(new_private_key_pem())
    env.update(AUDIT_SIGNING_KEY_FILE=str(folder / "signing.pem"), AUDIT_CHECKPOINT_SECONDS="0.5")
    processes = [
        ServiceProcess(name=name, module=f"services.{name}.service", env=env,
                       pid_file=folder / f"{name}.pid", log_file=folder / f"{name}.log")
        for name in SERVICES
    ]  # fmt: skip
    try:
        for process in processes:
            process.start()
        with IdentifiedClusterRpcProxy({"AMQP_URI": env["AMQP_URI"]}, timeout=60) as rpc:
            cadres = script(rpc, lambda day: restart(processes, day))
            # a personnel file read: the records service's access record has an event to sign
            rpc.records.personnel_file({"cadre_id": cadres["li"]})
            wait_for(lambda: rpc.records.public_records({})["total"] == 1)
            wait_for(lambda: rpc.records.honour_roll({})["total"] == 1)
            key_work(rpc, f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/"
    finally:
        for process in processes:
            process.kill()


#: What the key work's page never shows: an evidence reference, a dispute's reason.
KEY_WORK_PRIVATE = ("交通局内部台账第3号", "数据重复计入上季度")


def key_work(rpc, site: str) -> None:
    """A city leader's key-work share: a target and a milestone, a report disputed (with its
    reason), one verified; on the city's today after the scripted year (2026-12-15)."""
    registry, inspections = rpc.cadre_registry, rpc.inspections
    unit = registry.register_unit(command(name="市人民政府"))["unit_id"]
    leader = registry.register_cadre(
        command(name="周建华", gender="male", birth_date="1968-02-02", unit_id=unit,
                post="副市长", rank="city_level", post_kind="leadership",
                effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    task = registry.assign_responsibility(
        command(kind="key_work_share", title="七位一体重点工作：交通建设", owner_id=leader,
                effective_date="2026-02-01")
    )["task_id"]  # fmt: skip
    goal = inspections.set_task_target(
        command(task_id=task, indicator="农村公路新改建", unit="公里", target_value=200,
                due_on="2026-12-31", reason="分解", set_on="2026-03-01")
    )["target_id"]  # fmt: skip
    inspections.set_task_milestone(
        command(task_id=task, target_id=goal, title="三季度过半", value=100,
                due_on="2026-09-30", reason="节点", set_on="2026-03-01")
    )  # fmt: skip

    def report(value: float, on: str) -> str:
        return inspections.report_progress(
            command(task_id=task, target_id=goal, value=value, reported_on=on,
                    evidence=[KEY_WORK_PRIVATE[0]], frontline=[])
        )["report_id"]  # fmt: skip

    claimed = report(177, "2026-08-01")
    inspections.dispute_progress_report(
        command(task_id=task, report_id=claimed, reason=KEY_WORK_PRIVATE[1],
                disputed_on="2026-08-05")
    )  # fmt: skip
    inspections.verify_progress_report(
        command(task_id=task, report_id=report(120, "2026-09-20"), verified_on="2026-09-22")
    )
    wait_for(lambda: '"reached": 120' in fetch(site + "keywork.json")[1])


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_page_shows_what_is_published_and_filters_by_category(site, browser_page) -> None:
    page = browser_page
    page.goto(site)
    rows = page.locator("#records tbody tr[data-record-id]")
    assert rows.count() == 1
    assert "李明" in rows.first.inner_text() and "市交通运输局" in rows.first.inner_text()
    assert "混 muddling" in rows.first.inner_text().replace("\n", " ")
    assert rows.first.locator("td.summary").inner_text() == "诫勉谈话"  # publish_result's text
    text = page.locator("body").inner_text()
    assert "王芳" not in text  # published, then withdrawn
    assert "赵强" not in text  # published, then revoked on appeal

    page.select_option("select[name=category]", "mediocrity")
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").first.click()
    assert "category=mediocrity" in page.url
    assert page.locator("#records tbody tr[data-record-id]").count() == 0
    assert page.locator("#total").inner_text().strip().startswith("0")

    page.select_option("select[name=category]", "muddling")
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").first.click()
    assert page.locator("#records tbody tr[data-record-id]").count() == 1


def test_the_charts_render(site, browser_page) -> None:
    page = browser_page
    page.goto(site)
    for chart in ("by_category", "by_decision", "by_month"):
        svg = page.locator(f"svg[data-chart={chart}]")
        assert svg.count() == 1, chart
        counted = {bar.get_attribute("data-count") for bar in svg.locator("rect[data-count]").all()}
        assert "1" in counted, (chart, counted)
        for bar in svg.locator("rect[data-count]").all():
            if bar.get_attribute("data-count") != "0":
                box = bar.bounding_box()
                assert box is not None and box["width"] > 0 and box["height"] > 0, chart
    muddling = page.locator("svg[data-chart=by_category] rect[data-code=muddling]")
    assert muddling.get_attribute("data-count") == "1"


def test_no_private_field_appears_in_the_html_or_the_json(site) -> None:
    status, html = fetch(site)
    assert status == 200 and "李明" in html
    status, body = fetch(site + "records.json")
    answer = json.loads(body)
    assert status == 200 and answer["total"] == 1
    assert answer["records"][0]["summary"] == "诫勉谈话"
    for text in (html, body):
        assert [word for word in PRIVATE if word in text] == []
    status, body = fetch(site + "records.json?category=sloth")
    assert status == 400 and list(json.loads(body)["fields"]) == ["category"]
    status, body = fetch(site + "?page=x")
    assert status == 400
    assert json.loads(body)["fields"] == {"page": ["must be an integer (digits 0-9)"]}


def test_the_page_shows_each_logs_latest_signed_checkpoint(site, browser_page) -> None:
    def signed() -> dict | None:
        integrity = json.loads(fetch(site + "records.json")[1])["integrity"]
        return integrity if len(integrity["checkpoints"]) == len(LOGS) else None

    integrity = wait_for(signed)
    [key] = integrity["keys"]
    assert {c["log"] for c in integrity["checkpoints"]} == set(LOGS.values())
    assert all(c["key_id"] == key["id"] and len(c["hash"]) == 64 for c in integrity["checkpoints"])
    browser_page.goto(site)
    assert browser_page.locator("#checkpoints tbody tr").count() == len(LOGS)
    assert browser_page.locator(f"#signing-keys li[data-key-id='{key['id']}']").count() == 1


def test_the_honour_roll_shows_published_commendations_searchable_with_a_chart(
    site, browser_page
) -> None:
    page = browser_page
    page.goto(site)
    with page.expect_navigation():
        page.click("a#to-honours")  # beside the accountability results
    assert page.title() == "有为 · 先进典型光荣榜 / Honour roll of commended cadres"
    rows = page.locator("#honours tbody tr[data-honour-id]")
    assert rows.count() == 1 and page.locator("#total").inner_text() == "1"
    row = rows.first
    assert row.locator("td.name").inner_text() == "钱进"
    assert row.locator("td.unit").inner_text() == "市政务服务中心"
    assert row.locator("td.post").inner_text() == "窗口科科长"
    assert row.locator("td.commendation").inner_text().split() == ["嘉奖", "citation"]
    assert row.locator("td.citation").inner_text() == CITATION
    assert "2026-06-30" in row.locator("td.date").inner_text()
    text = page.locator("body").inner_text()
    assert "孙丽" not in text and "赵强" not in text  # withdrawn; never published
    han, boxes = tofu(page.locator("#honours td.citation .v"))
    assert han and boxes == [], fonts_used(page, "#honours td.citation .v")

    bar = page.locator("svg[data-chart=by_kind] rect[data-code=citation]")
    assert bar.get_attribute("data-count") == "1"
    box = bar.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    assert page.locator("svg[data-chart=by_month] rect[data-month='2026-07']").count() == 1

    page.select_option("select[name=kind]", "promotion_recommendation")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "kind=promotion_recommendation" in page.url
    assert page.locator("#honours tbody tr").count() == 0 and page.locator("#empty").count() == 1
    page.select_option("select[name=kind]", "")
    page.fill("input[name=q]", "钱")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.locator("#honours tbody tr").count() == 1
    assert page.input_value("input[name=q]") == "钱"
    page.set_viewport_size({"width": 375, "height": 800})  # on a phone: nothing wider
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    with page.expect_navigation():
        page.click("a#to-records")
    assert page.locator("#records tbody tr[data-record-id]").count() == 1


def test_the_honour_roll_json_has_public_fields_only(site) -> None:
    status, html = fetch(site + "honours")
    assert status == 200 and CITATION in html
    status, body = fetch(site + "honours.json?q=%E9%92%B1")  # 钱
    answer = json.loads(body)
    assert status == 200 and answer["total"] == 1
    [honour] = answer["honours"]
    assert tuple(honour) == HONOUR_FIELDS and honour["citation"] == CITATION
    assert answer["charts"]["by_kind"] == [
        {"code": "citation", "zh": "嘉奖", "en": "citation", "count": 1}]  # fmt: skip
    for text in (html, body):
        assert [word for word in PRIVATE if word in text] == []
        assert "孙丽" not in text
    status, body = fetch(site + "honours.json?kind=medal")
    assert status == 400 and list(json.loads(body)["fields"]) == ["kind"]


def test_the_security_headers_block_nothing_the_pages_use(site, browser_page) -> None:
    """Served with its Content-Security-Policy header (and the meta one in the page), each
    page draws its inline CSS and charts with no violation reported and no console error;
    and what the policy forbids is reported, so the collector can see one."""
    page = browser_page
    violations: list[str] = []
    errors: list[str] = []
    page.expose_function("reportViolation", lambda text: violations.append(text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "window.reportViolation(e.violatedDirective + ' ' + e.blockedURI))"
    )
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    for path in ("", "honours", "?category=muddling&q=%E6%9D%8E", "honours?kind=citation"):
        response = page.goto(site + path)
        assert response is not None and response.status == 200, path
        headers = response.headers
        assert headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        chart = page.locator("svg[data-chart=by_month] rect[data-count]").first
        box = chart.bounding_box()
        assert box is not None and box["width"] > 0, path
        # the inline stylesheet applies (the body margin is its 0, not the default 8px)
        assert page.evaluate("getComputedStyle(document.body).margin") != "8px", path
        page.wait_for_timeout(200)
        assert violations == [] and errors == [], (path, violations, errors)

    page.evaluate(
        "() => { const i = document.createElement('img');"
        " i.src = 'https://example.invalid/x.png'; document.body.append(i); }"
    )
    page.wait_for_timeout(500)
    assert any(v.startswith("img-src") for v in violations), violations


def test_the_key_work_page_shows_each_shares_targets_and_progress_in_a_browser(
    site, browser_page
) -> None:
    page = browser_page
    page.goto(site)
    with page.expect_navigation():
        page.click("a#to-keywork")
    assert page.title() == "有为 · 重点工作进展 / Progress of the city's key work"
    rows = page.locator("#shares tbody tr[data-share-id]")
    assert rows.count() == 1 and page.locator("#total").inner_text() == "1"
    row = rows.first
    assert row.locator("td.title").inner_text() == "七位一体重点工作：交通建设"
    assert row.locator("td.name").inner_text() == "周建华"
    assert row.locator("td.post").inner_text() == "副市长"
    target = row.locator("li.target")
    assert "120 / 200 公里" in target.inner_text() and "177" not in target.inner_text()
    assert "2026-12-31" in target.inner_text()
    assert target.locator("rect.done").get_attribute("data-percent") == "60.0"
    box = target.locator("rect.done").bounding_box()
    assert box is not None and box["width"] > 0
    assert row.locator("li.milestone").get_attribute("data-state") == "met"
    bar = page.locator("svg[data-chart=by_outcome] rect[data-code=in_progress]")
    assert bar.get_attribute("data-count") == "1"
    assert [word for word in KEY_WORK_PRIVATE if word in page.content()] == []
    han, boxes = tofu(row.locator("td.title .v"))
    assert han and boxes == [], fonts_used(page, "#shares td.title .v")

    page.fill("input[name=q]", "周建")
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.locator("#shares tbody tr").count() == 1
    page.fill("input[name=q]", "李明")  # no key work of his
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.locator("#empty").count() == 1
    status, body = fetch(site + "keywork.json")
    assert status == 200 and [word for word in KEY_WORK_PRIVATE if word in body] == []
    assert "177" not in body
