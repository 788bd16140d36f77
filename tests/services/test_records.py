"""The records service over the real stack: a scripted year sent to the four services over
RPC, then personnel files on several days, eligibility, public records, and a rebuild of
the projections from the logs that gives the same documents; each record and honour shown
has a proof that scripts/verify-record verifies."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from events.audit.checkpoints import key_id, load_private_key, new_private_key_pem
from events.audit.history import describe, history
from events.audit.transparency import HEADS, LEAVES
from events.audit.verify import verify_log
from events.log.datastore import MongoDBDatastore
from events.readmodels.projections import Generation, Projector, differences, replay
from schemas.events import LOGS
from schemas.records import HONOUR_FIELDS, PUBLIC_RECORD_FIELDS
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.projections import PersonnelFiles, PublicRecords
from services.records.service import RecordsService
from tests.services.support import FixedClock, command, invalid_fields, running_services
from tests.services.test_inspections_rpc import TEAM, wait_for
from tests.services.test_policies import rate_year

pytestmark = pytest.mark.nameko
SERVICES = [
    CadreRegistryService,
    EvaluationsService,
    InspectionsService,
    AccountabilityService,
    RecordsService,
]
#: What must never appear on the public side: private fields of the four services.
PRIVATE = (
    "birth_date",
    "gender",
    "1979-03-03",
    "description",
    "上班时间窗口无人",
    "reason",
    "dismissed for a test",
    "rater",
    "statement",
    "evidence",
    "李纪检",
    "cadre_id",
    "case_id",
    "finding_id",
    "组织考察材料",
    "commendation_id",
)
#: The honour roll's one entry: Qian Jin's citation (嘉奖), published with this text.
CITATION = "扎根窗口服务，群众满意度连续第一"


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "signing.pem"
    path.write_bytes(new_private_key_pem())
    return path


@pytest.fixture(scope="module")
def year(container_factory_module, rabbit_config_module, mongodb_uri, web_port, signing_key):
    """The scripted year, sent once for the module's tests (they only read)."""
    clock = FixedClock(date(2026, 3, 10))
    with running_services(
        SERVICES, container_factory_module, rabbit_config_module, mongodb_uri, clock=clock,
        EVENT_RETRY_DELAYS=[0.2, 0.5], PROJECTIONS_POLL_SECONDS=0.2,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}", AUDIT_SIGNING_KEY_FILE=str(signing_key),
        AUDIT_CHECKPOINT_SECONDS=0.3, AUDIT_TREE_SECONDS=0.3,
    ) as (rpc, database):  # fmt: skip
        yield rpc, database, script(rpc, lambda day: setattr(clock, "date", day))


def register(rpc, name: str, unit: str, post: str) -> str:
    return rpc.cadre_registry.register_cadre(
        command(
            name=name,
            gender="male",
            birth_date="1979-03-03",
            unit_id=unit,
            post=post,
            rank="county_division",
            post_kind="leadership",
            effective_date="2025-01-01",
        )
    )["cadre_id"]


def case_on_finding(rpc, inspection: str, unit: str, cadre: str, situation: str, day: str) -> str:
    finding = rpc.inspections.record_finding(
        command(
            inspection_id=inspection,
            unit_id=unit,
            cadre_id=cadre,
            situation=situation,
            description="上班时间窗口无人",
            found_on=day,
        )
    )["finding_id"]
    cases = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": cadre})["cases"])
    assert cases[0]["basis"][0]["finding_id"] == finding
    return cases[0]["case_id"]


