"""The key work's public page (重点工作进展, issue 27 item 7) over real RabbitMQ and SecantusDB
with all five services: each key-work share's owner, targets, the progress that counts (a
disputed value neither counts nor shows) and due dates, searchable, at ``/keywork`` and
``/keywork.json``; never an evidence reference, a dispute's reason or an internal id; an
erased owner's name is gone from both; a rebuild of the projection gives the same documents."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from events.log.datastore import MongoDBDatastore
from events.readmodels.projections import Projector
from schemas.records import KEY_WORK_FIELDS
from services.records.keywork import KeyWork
from tests.services.support import command
from tests.services.test_inspections_rpc import wait_for
from tests.services.whole_city import clock, cluster

pytestmark = pytest.mark.nameko
__all__ = ["clock", "cluster"]  # the fixtures, imported

EVIDENCE = ("发改委内部台账第7号", "市场监管局登记截图（内部）")
DISPUTE = "台账与工商登记数据不符，系重复统计"
LEADER = "王建国"


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def chain(cluster) -> dict[str, str]:
    """A city leader's key-work share with a target, a milestone and three reports (one
    disputed, one verified, one not reviewed yet), beside a liaison task with its own."""
    rpc, _ = cluster
    registry, inspections = rpc.cadre_registry, rpc.inspections
    unit = registry.register_unit(command(name="市发展和改革委员会"))["unit_id"]

    def cadre(name: str, rank: str, post: str) -> str:
        return registry.register_cadre(
            command(name=name, gender="male", birth_date="1970-05-05", unit_id=unit, post=post,
                    rank=rank, post_kind="leadership", effective_date="2025-01-01")
        )["cadre_id"]  # fmt: skip

    leader = cadre(LEADER, "city_level", "副市长")
    liaison_owner = cadre("刘洋", "county_division", "副主任")

    def task(kind: str, title: str, owner: str) -> str:
        return registry.assign_responsibility(
            command(kind=kind, title=title, owner_id=owner, effective_date="2026-02-01")
        )["task_id"]

    share = task("key_work_share", "七位一体重点工作：优化营商环境", leader)
    liaison = task("liaison_task", "联系大营街镇", liaison_owner)

    def target(task_id: str, indicator: str, value: float) -> str:
        return inspections.set_task_target(
            command(task_id=task_id, indicator=indicator, unit="户", target_value=value,
                    due_on="2026-12-31", reason="市委常委会决策分解", set_on="2026-03-01")
        )["target_id"]  # fmt: skip

    goal = target(share, "新增市场主体", 1000)
    target(liaison, "走访企业", 50)
    inspections.set_task_milestone(
        command(task_id=share, target_id=goal, title="半年过半", value=500, due_on="2026-06-30",
                reason="节点分解", set_on="2026-03-01")
    )  # fmt: skip

    def report(value: float, on: str, evidence: str) -> str:
        visit = {"place": "高新区政务大厅", "whom": "新办企业", "problem_solved": "一窗通办",
                 "on": on}  # fmt: skip
        return inspections.report_progress(
            command(task_id=share, target_id=goal, value=value, reported_on=on,
                    evidence=[evidence], frontline=[visit])
        )["report_id"]  # fmt: skip

    claimed = report(613, "2026-05-20", EVIDENCE[0])
    inspections.dispute_progress_report(
        command(task_id=share, report_id=claimed, reason=DISPUTE, disputed_on="2026-05-25")
    )
    honest = report(450, "2026-06-10", EVIDENCE[1])
    inspections.verify_progress_report(
        command(task_id=share, report_id=honest, verified_on="2026-06-12")
    )
    report(520, "2026-06-20", EVIDENCE[1])
    return {"unit": unit, "leader": leader, "share": share, "liaison": liaison,
            "claimed": claimed, "honest": honest}  # fmt: skip


def test_the_key_work_page_shows_progress_that_counts_and_nothing_private(
    cluster, chain, web_port, mongodb_uri
) -> None:
    """One test, one cluster: the module's ``web_port`` is served by one cluster only."""
    rpc, database = cluster

    def answer(query: str = "") -> dict:
        status, body = get(web_port, "keywork.json" + query)
        assert status == 200, body
        return json.loads(body)

    shown = wait_for(lambda: (a := answer())["total"] == 1
                     and a["shares"][0]["targets"][0]["reached"] == 520 and a)  # fmt: skip
    [share] = shown["shares"]
    assert tuple(share) == KEY_WORK_FIELDS
    assert (share["title"], share["owner_name"], share["unit"], share["post"]) == (
        "七位一体重点工作：优化营商环境", LEADER, "市发展和改革委员会", "副市长"
    )  # fmt: skip
    [target] = share["targets"]  # the disputed 613 neither counts nor shows
    assert target == {
        "indicator": "新增市场主体", "unit": "户", "target_value": 1000, "due_on": "2026-12-31",
        "reached": 520, "reached_on": None, "percent": 52.0,
        "outcome": {"code": "in_progress", "zh": "推进中", "en": "in progress"},
        "progress": [{"on": "2026-06-10", "value": 450}, {"on": "2026-06-20", "value": 520}],
        "milestones": [{"title": "半年过半", "value": 500, "due_on": "2026-06-30",
                        "overdue_on": None, "met_on": "2026-06-20"}],
    }  # fmt: skip
    assert shown["charts"]["by_outcome"][3] == {
        "code": "in_progress", "zh": "推进中", "en": "in progress", "count": 1}  # fmt: skip
    assert shown["charts"]["by_month"] == [{"month": "2026-12", "count": 1}]

    status, html = get(web_port, "keywork")
    assert status == 200 and LEADER in html and "新增市场主体" in html
    assert "联系大营街镇" not in html and "走访企业" not in html  # a liaison task: not key work
    internal = [chain[k] for k in ("unit", "leader", "share", "liaison", "claimed", "honest")]
    for text in (html, json.dumps(shown, ensure_ascii=False)):
        assert [word for word in (*EVIDENCE, DISPUTE, *internal) if word in text] == []
        assert "613" not in text and "高新区政务大厅" not in text

    # searchable by the work, the owner, the unit or the post; a bad query changes nothing
    for q, total in (("营商", 1), ("王建", 1), ("发展和改革", 1), ("副市长", 1), ("无此人", 0),
                     ("联系大营街镇", 0)):  # fmt: skip
        assert answer("?q=" + quote(q))["total"] == total, q
    status, html = get(web_port, "keywork?q=" + quote("无此人"))
    assert status == 200 and 'id="empty"' in html
    status, body = get(web_port, "keywork.json?page_size=0")
    assert status == 400 and list(json.loads(body)["fields"]) == ["page_size"]
    status, body = get(web_port, "keywork?page=x")
    assert status == 400 and list(json.loads(body)["fields"]) == ["page"]

    # the same documents after a rebuild
    datastore = MongoDBDatastore(mongodb_uri, database.name)
    try:
        projector = Projector(datastore, KeyWork())
        projector.catch_up()
        old = projector.live()
        live = {name: sorted(c.find(), key=lambda d: d["_id"]) for name, c in old.db.items()}
        new = projector.rebuild()
        rebuilt = {name: sorted(c.find(), key=lambda d: d["_id"]) for name, c in new.db.items()}
        assert rebuilt == live and live["shares"]
    finally:
        datastore.close()

    # an erased owner's name is gone from the page and the JSON; the share stays
    rpc.cadre_registry.erase_personal_data(
        command(cadre_id=chain["leader"], reason="本人申请，依法删除", erased_on="2026-12-01")
    )

    def erased() -> dict | bool:
        body = answer()
        return body["shares"][0]["owner_name"] is None and body

    body = wait_for(erased)
    assert body["shares"][0]["post"] == "副市长"
    status, html = get(web_port, "keywork")
    assert status == 200 and LEADER not in html and "（不公开）" in html
    assert LEADER not in json.dumps(body, ensure_ascii=False)
    assert answer("?q=" + quote("王建"))["total"] == 0
