"""A refused command changes nothing, anywhere: over real RabbitMQ and SecantusDB, with every
service running as its own user under the production policy, each refusal path of every
command (an invalid payload, an id that names nothing, a ``command_id`` reused with another
payload or by another agency, a domain rule, a call the policy forbids) leaves every
document of every collection as it was — personal keys included — but for the access record
of a forbidden call, which is accounted for exactly. And an erasure destroys a key only once
it is recorded; a crash in between is finished by a retry, a restart or the timer."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from events.identity.access import AccessDenied
from events.identity.personal import KEYS_COLLECTION, Erased, PersonalKeys, subject_of
from events.log.transcoding import transcoder
from events.runtime.dependency import ApplicationDependency
from schemas.events import LOGS
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from tests.services import refusals_chain as chain
from tests.services import refusals_exemption as exemption
from tests.services.agencies import agency_stack, start
from tests.services.support import RATER_KEY
from tests.services.test_inspections_rpc import TEAM, wait_for
from youwei import client as youwei
from youwei.client import Client

pytestmark = pytest.mark.nameko
SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService, AccountabilityService,
            RecordsService]  # fmt: skip
NOWHERE = "8a5e0000-0000-4000-8000-000000000000"
#: Who may send each service's commands, and another agency with the same role.
SENDERS = {"org": "org_b", "commission": "commission_b", "office": "office_b"}


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        SERVICES, rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri
    ) as running:
        yield running


def agency(stack, who: str) -> Client:
    return Client(stack.uri(who), person=f"{who} tester", timeout=30.0)


# --- the state: every document of every collection ---------------------------------------

#: Fields a running service rewrites on a clock, whatever is called: a relay's lease.
HEARTBEATS = {"relay_leases": ("expires_at",)}


def snapshot(database) -> dict[str, dict[str, dict]]:
    """Every document of every collection of the database, by collection and ``_id``."""
    state = {}
    for name in sorted(database.list_collection_names()):
        documents = {}
        for document in database[name].find():
            for field in HEARTBEATS.get(name, ()):
                document.pop(field, None)
            documents[repr(document["_id"])] = document
        state[name] = documents
    return state


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                found.append(f"{name} {key}: {old.get(key)!r} -> {new.get(key)!r}")
    return found


def settled(database) -> dict:
    """The state once the services are done with what came before (relays, policies and
    projections follow the logs a moment later): the same in two reads half a second apart
    (the services poll every 0.2 s at most)."""
    import time

    previous = snapshot(database)
    for _ in range(120):
        time.sleep(0.5)
        current = snapshot(database)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the services did not settle")


# --- a small city in which every command has been sent once --------------------------------


@dataclass
class Sent:
    who: str
    service: str
    method: str
    payload: dict[str, Any]
    result: Any


class City:
    def __init__(self, stack) -> None:
        self.stack = stack
        self.sent: dict[str, Sent] = {}
        self.ids: dict[str, str] = {}

    def send(self, who: str, service: str, method: str, record: bool = True, **fields) -> Any:
        payload = {"command_id": str(uuid.uuid4()),
                   "actor": {"agency": who, "person": f"{who} tester"}, **fields}  # fmt: skip
        with agency(self.stack, who) as client:
            result = client.call(service, method, dict(payload))
        if record:
            self.sent[method] = Sent(who, service, method, payload, result)
        return result

    def cadre(self, name: str, unit: str, rank: str = "county_division", **fields) -> str:
        return self.send(
            "org", "cadre_registry", "register_cadre", name=name, gender="female",
            birth_date="1979-03-03", unit_id=unit, post="副主任", rank=rank,
            post_kind="leadership", effective_date="2025-01-01", **fields,
        )["cadre_id"]  # fmt: skip


@pytest.fixture(scope="module")
def city(stack) -> City:
    c = City(stack)
    reg, ev, insp, acc = "cadre_registry", "evaluations", "inspections", "accountability"
    ids = c.ids
    ids["unit"] = c.send("org", reg, "register_unit", name="市政务服务中心")["unit_id"]
    ids["unit2"] = c.send("org", reg, "register_unit", name="市数据局", parent_id=None,
                          record=False)["unit_id"]  # fmt: skip
    unit = ids["unit"]
    for name in ("a", "b", "c", "erased", "keep", "p2", "p3", "rated"):
        ids[name] = c.cadre(f"干部{name}", unit)
    ids["leader"] = c.cadre("市领导", unit, rank="city_level")
    changes = {
        "appoint": {"unit_id": ids["unit2"], "post": "主任", "rank": "county_division",
                    "post_kind": "leadership"},
        "transfer": {"unit_id": ids["unit2"], "post": "副主任"},
        "change_to_non_leadership": {"post": "调研员", "reason": "年龄原因"},
        "send_to_off_post_training": {"reason": "能力不足"},
        "dismiss": {"reason": "不作为"},
        "order_resignation": {"reason": "失职"},
        "demote": {"rank": "township_section", "post": "科长", "reason": "不担当"},
    }  # fmt: skip
    for method, fields in changes.items():
        ids[method] = c.cadre(f"干部{method}", unit)
        c.send("org", reg, method, cadre_id=ids[method], effective_date="2026-02-01", **fields)
    ids["task"] = c.send("org", reg, "assign_responsibility", task_id=None, kind="liaison_task",
                         title="联系点", owner_id=ids["a"],
                         effective_date="2026-01-01")["task_id"]  # fmt: skip
    c.send("org", reg, "set_personal_data_retention", cadre_id=ids["keep"],
           keep_until="2031-01-01", basis="在职")  # fmt: skip
    c.send("org", reg, "erase_personal_data", cadre_id=ids["erased"], reason="本人申请",
           erased_on="2026-03-01")  # fmt: skip

    for n in range(5):
        c.send("org", ev, "submit_rating", cadre_id=ids["rated"], channel="democratic_appraisal",
               period="2026-03", value="competent", rater_ref=f"评议人{n}")  # fmt: skip
    for n in range(20):
        c.send("hall", ev, "submit_rating", cadre_id=ids["rated"], channel="service_window",
               period="2026-04", value="satisfied", rater_ref=f"1390000{n:04d}",
               record=False)  # fmt: skip
    c.send("org", ev, "conclude_annual_assessment", cadre_id=ids["rated"], year=2026,
           rules_version=None)  # fmt: skip
    c.send("org", ev, "erase_rater", rater_ref="13900000000", reason="本人申请",
           erased_on="2026-05-01")  # fmt: skip

    ids["inspection"] = c.send("commission", insp, "open_inspection", kind="undercover_visit",
                               title="窗口暗访", started_on="2026-03-02",
                               team=TEAM)["inspection_id"]  # fmt: skip
    ids["finding"] = c.send("commission", insp, "record_finding",
                            inspection_id=ids["inspection"], unit_id=unit, cadre_id=None,
                            situation="absent_from_post", description="窗口无人",
                            found_on="2026-03-02")["finding_id"]  # fmt: skip
    ids["letter"] = c.send("commission", insp, "issue_rectification_letter", unit_id=unit,
                           finding_ids=[ids["finding"]], requirements="限期整改",
                           issued_on="2026-03-05", deadline="2026-12-31")["letter_id"]  # fmt: skip
    c.send("commission", insp, "report_rectification", letter_id=ids["letter"], report="已整改",
           reported_on="2026-03-10")  # fmt: skip
    c.send("commission", insp, "review_rectification", letter_id=ids["letter"], accepted=False,
           reason="不彻底", reviewed_on="2026-03-12")  # fmt: skip
    c.send("commission", insp, "expose_finding", finding_id=ids["finding"],
           exposure="internal_circular", exposed_on="2026-03-03")  # fmt: skip

    report = [{"kind": "report", "reference": "举报 2026-001"}]
    ids["case"] = c.send("commission", acc, "open_case", cadre_id=ids["b"], basis=report,
                         summary="窗口无人", occurred_on="2026-03-01",
                         opened_on="2026-03-05")["case_id"]  # fmt: skip
    c.send("commission", acc, "record_statement", case_id=ids["case"], statement="外出培训",
           made_on="2026-03-06")  # fmt: skip
    ids["decision"] = c.send("commission", acc, "impose_measure", case_id=ids["case"],
                             measure="talk", form=None, reason="离岗",
                             decided_on="2026-03-07")["decision_id"]  # fmt: skip
    c.send("commission", acc, "file_appeal", case_id=ids["case"], decision_id=ids["decision"],
           grounds="有通知为证", filed_on="2026-03-08")  # fmt: skip
    c.send("commission", acc, "decide_appeal", case_id=ids["case"], decision_id=ids["decision"],
           outcome="upheld", reason="维持", decided_on="2026-03-09", changed_to=None)  # fmt: skip
    c.send("commission", acc, "publish_result", case_id=ids["case"], summary="约谈",
           published_on="2026-03-10")  # fmt: skip
    c.send("commission", acc, "withdraw_publication", case_id=ids["case"], reason="隐私",
           withdrawn_on="2026-03-11")  # fmt: skip
    c.send("commission", acc, "close_case", case_id=ids["case"], conclusion="办结",
           closed_on="2026-03-12")  # fmt: skip
    ids["case2"] = c.send("commission", acc, "open_case", cadre_id=ids["p2"], basis=report,
                          summary="推诿", occurred_on="2026-03-01", opened_on="2026-03-05",
                          record=False)["case_id"]  # fmt: skip
    c.send("org", acc, "decide_handling", case_id=ids["case2"], handling="off_post_training",
           reason="不适宜", decided_on="2026-03-06")  # fmt: skip
    ids["effort"] = c.send("org", acc, "register_reform_effort", unit_id=unit, title="审批改革",
                           risk_assessment="可控", risk_level="low",
                           participants=[ids["p3"]], registered_on="2026-01-01",
                           starts_on="2026-01-02", ends_on=None)["reform_effort_id"]  # fmt: skip
    exemption.send_exemption(c, ids)
    c.send("org", acc, "commend", cadre_id=ids["c"], kind="commendation", reason="担当",
           commended_on="2026-03-01")  # fmt: skip
    chain.send_chain(c, ids)
    return c


# --- what each command is refused for ----------------------------------------------------

#: Method → fields that make its recorded payload another (a ``command_id`` reused for it).
OTHER_PAYLOAD: dict[str, Callable[[dict], dict]] = {
    "register_unit": lambda i: {"name": "另一个单位"},
    "register_cadre": lambda i: {"name": "另一个人"},
    "appoint": lambda i: {"post": "另一职务"},
    "transfer": lambda i: {"post": "另一职务"},
    "change_to_non_leadership": lambda i: {"reason": "另一理由"},
    "send_to_off_post_training": lambda i: {"reason": "另一理由"},
    "dismiss": lambda i: {"cadre_id": i["c"]},
    "order_resignation": lambda i: {"reason": "另一理由"},
    "demote": lambda i: {"post": "另一职务"},
    "assign_responsibility": lambda i: {"title": "另一联系点"},
    "set_personal_data_retention": lambda i: {"keep_until": "2032-01-01"},
    "erase_personal_data": lambda i: {"cadre_id": i["a"]},
    "submit_rating": lambda i: {"value": "incompetent"},
    "conclude_annual_assessment": lambda i: {"year": 2025},
    "erase_rater": lambda i: {"rater_ref": "13900000001"},
    "open_inspection": lambda i: {"title": "另一次暗访"},
    "record_finding": lambda i: {"description": "另一问题"},
    "issue_rectification_letter": lambda i: {"requirements": "另一要求"},
    "report_rectification": lambda i: {"report": "另一报告"},
    "review_rectification": lambda i: {"accepted": True},
    "expose_finding": lambda i: {"exposure": "media"},
    "open_case": lambda i: {"summary": "另一案情"},
    "record_statement": lambda i: {"statement": "另一陈述"},
    "impose_measure": lambda i: {"measure": "written_inquiry"},
    "decide_handling": lambda i: {"handling": "dismissal"},
    "register_reform_effort": lambda i: {"title": "另一改革"},
    "grant_exemption": lambda i: {"outcome": "mitigated"},
    "file_appeal": lambda i: {"grounds": "另一理由"},
    "decide_appeal": lambda i: {"reason": "另一理由"},
    "commend": lambda i: {"kind": "promotion_recommendation"},
    "publish_result": lambda i: {"summary": "另一公告"},
    "withdraw_publication": lambda i: {"reason": "另一理由"},
    "close_case": lambda i: {"conclusion": "另一结论"},
    **chain.OTHER_PAYLOAD,
}

#: Method → the field naming what it acts on (an unknown id there is an InvalidCommand).
REFERENCES = {
    "register_cadre": "unit_id", "appoint": "cadre_id", "transfer": "unit_id",
    "change_to_non_leadership": "cadre_id", "send_to_off_post_training": "cadre_id",
    "dismiss": "cadre_id", "order_resignation": "cadre_id", "demote": "cadre_id",
    "assign_responsibility": "owner_id", "set_personal_data_retention": "cadre_id",
    "erase_personal_data": "cadre_id", "submit_rating": "cadre_id",
    "conclude_annual_assessment": "cadre_id", "record_finding": "inspection_id",
    "issue_rectification_letter": "unit_id", "report_rectification": "letter_id",
    "review_rectification": "letter_id", "expose_finding": "finding_id",
    "open_case": "cadre_id", "record_statement": "case_id", "impose_measure": "case_id",
    "decide_handling": "case_id", "register_reform_effort": "unit_id",
    "grant_exemption": "case_id", "file_appeal": "case_id",
    "decide_appeal": "case_id", "commend": "cadre_id", "publish_result": "case_id",
    "withdraw_publication": "case_id", "close_case": "case_id", **chain.REFERENCES,
}  # fmt: skip

#: Method → (fields breaking a rule of the domain, the rule), sent as the first was.
RULES: dict[str, Callable[[dict], tuple[dict, str]]] = {
    "appoint": lambda i: ({"effective_date": "2024-01-01"}, "registry.effective_date_in_order"),
    "transfer": lambda i: ({"effective_date": "2024-01-01"}, "registry.effective_date_in_order"),
    "change_to_non_leadership": lambda i: (
        {"cadre_id": i["dismiss"], "effective_date": "2026-06-01"}, "registry.cadre_not_serving"),
    "send_to_off_post_training": lambda i: ({}, "registry.cadre_not_serving"),
    "dismiss": lambda i: ({}, "registry.cadre_not_serving"),
    "order_resignation": lambda i: ({}, "registry.cadre_not_serving"),
    "demote": lambda i: ({"rank": "city_level", "effective_date": "2026-06-01"},
                         "registry.demotion_lowers_rank"),
    "assign_responsibility": lambda i: ({"kind": "key_work_share"}, "registry.task_owner_rank"),
    "set_personal_data_retention": lambda i: ({"cadre_id": i["erased"]},
                                              "registry.already_erased"),
    "erase_personal_data": lambda i: ({}, "registry.already_erased"),
    "conclude_annual_assessment": lambda i: ({}, "evaluations.assessment_concluded"),
    "open_inspection": lambda i: ({"team": TEAM[:1]}, "inspections.mixed_team"),
    "record_finding": lambda i: ({"found_on": "2026-03-01"}, "inspections.date_in_order"),
    "issue_rectification_letter": lambda i: ({"deadline": "2026-03-01"},
                                             "inspections.deadline_after_issue"),
    "report_rectification": lambda i: ({"reported_on": "2026-03-11"},
                                       "inspections.date_in_order"),
    "review_rectification": lambda i: ({}, "inspections.review_after_report"),
    "expose_finding": lambda i: ({}, "inspections.exposed_once"),
    "open_case": lambda i: ({"opened_on": "2026-02-01"}, "accountability.date_in_order"),
    "record_statement": lambda i: ({}, "accountability.case_closed"),
    "impose_measure": lambda i: ({"case_id": i["case3"]},
                                 "accountability.exempted_takes_no_sanction"),
    "decide_handling": lambda i: ({"decided_on": "2026-03-01"}, "accountability.date_in_order"),
    "register_reform_effort": lambda i: ({"starts_on": "2025-12-01"},
                                         "accountability.reform_registered_in_advance"),
    "grant_exemption": lambda i: ({}, "accountability.one_exemption"),
    "file_appeal": lambda i: ({}, "accountability.case_closed"),
    "decide_appeal": lambda i: ({}, "accountability.case_closed"),
    "publish_result": lambda i: ({"case_id": i["case3"]},
                                 "accountability.publish_after_decision"),
    "withdraw_publication": lambda i: ({}, "accountability.publication_in_view"),
    "close_case": lambda i: ({}, "accountability.case_closed"),
    **chain.RULES,
}  # fmt: skip

COMMANDS = sorted(OTHER_PAYLOAD)


def fresh(payload: dict, **fields) -> dict:
    return {**payload, "command_id": str(uuid.uuid4()), **fields}


def refusals(city: City, method: str) -> list[tuple[str, str, dict, type, str | None]]:
    """(what, who sends, payload, the error, the rule or field named) for each refusal."""
    first = city.sent[method]
    payload, ids = first.payload, city.ids
    business = [k for k in payload if k not in ("command_id", "actor")]
    required = REFERENCES.get(method, business[0])
    cases = [
        ("a required field missing", first.who,
         fresh({k: v for k, v in payload.items() if k != required}), youwei.InvalidCommand,
         required),
        ("an unknown field", first.who, fresh(payload, unknown="x"), youwei.InvalidCommand,
         "unknown"),
        ("a field of the wrong type", first.who, fresh(payload, **{business[0]: [1]}),
         youwei.InvalidCommand, business[0]),
        ("the command_id reused with another payload", first.who,
         {**payload, **OTHER_PAYLOAD[method](ids)}, youwei.Conflict, None),
        ("the command_id reused by another agency", SENDERS[first.who], dict(payload),
         youwei.Conflict, None),
    ]  # fmt: skip
    if method in REFERENCES:
        field = REFERENCES[method]
        cases.append((f"{field} naming nothing", first.who, fresh(payload, **{field: NOWHERE}),
                      youwei.InvalidCommand, field))  # fmt: skip
    if method in RULES:
        fields, rule = RULES[method](ids)
        cases.append((f"the rule {rule}", first.who, fresh(payload, **fields),
                      youwei.RuleViolation, rule))  # fmt: skip
    for fields, rule in exemption.MORE_RULES.get(method, lambda i: [])(ids):
        cases.append((f"the rule {rule}", first.who, fresh(payload, **fields),
                      youwei.RuleViolation, rule))  # fmt: skip
    return cases


@pytest.mark.parametrize("method", COMMANDS)
def test_a_refused_command_changes_nothing(stack, city, method) -> None:
    first = city.sent[method]
    before = settled(stack.database)
    for what, who, payload, error, named in refusals(city, method):
        with agency(stack, who) as client, pytest.raises(error) as refused:
            client.call(first.service, method, payload)
        if error is youwei.InvalidCommand:
            assert named in refused.value.errors, (what, refused.value)
        if error is youwei.RuleViolation:
            assert refused.value.rule == named, (what, refused.value)
        assert differences(before, snapshot(stack.database)) == [], what
    assert differences(before, settled(stack.database)) == []
    with agency(stack, first.who) as client:  # the first is still answered as it was
        assert client.call(first.service, method, dict(first.payload)) == first.result


@pytest.mark.parametrize("method", COMMANDS)
def test_a_forbidden_command_is_recorded_and_changes_nothing_else(stack, city, method) -> None:
    """The auditor may send no command: the refusal is one AccessDenied event in the called
    service's log (and the log's head moved to it), and nothing else changes — once the
    relay has confirmed it, the relay's position too."""
    first = city.sent[method]
    log = LOGS[first.service]
    before = settled(stack.database)
    payload = fresh(first.payload)
    with agency(stack, "auditor") as auditor, pytest.raises(youwei.Forbidden) as refused:
        auditor.call(first.service, method, payload)
    assert refused.value.details["method"] == f"{first.service}.{method}"
    after = settled(stack.database)

    head = before["log_heads"][repr(log)]
    [added] = [after[log][k] for k in set(after[log]) - set(before[log])]
    assert added["position"] == head["position"] + 1
    assert added["topic"].endswith(f"{AccessDenied.__qualname__}.Recorded")
    state = transcoder().decode(added["state"])
    assert (state["agency"], state["method"], state["command_id"]) == (
        stack.users["auditor"],
        f"{first.service}.{method}",
        payload["command_id"],
    )
    assert str(added["originator_id"]) == refused.value.details["record_id"]
    assert after["log_heads"][repr(log)] == {**head, "position": added["position"],
                                             "hash": added["hash"]}  # fmt: skip
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        seen = (
            {repr(added["_id"])} if name == log else {repr(log)} if name == "log_heads" else set()
        )
        for key in sorted((set(old) | set(new)) - seen):
            if old.get(key) == new.get(key):
                continue
            assert follows(name, key, old.get(key), new.get(key), log, added["position"]), (
                f"{name} {key}: {old.get(key)!r} -> {new.get(key)!r}"
            )