def script(rpc, advance: Callable[[date], None]) -> dict[str, str]:
    """Li Ming is admonished (published); Wang Fang's post is adjusted (published, then
    withdrawn); Zhao Qiang is dismissed and the dismissal revoked on appeal; Sun Li has a
    basically competent year. The findings open their cases on the city's today then
    (2026-03-10); the rest is recorded once ``advance`` has moved today past every day it
    names."""
    transport = rpc.cadre_registry.register_unit(command(name="市交通运输局"))["unit_id"]
    hall = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    li = register(rpc, "李明", transport, "副局长")
    wang = register(rpc, "王芳", hall, "副主任")
    zhao = register(rpc, "赵强", hall, "主任")
    sun = register(rpc, "孙丽", transport, "局长")
    visit = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="窗口暗访", started_on="2026-03-02", team=TEAM)
    )["inspection_id"]

    li_case = case_on_finding(rpc, visit, transport, li, "absent_from_post", "2026-03-02")
    wang_case = case_on_finding(rpc, visit, hall, wang, "no_drive", "2026-03-03")
    zhao_case = case_on_finding(rpc, visit, hall, zhao, "passes_the_buck", "2026-03-04")
    advance(date(2026, 12, 15))
    rpc.accountability.impose_measure(
        command(
            case_id=li_case, measure="admonishment", reason="上班时间离岗", decided_on="2026-03-15"
        )
    )
    rpc.accountability.publish_result(
        command(case_id=li_case, summary="诫勉谈话", published_on="2026-03-20")
    )

    rpc.accountability.decide_handling(
        command(
            case_id=wang_case,
            handling="post_adjustment",
            post="一级主任科员",
            reason="不作为",
            decided_on="2026-04-01",
        )
    )
    rpc.accountability.publish_result(
        command(case_id=wang_case, summary="调整职务", published_on="2026-04-05")
    )
    rpc.accountability.withdraw_publication(
        command(case_id=wang_case, reason="公布有误", withdrawn_on="2026-04-10")
    )

    dismissal = rpc.accountability.decide_handling(
        command(
            case_id=zhao_case,
            handling="dismissal",
            reason="dismissed for a test",
            decided_on="2026-05-01",
        )
    )["decision_id"]
    rpc.accountability.publish_result(
        command(case_id=zhao_case, summary="免职", published_on="2026-05-02")
    )
    rpc.accountability.file_appeal(
        command(case_id=zhao_case, decision_id=dismissal, grounds="事实不清", filed_on="2026-05-10")
    )
    rpc.accountability.decide_appeal(
        command(
            case_id=zhao_case,
            decision_id=dismissal,
            outcome="revoked",
            reason="事实不清",
            decided_on="2026-06-01",
        )
    )

    rate_year(rpc, sun, 2026, "basically_competent", "basically_satisfied")
    graded = rpc.evaluations.conclude_annual_assessment(command(cadre_id=sun, year=2026))
    assert graded["grade"]["code"] == "basically_competent"

    # commendations: Qian Jin's on the honour roll; Sun Li's published, then withdrawn;
    # Zhao Qiang's never published
    qian = register(rpc, "钱进", hall, "窗口科科长")

    def commend(cadre: str, kind: str, on: str) -> str:
        return rpc.accountability.commend(
            command(cadre_id=cadre, kind=kind, reason="组织考察材料（内部）", commended_on=on)
        )["commendation_id"]

    praised = commend(qian, "citation", "2026-06-30")
    rpc.accountability.publish_commendation(
        command(commendation_id=praised, citation=CITATION, published_on="2026-07-02")
    )
    withdrawn = commend(sun, "promotion_recommendation", "2026-08-01")
    rpc.accountability.publish_commendation(
        command(commendation_id=withdrawn, citation="孙丽同志勇挑重担", published_on="2026-08-02")
    )
    rpc.accountability.withdraw_commendation_publication(
        command(commendation_id=withdrawn, reason="公布有误", withdrawn_on="2026-08-03")
    )
    commend(zhao, "commendation", "2026-09-01")
    return {"li": li, "wang": wang, "zhao": zhao, "sun": sun, "qian": qian,
            "transport": transport}  # fmt: skip


def restrictions_in_force(file: dict) -> list[str]:
    return [r["rule"] for r in file["restrictions"] if r["in_force"]]


def test_an_admonishment_restricts_for_six_months_and_cites_its_rule(year) -> None:
    rpc, _, cadres = year
    before = rpc.records.personnel_file({"cadre_id": cadres["li"], "as_of": "2026-03-14"})
    assert before["name"] == "李明" and before["posting"]["post"] == "副局长"
    assert before["posting"]["unit"] == "市交通运输局"
    assert restrictions_in_force(before) == [] and before["eligible_for_promotion"]["eligible"]
    assert [f["situation"]["code"] for f in before["findings"]] == ["absent_from_post"]

    during = rpc.records.personnel_file({"cadre_id": cadres["li"], "as_of": "2026-04-01"})
    [restriction] = during["restrictions"]
    assert restriction["rule"] == "admonishment" and restriction["rules_version"] == "2026.1"
    assert (restriction["starts"], restriction["ends"]) == ("2026-03-15", "2026-09-15")
    assert restriction["in_force"] and restriction["restricts"]["zh"] == "不得提拔或者重用"
    [decision] = during["decisions"]
    assert restriction["caused_by"] == [decision["event_id"]]
    assert not during["eligible_for_promotion"]["eligible"]
    assert "admonishment" in during["eligible_for_promotion"]["reasons"][0]

    after = rpc.records.eligible_for_promotion({"cadre_id": cadres["li"], "on": "2026-09-15"})
    assert after["eligible"] and after["reasons"] == [] and after["restrictions_in_force"] == []
    assert not rpc.records.eligible_for_promotion({"cadre_id": cadres["li"], "on": "2026-09-14"})[
        "eligible"
    ]


