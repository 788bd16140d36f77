"""Answers of issue 15 over real RabbitMQ and SecantusDB with all five services: the
personnel file says what a decision changed on appeal became, with every code labelled;
a public report's reference is never published on the bus nor kept readable in any stored
document; commendations are listed, published on the honour roll with a public citation
(never their private reason) and withdrawn from it."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError

from schemas.events import PUBLISHED
from schemas.records import HONOUR_FIELDS
from tests.services.support import command, invalid_fields
from tests.services.test_inspections_rpc import wait_for
from tests.services.whole_city import clock, cluster, refused

pytestmark = pytest.mark.nameko
__all__ = ["clock", "cluster"]  # the fixtures, imported
#: The keys whose values are codes: wherever a personnel file has one, it is a label.
CODED = {"kind", "status", "decision_type", "change", "outcome", "form", "rank", "post_kind",
         "grade", "situation", "restricts", "consequence"}  # fmt: skip


@pytest.fixture
def city(cluster) -> dict[str, str]:
    rpc, _ = cluster
    registry = rpc.cadre_registry
    hall = registry.register_unit(command(name="市政务服务中心"))["unit_id"]

    def cadre(name: str) -> str:
        return registry.register_cadre(
            command(name=name, gender="female", birth_date="1979-03-03", unit_id=hall,
                    post="副主任", rank="county_division", post_kind="leadership",
                    effective_date="2024-01-01")
        )["cadre_id"]  # fmt: skip

    return {"hall": hall, "cadre": cadre("周敏"), "colleague": cadre("陈静")}


def labels_missing(value, path: str = "") -> list[str]:
    """The paths in ``value`` where a coded key holds something other than a label (or
    null)."""
    missing = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}"
            if key in CODED and item is not None and not (
                isinstance(item, dict) and {"code", "zh", "en"} <= set(item)
                and all(isinstance(item[k], str) and item[k] for k in ("code", "zh", "en"))
            ):  # fmt: skip
                missing.append(f"{here}={item!r}")
            elif key not in CODED:
                missing += labels_missing(item, here)
            elif isinstance(item, dict):
                missing += labels_missing({k: v for k, v in item.items()
                                           if k not in ("code", "zh", "en")}, here)  # fmt: skip
    elif isinstance(value, list):
        for index, item in enumerate(value):
            missing += labels_missing(item, f"{path}[{index}]")
    return missing


def test_the_personnel_file_says_what_a_changed_decision_became(cluster, city) -> None:
    rpc, _ = cluster
    cadre = city["cadre"]
    rpc.cadre_registry.assign_responsibility(
        command(kind="liaison_task", title="联系大营街镇", owner_id=cadre,
                effective_date="2025-01-01")
    )  # fmt: skip
    case = rpc.accountability.open_case(
        command(cadre_id=cadre, basis=[{"kind": "report", "reference": "12345热线 第7号"}],
                summary="群众反映办事推诿", occurred_on="2026-05-20", opened_on="2026-05-25")
    )["case_id"]  # fmt: skip
    decision = rpc.accountability.impose_measure(
        command(case_id=case, measure="admonishment", reason="推诿扯皮", decided_on="2026-06-01")
    )["decision_id"]
    rpc.accountability.file_appeal(
        command(case_id=case, decision_id=decision, grounds="处理过重", filed_on="2026-06-10")
    )
    rpc.accountability.decide_appeal(
        command(case_id=case, decision_id=decision, outcome="changed", reason="改为约谈",
                decided_on="2026-07-01", changed_to={"kind": "talk"})
    )  # fmt: skip
    talk = {"code": "talk", "zh": "约谈", "en": "talk"}
    admonishment = {"code": "admonishment", "zh": "诫勉谈话", "en": "admonishment talk"}
    assert rpc.accountability.get_case({"case_id": case})["decisions"][0]["kind"] == talk

    def file(day: str) -> dict:
        return rpc.records.personnel_file({"cadre_id": cadre, "as_of": day})

    after = wait_for(lambda: (f := file("2026-12-15"))["appeals"] and f)
    [shown] = after["decisions"]
    assert (shown["decision_id"], shown["kind"], shown["form"]) == (decision, talk, None)
    assert shown["was"] == [{"kind": admonishment, "form": None}]
    assert shown["status"] == {"code": "changed", "zh": "已变更", "en": "changed on appeal"}
    assert shown["decision_type"] == {"code": "measure", "zh": "问责方式", "en": "measure"}
    [appeal] = after["appeals"]
    assert appeal["outcome"]["code"] == "changed" and appeal["decided_on"] == "2026-07-01"
    assert appeal["changed_from"] == {"kind": admonishment, "form": None}
    assert appeal["changed_to"] == {"kind": talk, "form": None, "unit_id": None, "post": None,
                                    "rank": None}  # fmt: skip
    assert shown["appeal"] == {"outcome": appeal["outcome"], "decided_on": "2026-07-01",
                               "event_id": appeal["event_id"]}  # fmt: skip
    # every code in the file, wherever it is, with its Chinese and English labels
    assert after["posts"] and after["responsibilities"] and after["consequences"] == []
    assert labels_missing(after) == []
    assert after["posts"][0]["change"]["code"] == "registered"
    assert after["responsibilities"][0]["change"]["code"] == "assigned"
    assert after["responsibilities"][0]["kind"]["code"] == "liaison_task"

    # before the appeal was decided, the file shows the decision as it stood then
    before = file("2026-06-15")
    [then] = before["decisions"]
    assert (then["kind"], then["was"], then["status"]["code"]) == (admonishment, [], "in_force")
    assert before["appeals"] == [] and labels_missing(before) == []


def text_of(value) -> str:
    """A stored value as text: bytes (an event's state is stored as bytes) decoded."""
    if isinstance(value, dict):
        return " ".join(f"{key} {text_of(item)}" for key, item in value.items())
    if isinstance(value, list):
        return " ".join(map(text_of, value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def everything_stored(database) -> str:
    """Every document of every collection of the database, as one text."""
    return "\n".join(
        text_of(document)
        for name in database.list_collection_names()
        for document in database[name].find()
    )


@pytest.fixture
def bus(rabbit_config):
    """A queue bound to every event every relay publishes."""
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        channel = connection.channel()
        queue = Queue(f"test-{uuid4().hex}", auto_delete=True)
        bound = queue(channel)
        bound.declare()
        for service in PUBLISHED:
            exchange = Exchange(f"{service}.events", type="topic", durable=True)
            exchange(channel).declare()
            bound.bind_to(exchange=exchange, routing_key="#")
        messages: list[dict] = []

        def received() -> list[dict]:
            while (message := bound.get(no_ack=True)) is not None:
                messages.append({"body": message.body, "headers": message.headers})
            return messages

        yield received


def test_a_reports_reference_is_never_published_nor_kept_readable(cluster, city, bus) -> None:
    rpc, database = cluster
    reference = "12345热线 2026第4711号 来电人王某 13900001111"
    opening = command(cadre_id=city["cadre"], basis=[{"kind": "report", "reference": reference}],
                      summary="群众反映窗口推诿", occurred_on="2026-05-20",
                      opened_on="2026-05-25")  # fmt: skip
    case = rpc.accountability.open_case(opening)["case_id"]
    # a retry is the same command; the same command_id with another reference is not
    assert rpc.accountability.open_case(opening)["case_id"] == case
    with pytest.raises(RemoteError) as raised:
        rpc.accountability.open_case(
            {**opening, "basis": [{"kind": "report", "reference": "12345热线 2026第4712号"}]}
        )
    assert raised.value.exc_type == "Conflict"
    # those who handle the case still read which report it rests on
    shown = rpc.accountability.get_case({"case_id": case})
    assert shown["basis"] == [{"kind": {"code": "report", "zh": "群众举报",
                                        "en": "a report from the public"},
                               "reference": reference}]  # fmt: skip
    talked = rpc.accountability.impose_measure(
        command(case_id=case, measure="talk", reason="推诿", decided_on="2026-06-01")
    )
    # a command's result is kept in the log with the command: it names no reference
    assert talked["case"]["basis"][0]["reference"] is None
    rpc.accountability.publish_result(
        command(case_id=case, summary="对周敏同志约谈", published_on="2026-06-02")
    )

    def relayed() -> list[dict]:
        messages = bus()
        types = {json.loads(m["body"])["type"] for m in messages}
        return {"case_opened", "case_decided", "case_published"} <= types and messages

    messages = wait_for(relayed)
    [opened] = [json.loads(m["body"]) for m in messages
                if json.loads(m["body"])["type"] == "case_opened"]  # fmt: skip
    assert opened["originator_id"] == case
    assert opened["data"]["basis"] == [{"kind": "report"}]  # only that it is a report
    for message in messages:
        text = message["body"] if isinstance(message["body"], str) else message["body"].decode()
        assert "第4711号" not in text and "13900001111" not in text, text
        headers = json.dumps(message["headers"], ensure_ascii=False)
        assert "第4711号" not in headers and "13900001111" not in headers  # ids may hold "4711"

    # nor is it readable in anything stored: the logs (sealed there), views, projections
    wait_for(lambda: rpc.records.public_records({})["total"] == 1)
    rpc.records.personnel_file({"cadre_id": city["cadre"]})
    stored = everything_stored(database)
    assert "群众反映窗口推诿" in stored  # the scan reads the logs' stored states
    for part in ("第4711号", "13900001111", "来电人王某"):  # (hex hashes may hold "4711")
        assert part not in stored, (part, stored[stored.find(part) - 300 :][:600])


def test_commendations_are_listed_and_published_on_the_honour_roll(cluster, city) -> None:
    rpc, _ = cluster
    accountability = rpc.accountability
    private = "组织考察材料：群众评议第一（内部）"

    def commend(cadre: str, kind: str, on: str) -> str:
        return accountability.commend(
            command(cadre_id=cadre, kind=kind, reason=private, commended_on=on)
        )["commendation_id"]

    praised = commend(city["cadre"], "citation", "2026-06-30")
    promoted = commend(city["colleague"], "promotion_recommendation", "2026-09-01")
    merit = commend(city["colleague"], "third_class_merit", "2026-12-01")
    shown = accountability.get_commendation({"commendation_id": praised})
    assert shown["kind"] == {"code": "citation", "zh": "嘉奖", "en": "citation"}
    assert (shown["published"], shown["publications"], shown["rule"]) == (False, [], None)

    # published with a citation for the public, once at a time, not before it was made
    citation = "扎根窗口服务，群众满意度连续第一"
    publish = command(commendation_id=praised, citation=citation, published_on="2026-06-29")
    refused(lambda: accountability.publish_commendation(publish), "accountability.date_in_order")
    refused(lambda: accountability.publish_commendation({**publish, "published_on": "2026-12-16"}),
            "accountability.not_after_today")  # fmt: skip
    with pytest.raises(RemoteError) as raised:
        accountability.publish_commendation({**publish, "citation": ""})
    assert list(invalid_fields(raised.value)) == ["citation"]
    published = accountability.publish_commendation({**publish, "published_on": "2026-07-02"})
    assert published["commendation"]["published"] is True
    assert published["commendation"]["publications"][0]["citation"] == citation
    again = command(commendation_id=praised, citation="再次", published_on="2026-07-03")
    refused(lambda: accountability.publish_commendation(again),
            "accountability.commendation_published_once")  # fmt: skip
    withdraw = command(commendation_id=promoted, reason="x", withdrawn_on="2026-09-02")
    refused(lambda: accountability.withdraw_commendation_publication(withdraw),
            "accountability.commendation_in_view")  # fmt: skip
    accountability.publish_commendation(
        command(commendation_id=promoted, citation="勇挑重担", published_on="2026-09-01")
    )
    accountability.withdraw_commendation_publication(withdraw)  # on the roll, then not
    accountability.publish_commendation(
        command(commendation_id=merit, citation="记三等功：连续三年考核优秀",
                published_on="2026-12-10")
    )  # fmt: skip

    def listed(**query) -> list[str]:
        return [c["commendation_id"]
                for c in accountability.list_commendations(query)["commendations"]]  # fmt: skip

    assert listed() == [praised, promoted, merit]  # by the day commended
    assert listed(cadre_id=city["colleague"]) == [promoted, merit]
    assert listed(kind="citation") == [praised]
    assert listed(published=True) == [praised, merit] and listed(published=False) == [promoted]
    assert listed(commended_from="2026-07-01", commended_to="2026-11-30") == [promoted]
    second = accountability.list_commendations({"page": 2, "page_size": 2})
    assert (second["total"], second["page"]) == (3, 2)
    assert [c["commendation_id"] for c in second["commendations"]] == [merit]
    for bad, field in (({"kind": "medal"}, "kind"), ({"published": "yes"}, "published"),
                       ({"commended_from": "2026-12-01", "commended_to": "2026-01-01"},
                        "commended_to")):  # fmt: skip
        with pytest.raises(RemoteError) as raised:
            accountability.list_commendations(bad)
        assert list(invalid_fields(raised.value)) == [field]

    # the honour roll: what is published and not withdrawn, with public fields only
    def roll(**query) -> dict:
        return rpc.records.honour_roll(query)

    answer = wait_for(lambda: (a := roll())["total"] == 2 and a)
    [newest, first] = answer["honours"]
    assert tuple(first) == HONOUR_FIELDS
    assert first == {
        "honour_id": first["honour_id"], "published_on": "2026-07-02", "cadre_name": "周敏",
        "unit": "市政务服务中心", "post": "副主任", "kind": shown["kind"],
        "citation": citation, "commended_on": "2026-06-30",
    }  # fmt: skip
    assert newest["cadre_name"] == "陈静" and newest["kind"]["code"] == "third_class_merit"
    text = json.dumps(answer, ensure_ascii=False)
    for hidden in (private, praised, merit, city["cadre"], city["hall"], "勇挑重担"):
        assert hidden not in text
    assert [h["cadre_name"] for h in roll(q="周")["honours"]] == ["周敏"]
    assert roll(kind="promotion_recommendation")["total"] == 0  # withdrawn
    assert roll(month="2026-12")["total"] == 1 and roll(q="无此人")["total"] == 0
    with pytest.raises(RemoteError) as raised:
        roll(kind="medal")
    assert list(invalid_fields(raised.value)) == ["kind"]

    # the personnel file names each commendation and where it stands on the roll
    file = rpc.records.personnel_file({"cadre_id": city["colleague"], "as_of": "2026-12-15"})
    by_id = {c["commendation_id"]: c for c in file["commendations"]}
    assert list(by_id) == [promoted, merit]
    assert by_id[promoted]["published"]["withdrawn_on"] == "2026-09-02"
    assert by_id[merit]["published"] == {
        "citation": "记三等功：连续三年考核优秀",
        "published_on": "2026-12-10",
        "withdrawn_on": None,
        "event_id": by_id[merit]["published"]["event_id"],
    }
    assert labels_missing(file) == []