def follows(name: str, key: str, old: dict | None, new: dict | None, log: str, at: int) -> bool:
    """Whether a change is one of what follows an event appended to ``log`` at ``at``: the
    relay's confirmed position, a projection's tracking of that log and its count of batches
    applied (every position is tracked, public or not)."""
    if old is None or new is None or (key != repr(log) and name != "projections"):
        return False
    changed = {field for field in old.keys() | new.keys() if old.get(field) != new.get(field)}
    if name == "relay_leases":
        return changed == {"position"} and new["position"] == at
    if name.endswith("_tracking"):
        return changed == {"notification_id"} and (
            old["notification_id"],
            new["notification_id"],
        ) == (at - 1, at)
    if name == "projections":
        return changed == {"batches"} and new["batches"] == old["batches"] + 1
    return False


# --- erasure: decided, recorded, then done -------------------------------------------------


def application(stack, service: str):
    [dependency] = [d for d in stack.containers[service].dependencies
                    if isinstance(d, ApplicationDependency)]  # fmt: skip
    return dependency.application


def key_of(database, person: str) -> dict | None:
    return database[KEYS_COLLECTION].find_one({"_id": subject_of(person)})


def rater(channel: str, ref: str) -> str:
    return hmac.new(RATER_KEY.encode(), f"{channel}:{ref}".encode(), hashlib.sha256).hexdigest()