def test_a_revoked_dismissal_lifts_its_restrictions_from_the_appeal(year) -> None:
    rpc, _, cadres = year

    def file(day: str) -> dict:
        return rpc.records.personnel_file({"cadre_id": cadres["zhao"], "as_of": day})

    dismissed = wait_for(
        lambda: (
            (f := file("2026-05-15"))["posting"]["status"]
            and f["posting"]["status"]["code"] == "dismissed"
            and f
        )
    )
    assert restrictions_in_force(dismissed) == [
        "dismissal_no_leading_post",
        "dismissal_not_above_former_level",
    ]
    assert dismissed["posting"]["post"] is None
    assert not dismissed["eligible_for_promotion"]["eligible"]
    assert dismissed["appeals"] == []

    reinstated = wait_for(
        lambda: (f := file("2026-06-15"))["posting"]["status"]["code"] == "in_post" and f
    )
    assert reinstated["posting"]["post"] == "主任"
    assert restrictions_in_force(reinstated) == []
    assert {r["lifted_on"] for r in reinstated["restrictions"]} == {"2026-06-01"}
    [appeal] = reinstated["appeals"]
    assert appeal["outcome"]["code"] == "revoked"
    assert all(r["lifted_by"] == [appeal["event_id"]] for r in reinstated["restrictions"])
    assert reinstated["decisions"][0]["status"]["code"] == "revoked"
    assert reinstated["eligible_for_promotion"]["eligible"]


def test_post_adjustment_and_a_basically_competent_year(year) -> None:
    rpc, _, cadres = year
    wang = rpc.records.eligible_for_promotion({"cadre_id": cadres["wang"], "on": "2026-12-01"})
    assert [r["rule"] for r in wang["restrictions_in_force"]] == ["post_adjustment"]
    assert wang["restrictions_in_force"][0]["ends"] == "2027-04-01"

    def sun(day: str) -> dict:
        return rpc.records.eligible_for_promotion({"cadre_id": cadres["sun"], "on": day})

    assert sun("2026-12-30")["eligible"]  # the assessment counts from the end of its year
    barred = wait_for(lambda: not (answer := sun("2027-02-01"))["eligible"] and answer)
    assert [r["rule"] for r in barred["restrictions_in_force"]] == ["basically_competent"]
    assert sun("2028-01-01")["eligible"]
    graded = rpc.records.personnel_file({"cadre_id": cadres["sun"], "as_of": "2027-01-05"})
    assert [(g["year"], g["grade"]["code"]) for g in graded["grades"]] == [
        (2026, "basically_competent")
    ]


def test_queries_name_what_is_wrong_or_missing(year) -> None:
    rpc, _, cadres = year
    from nameko.exceptions import RemoteError

    with pytest.raises(RemoteError) as refused:
        rpc.records.personnel_file({"cadre_id": cadres["li"], "as_of": "2026-3-1"})
    assert "as_of" in invalid_fields(refused.value)
    with pytest.raises(RemoteError) as refused:
        rpc.records.eligible_for_promotion({"cadre_id": cadres["li"]})
    assert invalid_fields(refused.value) == {"on": ["Missing data for required field."]}
    with pytest.raises(RemoteError) as missing:
        rpc.records.personnel_file({"cadre_id": cadres["transport"]})
    assert missing.value.exc_type == "NotFound"
    with pytest.raises(RemoteError) as refused:
        rpc.records.public_records({"category": "sloth"})
    assert "category" in invalid_fields(refused.value)


def public(rpc, **query) -> dict:
    return rpc.records.public_records(query)


def test_public_records_show_what_is_published_and_not_withdrawn_or_revoked(year) -> None:
    rpc, _, _ = year
    answer = wait_for(lambda: (a := public(rpc))["total"] == 1 and a)
    [record] = answer["records"]
    assert record["cadre_name"] == "李明" and record["unit"] == "市交通运输局"
    assert record["post"] == "副局长" and record["published_on"] == "2026-03-20"
    assert record["category"]["code"] == "muddling" and record["decision"]["code"] == "admonishment"
    assert record["situation"]["code"] == "absent_from_post"
    assert record["summary"] == "诫勉谈话"  # publish_result's text for the public
    assert tuple(record) == PUBLIC_RECORD_FIELDS == (
        "record_id", "published_on", "cadre_name", "unit", "post", "category", "situation",
        "decision_type", "decision", "form", "decided_on", "summary",
    )  # fmt: skip
    text = json.dumps(answer, ensure_ascii=False)
    assert not [word for word in PRIVATE if word in text]
    assert public(rpc, category="muddling")["total"] == 1
    assert public(rpc, category="mediocrity")["total"] == 0  # withdrawn
    assert public(rpc, q="交通")["total"] == 1 and public(rpc, q="王芳")["total"] == 0
    assert public(rpc, q="赵强")["total"] == 0  # its decision was revoked on appeal
    assert public(rpc, month="2026-03")["total"] == 1 and public(rpc, month="2026-05")["total"] == 0


def test_the_honour_roll_shows_published_commendations_only(year) -> None:
    rpc, _, cadres = year
    answer = wait_for(lambda: (a := rpc.records.honour_roll({}))["total"] == 1 and a)
    [honour] = answer["honours"]
    assert tuple(honour) == HONOUR_FIELDS
    assert (honour["cadre_name"], honour["unit"], honour["post"]) == ("钱进", "市政务服务中心",
                                                                      "窗口科科长")  # fmt: skip
    assert honour["kind"] == {"code": "citation", "zh": "嘉奖", "en": "citation"}
    assert (honour["citation"], honour["commended_on"], honour["published_on"]) == (
        CITATION, "2026-06-30", "2026-07-02")  # fmt: skip
    assert str(UUID(honour["honour_id"])) == honour["honour_id"]
    text = json.dumps(answer, ensure_ascii=False)
    assert not [word for word in PRIVATE if word in text]
    assert cadres["qian"] not in text and "孙丽" not in text and "赵强" not in text
    assert rpc.records.honour_roll({"q": "窗口"})["total"] == 1
    assert rpc.records.honour_roll({"kind": "promotion_recommendation"})["total"] == 0


def internal_ids(rpc, cadre_id: str) -> list[str]:
    """The ids of the cadre's cases, their decisions and publications."""
    ids = []
    for case in rpc.accountability.list_cases({"cadre_id": cadre_id})["cases"]:
        case = rpc.accountability.get_case({"case_id": case["case_id"]})
        ids += [case["case_id"], *(d["decision_id"] for d in case["decisions"])]
        ids += [p["publication_id"] for p in case["publications"]]
    return ids


def test_status_then_a_rebuild_gives_the_same_documents(year, mongodb_uri) -> None:
    rpc, database, cadres = year
    [record] = wait_for(lambda: public(rpc)["records"])
    # the public id is opaque: a UUID with no internal id, nor its first or last group, in it
    assert str(UUID(record["record_id"])) == record["record_id"]
    hidden = internal_ids(rpc, cadres["li"])
    assert len(hidden) == 3
    for internal in hidden:
        groups = internal.split("-")
        assert not {internal, groups[0], groups[-1]} & {*record["record_id"].split("-")}
        assert internal not in record["record_id"]
    status = rpc.records.projections_status({})
    assert set(status) == {"personnel", "public", "keywork"}
    datastore = MongoDBDatastore(mongodb_uri, database.name)
    try:
        for projection in (PersonnelFiles(), PublicRecords()):
            projector = Projector(datastore, projection)
            projector.catch_up()
            old = projector.live()
            live = {name: sorted(c.find(), key=lambda d: d["_id"]) for name, c in old.db.items()}
            assert live[next(iter(live))], f"{projection.name} is empty"
            new = projector.rebuild()
            assert new.number == old.number + 1 and projector.live().number == new.number
            rebuilt = {name: sorted(c.find(), key=lambda d: d["_id"]) for name, c in new.db.items()}
            assert rebuilt == live, projection.name
            assert old.prefix + "_files" not in database.list_collection_names()
            assert projector.positions(new) == projector.heads()
    finally:
        datastore.close()
    after = rpc.records.projections_status({})
    assert after["personnel"]["generation"] == status["personnel"]["generation"] + 1
    assert public(rpc)["records"] == [record]  # its id too: the same after a rebuild
    assert all(log["lag"] == 0 for log in after["public"]["logs"].values())
    assert (
        rpc.records.personnel_file({"cadre_id": cadres["li"], "as_of": "2026-04-01"})[
            "restrictions"
        ][0]["rule"]
        == "admonishment"
    )