def erase(org: Client, cadre: str, command_id: str | None = None, **fields) -> dict:
    return org.cadre_registry.erase_personal_data(
        {"command_id": command_id or str(uuid.uuid4()), "cadre_id": cadre,
         "reason": "本人申请", "erased_on": "2026-04-01", **fields}
    )  # fmt: skip


def test_an_erase_refused_for_its_reused_command_id_destroys_no_key(stack, city) -> None:
    with agency(stack, "org") as org:
        x, y = (city.cadre(name, city.ids["unit"]) for name in ("欧阳甲", "欧阳乙"))
        command_id = str(uuid.uuid4())
        assert erase(org, x, command_id)["personal_data_erased"]
        before = settled(stack.database)
        with pytest.raises(youwei.Conflict):
            erase(org, y, command_id)
        assert differences(before, snapshot(stack.database)) == []
        assert org.cadre_registry.get_cadre({"cadre_id": y})["name"] == "欧阳乙"
        assert key_of(stack.database, y)["key"] is not None


def test_an_erase_that_cannot_be_recorded_destroys_no_key(stack, city) -> None:
    """A lone surrogate in the reason: refused before or after the decision, whichever way,
    the key is still there."""
    with agency(stack, "org") as org:
        cadre = city.cadre("欧阳丙", city.ids["unit"])
        before = settled(stack.database)
        with pytest.raises(youwei.YouweiError):
            erase(org, cadre, reason="\ud800")
        assert differences(before, snapshot(stack.database)) == []
        assert org.cadre_registry.get_cadre({"cadre_id": cadre})["name"] == "欧阳丙"