def test_any_interleaving_of_the_logs_gives_the_same_documents(year, mongodb_uri) -> None:
    """The logs are read independently, so a projection must not depend on which log's
    events come first: the year's events, interleaved at random (each log in its order),
    give the documents of the live projection."""
    rpc, database, _ = year
    wait_for(lambda: public(rpc)["total"] == 1)
    datastore = MongoDBDatastore(mongodb_uri, database.name)
    try:
        for projection in (PersonnelFiles(), PublicRecords()):
            projector = Projector(datastore, projection)
            projector.catch_up()
            live = projector.live()
            expected = {n: sorted(c.find(), key=lambda d: d["_id"]) for n, c in live.db.items()}
            logs = {s: list(r.public_events(0, projector.positions(live)[s]))
                    for s, r in projector.readers.items()}  # fmt: skip
            for seed in range(3):
                generation = Generation(datastore, projection, 900 + seed)
                generation.drop()
                generation.create(projection)
                pending = {source: list(events) for source, events in logs.items()}
                shuffle = random.Random(seed)
                while any(pending.values()):
                    source = shuffle.choice([s for s, events in pending.items() if events])
                    event = pending[source].pop(0)
                    datastore.transaction(
                        lambda session, e=event, g=generation, p=projection: p.apply(
                            e, g.db, session
                        )
                    )
                got = {
                    n: sorted(c.find(), key=lambda d: d["_id"]) for n, c in generation.db.items()
                }
                generation.drop()
                assert got == expected, (projection.name, seed)
    finally:
        datastore.close()


def test_every_service_signs_its_logs_head(year) -> None:
    rpc, database, cadres = year
    rpc.records.personnel_file({"cadre_id": cadres["li"]})  # records' log: its access record
    for log in LOGS.values():
        verdict = wait_for(lambda log=log: (v := verify_log(database, log)).checkpoints_checked
                           and v)  # fmt: skip
        assert verdict.ok, verdict.first_break


def test_a_cadres_history_shows_the_causal_chain_of_a_case(year) -> None:
    """Zhao Qiang: the finding (inspections) opens a case (accountability's policy); the
    dismissal decided is applied by the registry's policy; revoked on appeal, reinstated."""
    rpc, database, cadres = year
    wait_for(lambda: rpc.cadre_registry.get_cadre({"cadre_id": cadres["zhao"]})["status"]["code"]
             == "in_post")  # fmt: skip
    events = history(database, cadres["zhao"])
    kinds = [e["type"] for e in events]
    for kind in ("cadre_registered", "finding_recorded", "case_opened", "case_decided",
                 "cadre_dismissed", "case_appeal_decided", "cadre_reinstated"):  # fmt: skip
        assert kind in kinds, kind
    by_id = {e["event_id"]: e for e in events}
    [opened] = [e for e in events if e["type"] == "case_opened"]
    finding = by_id[opened["caused_by_event"]]
    assert (
        finding["type"] == "finding_recorded"
        and finding["agency"] == "组织部 organization department"
    )
    assert opened["agency"] == "youwei Accountability" and opened["command"] == "case_for_finding"
    assert opened["correlation_id"] == finding["correlation_id"]
    [dismissed] = [e for e in events if e["type"] == "cadre_dismissed"]
    decided = by_id[dismissed["caused_by_event"]]
    assert decided["type"] == "case_decided" and decided["command"] == "decide_handling"
    [reinstated] = [e for e in events if e["type"] == "cadre_reinstated"]
    assert by_id[reinstated["caused_by_event"]]["type"] == "case_appeal_decided"
    lines = describe(events)
    assert any("cadre_dismissed" in line and "← case_decided (accountability:" in line
               for line in lines)  # fmt: skip
    assert not [e for e in history(database, cadres["li"]) if e["originator_id"] == cadres["zhao"]]


def test_a_replay_until_a_day_compares_with_the_live_projection(year, mongodb_uri) -> None:
    rpc, database, _ = year
    wait_for(lambda: public(rpc)["total"] == 1)
    logs = MongoDBDatastore(mongodb_uri, database.name)
    scratch = MongoDBDatastore(mongodb_uri, database.name + "_replay")
    try:
        projection = PublicRecords()
        Projector(logs, projection).catch_up()
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        replayed, heads = replay(logs, scratch, projection, tomorrow)
        assert heads == Projector(logs, projection).heads()
        against, lines = differences(replayed, logs, projection, heads)
        assert against.startswith("the live projection") and lines == []

        live = Projector(logs, projection).live()
        shown = live.db["records"].find_one({})
        name = {"_id": shown["_id"]}
        live.db["records"].update_one(name, {"$set": {"cadre_name": "篡改"}})
        try:
            against, lines = differences(replayed, logs, projection, heads)
        finally:  # the module's later tests read the live projection
            live.db["records"].update_one(name, {"$set": {"cadre_name": shown["cadre_name"]}})
        assert len(lines) == 1 and "differs in cadre_name" in lines[0]

        earlier, heads = replay(logs, scratch, projection, datetime(2000, 1, 1, tzinfo=UTC))
        assert heads == dict.fromkeys(projection.sources, 0)
        assert earlier.db["records"].count_documents({}) == 0
        against, lines = differences(earlier, logs, projection, heads)
        assert against == "the live logs rebuilt to the same positions" and lines == []
    finally:
        logs.client.drop_database(database.name + "_replay")
        logs.close()
        scratch.close()


# -- the published record's proofs (issue 26) ---------------------------------------------
VERIFY_RECORD = Path(__file__).resolve().parents[2] / "scripts" / "verify-record"
LEAF_KINDS = ["record", "record", "record_withdrawn", "record", "record_withdrawn", "honour",
              "honour", "honour_withdrawn"]  # fmt: skip


def fetch(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_each_record_and_honour_shown_has_a_proof_that_verifies(
    year, web_port, signing_key, tmp_path
) -> None:
    rpc, database, _ = year
    pin = key_id(load_private_key(signing_key).public_key())
    site = f"http://127.0.0.1:{web_port}/"
    wait_for(lambda: database[HEADS].find_one({"tree_size": len(LEAF_KINDS)}))
    leaves = [d["data"] for d in database[LEAVES].find().sort("_id", 1)]
    assert [leaf["kind"] for leaf in leaves] == LEAF_KINDS  # the log's order, each event once
    assert [leaf["shown"]["published_on"] for leaf in leaves if leaf["kind"] == "record"] == [
        "2026-03-20", "2026-04-05", "2026-05-02"]  # fmt: skip
    status, page = fetch(site + "records.json")
    assert status == 200 and page["integrity"]["transparency"]["head"]["tree_size"] == 8
    held = tmp_path / "records.json"
    held.write_text(json.dumps(page, ensure_ascii=False))
    [record] = page["records"]
    [honour] = rpc.records.honour_roll({})["honours"]
    for path in (f"records/{record['record_id']}/proof", f"honours/{honour['honour_id']}/proof"):
        status, proof = fetch(site + path)
        assert status == 200, proof
        assert proof["record"] == (record if path.startswith("records") else honour)
        assert not [word for word in PRIVATE if word in json.dumps(proof, ensure_ascii=False)]
        saved = tmp_path / "proof.json"
        saved.write_text(json.dumps(proof, ensure_ascii=False))
        done = subprocess.run([sys.executable, str(VERIFY_RECORD), str(saved), "--trust", pin,
                               "--against", str(held)], capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "cadre_name: confirmed" in done.stdout and "extends the head of 8" in done.stdout
    assert fetch(site + "records/no-such-record/proof")[0] == 404
    status, refused = fetch(site + f"records/{record['record_id']}/proof?since=x")
    assert status == 400 and "since" in refused["fields"]
    status, consistency = fetch(site + "tree/consistency?first=3&second=8")
    assert status == 200 and len(consistency["consistency"]) >= 1