def test_an_erase_rater_refused_for_its_reused_command_id_destroys_no_key(stack, city) -> None:
    with agency(stack, "org") as org:
        for ref in ("评议人甲", "评议人乙"):
            org.evaluations.submit_rating(
                {"cadre_id": city.ids["rated"], "channel": "democratic_appraisal",
                 "period": "2026-06", "value": "excellent", "rater_ref": ref}
            )  # fmt: skip
        command_id = str(uuid.uuid4())
        first = {"command_id": command_id, "rater_ref": "评议人甲", "reason": "本人申请",
                 "erased_on": "2026-07-01"}  # fmt: skip
        erased = org.evaluations.erase_rater(dict(first))
        assert org.evaluations.erase_rater(dict(first)) == erased  # a retry: the first answer
        before = settled(stack.database)
        with pytest.raises(youwei.Conflict):
            org.evaluations.erase_rater({**first, "rater_ref": "评议人乙"})
        assert differences(before, snapshot(stack.database)) == []
    assert key_of(stack.database, rater("democratic_appraisal", "评议人甲"))["key"] is None
    assert key_of(stack.database, rater("democratic_appraisal", "评议人乙"))["key"] is not None


class DiesOnce:
    """``PersonalKeys.destroy`` as if the process died just before it, the first time."""

    def __init__(self, monkeypatch, app) -> None:
        self.destroy = app.personal_keys.destroy
        self.died = 0
        monkeypatch.setattr(app.personal_keys, "destroy", self)

    def __call__(self, erasure: str) -> int:
        if not self.died:
            self.died += 1
            raise RuntimeError("the process died here")
        return self.destroy(erasure)


def test_an_erasure_recorded_but_not_done_is_finished_by_its_retry(
    stack, city, monkeypatch
) -> None:
    database = stack.database
    with agency(stack, "org") as org:
        cadre = city.cadre("欧阳丁", city.ids["unit"])
        dies = DiesOnce(monkeypatch, application(stack, "cadre_registry"))
        command_id = str(uuid.uuid4())
        with pytest.raises(youwei.ServiceFailure):
            erase(org, cadre, command_id)
        assert dies.died == 1
        # recorded, not done: the key is still there, marked, and nothing new is sealed
        assert org.cadre_registry.get_cadre({"cadre_id": cadre})["personal_data_erased"]
        assert key_of(database, cadre)["key"] is not None and key_of(database, cadre)["erasing"]
        with pytest.raises(Erased):
            PersonalKeys(database).key_to_seal(subject_of(cadre))

        assert erase(org, cadre, command_id) == {"cadre_id": cadre, "personal_data_erased": True}
        assert org.cadre_registry.get_cadre({"cadre_id": cadre})["name"] is None
        assert set(key_of(database, cadre)) == {"_id", "key", "created_at", "erased_at"}
        assert key_of(database, cadre)["key"] is None


def test_an_erasure_recorded_but_not_done_is_finished_on_start(
    stack, city, monkeypatch, container_factory_module
) -> None:
    """Nobody retries: the registry finishes it at its start (the retention timer's first
    round), the evaluations service at its own; and a rating by a rater whose erasure is
    not done finishes it first, then is sealed under a new key."""
    database = stack.database
    with agency(stack, "org") as org:
        cadre = city.cadre("欧阳戊", city.ids["unit"])
        DiesOnce(monkeypatch, application(stack, "cadre_registry"))
        with pytest.raises(youwei.ServiceFailure):
            erase(org, cadre)
        assert key_of(database, cadre)["key"] is not None

        evaluations = application(stack, "evaluations")
        rating = {"cadre_id": city.ids["rated"], "channel": "democratic_appraisal",
                  "period": "2026-08", "value": "excellent"}  # fmt: skip
        for ref in ("评议人丙", "评议人丁"):
            org.evaluations.submit_rating({**rating, "rater_ref": ref})
        DiesOnce(monkeypatch, evaluations)
        erase_rater = {"rater_ref": "评议人丙", "reason": "本人申请", "erased_on": "2026-09-01"}
        with pytest.raises(youwei.ServiceFailure):
            org.evaluations.erase_rater(erase_rater)
        stale = key_of(database, rater("democratic_appraisal", "评议人丙"))
        assert stale["erasing"]
        assert org.evaluations.submit_rating({**rating, "rater_ref": "评议人丙"})["counted"]
        renewed = key_of(database, rater("democratic_appraisal", "评议人丙"))
        assert renewed["key"] not in (None, stale["key"]) and "erasing" not in renewed

        DiesOnce(monkeypatch, evaluations)
        with pytest.raises(youwei.ServiceFailure):
            org.evaluations.erase_rater({**erase_rater, "rater_ref": "评议人丁"})
        assert key_of(database, rater("democratic_appraisal", "评议人丁"))["erasing"]

    monkeypatch.undo()
    for service, restart in (("cadre_registry", CadreRegistryService),
                             ("evaluations", EvaluationsService)):  # fmt: skip
        stack.containers.pop(service).kill()
        start(stack, container_factory_module, restart)
    wait_for(lambda: key_of(database, cadre)["key"] is None)
    assert key_of(database, rater("democratic_appraisal", "评议人丁"))["key"] is None
    with agency(stack, "org") as org:
        assert org.cadre_registry.get_cadre({"cadre_id": cadre})["name"] is None
