"""Property: no accountability payload is accepted unless valid, and a refused one leaves no
trace. Through the service's entrypoints with a real application on SecantusDB; the services
it asks are stand-ins (nameko's ``worker_factory``): the cadre registry knows one unit and two
cadres, inspections one finding, one overdue letter and one major decision (which started the
reform effort the world registers), evaluations one annual assessment.

The contract is written here from the documented rules, independently of the schemas. A
method with a rule tying two fields together has two valid payloads ("variants"): one where
the dependent field is required (``impose_measure`` with the measure ``accountability`` needs
a ``form``; ``decide_appeal`` ``changed`` needs ``changed_to``), one where it is refused
(``impose_measure/talk``, ``decide_appeal/upheld``). Breaking one field never mends another,
so any combination of breakages must be refused too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from unittest.mock import Mock
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory

from schemas import accountability as contract
from schemas.accountability.reference import (
    ACCOUNTABILITY_FORMS,
    APPEAL_OUTCOMES,
    BASES,
    CASE_STATUSES,
    COMMENDATIONS,
    EXEMPTIONS,
    HANDLINGS,
    MEASURES,
    RISK_LEVELS,
)
from schemas.cadre_registry.reference import RANKS
from schemas.common import load
from schemas.errors import Conflict, InvalidCommand
from services.accountability.application import Accountability
from services.accountability.service import AccountabilityService
from tests.events.support import fresh_database_name
from tests.services.contract import Contract, assert_refused_without_trace, broken
from tests.services.fuzz import READABLE
from tests.services.support import ACTOR, FixedClock, command

# What the stand-ins know.
UNIT, CADRE, COLLEAGUE, FINDING, LETTER, DECISION = (str(uuid4()) for _ in range(6))
ASSESSED_YEAR = 2025
TODAY = date(2026, 12, 31)

SCHEMAS = {
    "open_case": contract.OpenCase,
    "record_statement": contract.RecordStatement,
    "impose_measure": contract.ImposeMeasure,
    "decide_handling": contract.DecideHandling,
    "register_reform_effort": contract.RegisterReformEffort,
    "grant_exemption": contract.GrantExemption,
    "file_appeal": contract.FileAppeal,
    "decide_appeal": contract.DecideAppeal,
    "commend": contract.Commend,
    "publish_result": contract.PublishResult,
    "withdraw_publication": contract.WithdrawPublication,
    "close_case": contract.CloseCase,
    "list_cases": contract.ListCases,
}
COMMANDS = sorted([*(set(SCHEMAS) - {"list_cases"}), "impose_measure/talk", "decide_appeal/upheld",
                   "decide_handling/transfer", "decide_handling/dismissal"])  # fmt: skip
VARIANTS = [*COMMANDS, "list_cases"]


def method_of(variant: str) -> str:
    return variant.split("/")[0]


def lookup(what: str, key: str, known: dict[str, dict]) -> Mock:
    def get(query: dict) -> dict:
        if query[key] not in known:
            raise RemoteError("NotFound", f"no {what} with id {query[key]}")
        return known[query[key]]

    return Mock(side_effect=get)


def stand_ins() -> dict[str, Mock]:
    """The cadre registry, inspections and evaluations as the service calls them."""

    def get_assessment(query: dict) -> dict:
        year = query["year"]
        if type(year) is not int or not 2000 <= year <= 2100:  # as evaluations' own schema
            raise RemoteError("InvalidCommand", '{"year": ["must be a year 2000-2100"]}')
        if (query["cadre_id"], year) != (CADRE, ASSESSED_YEAR):
            raise RemoteError("NotFound", f"no assessment of {query['cadre_id']} that year")
        return {"cadre_id": CADRE, "year": ASSESSED_YEAR, "grade": "basically_competent"}

    units = {UNIT: {"unit_id": UNIT, "name": "市政务服务中心"}}
    cadres = {cadre: {"cadre_id": cadre, "unit_id": UNIT} for cadre in (CADRE, COLLEAGUE)}
    findings = {FINDING: {"finding_id": FINDING, "unit_id": UNIT, "cadre_id": CADRE}}
    letters = {LETTER: {"letter_id": LETTER, "unit_id": UNIT, "overdue": True}}
    return {
        "cadre_registry": Mock(
            get_unit=lookup("unit", "unit_id", units),
            get_cadre=lookup("cadre", "cadre_id", cadres),
        ),
        "inspections": Mock(
            get_finding=lookup("finding", "finding_id", findings),
            get_rectification_letter=lookup("letter", "letter_id", letters),
        ),
        "evaluations": Mock(get_assessment=Mock(side_effect=get_assessment)),
        "clock": FixedClock(TODAY),  # after every day the valid payloads name
    }


# One basis item of each kind, each known to the stand-ins.
BASIS = [
    {"kind": "finding", "finding_id": FINDING},
    {"kind": "overdue_letter", "letter_id": LETTER},
    {"kind": "assessment", "year": ASSESSED_YEAR},
    {"kind": "report", "reference": "12345热线 第88号"},
]
FOUND, OVERDUE, ASSESSED, REPORTED = BASIS


@dataclass
class World:
    """Aggregates made through the service, in states where each valid payload is accepted."""

    service: AccountabilityService
    application: Accountability
    effort: str  # a reform effort of UNIT, CADRE and COLLEAGUE taking part, in 2026
    fresh: str  # an open case about CADRE, nothing decided on it
    appealed: str  # a case with a handling appealed (pending), and a measure not appealed
    pending: str  # the appealed handling (post_adjustment)
    unappealed: str  # the measure not appealed (talk)
    published: str  # a case with a publication in view
    shown: str  # the decision the publication shows

    def valid(self, variant: str) -> dict:
        reason = {"reason": "窗口无人值守，群众反映强烈"}
        fields = {
            "open_case": {"cadre_id": CADRE, "basis": BASIS, "summary": "暗访发现窗口无人",
                          "occurred_on": "2026-03-01", "opened_on": "2026-03-05"},
            "record_statement": {"case_id": self.fresh, "statement": "当日外出参加培训",
                                 "made_on": "2026-03-10"},
            "impose_measure": {"case_id": self.fresh, "measure": "accountability",
                               "form": "circulated_criticism", **reason,
                               "decided_on": "2026-03-10"},
            "impose_measure/talk": {"case_id": self.fresh, "measure": "talk", **reason,
                                    "decided_on": "2026-03-10"},
            "decide_handling": {"case_id": self.fresh, "handling": "demotion", **reason,
                                "rank": "township_section", "post": "科员",
                                "decided_on": "2026-03-10"},
            "decide_handling/transfer": {"case_id": self.fresh, "handling": "transfer",
                                         **reason, "unit_id": UNIT, "post": "科员",
                                         "decided_on": "2026-03-10"},
            "decide_handling/dismissal": {"case_id": self.fresh, "handling": "dismissal",
                                          **reason, "decided_on": "2026-03-10"},
            "register_reform_effort": {
                "unit_id": UNIT, "title": "“最多跑一次”审批改革", "risk_assessment": "风险可控",
                "risk_level": "medium", "participants": [CADRE, COLLEAGUE],
                "registered_on": "2026-01-01", "starts_on": "2026-01-15",
                "ends_on": "2026-12-31",
            },
            "grant_exemption": {"case_id": self.fresh, "reform_effort_id": self.effort,
                                "outcome": "exempted", "reasons": "改革探索中的失误，未谋私利",
                                "granted_on": "2026-03-10", "decision_id": DECISION,
                                "no_personal_gain": {"holds": True, "basis": "未谋取私利"},
                                "no_prohibition_broken": {"holds": True, "basis": "未违禁"}},
            "file_appeal": {"case_id": self.appealed, "decision_id": self.unappealed,
                            "grounds": "有培训通知为证", "filed_on": "2026-03-12"},
            "decide_appeal": {"case_id": self.appealed, "decision_id": self.pending,
                              "outcome": "changed",
                              "changed_to": {"kind": "transfer", "unit_id": UNIT, "post": "科员"},
                              **reason, "decided_on": "2026-03-15"},
            "decide_appeal/upheld": {"case_id": self.appealed, "decision_id": self.pending,
                                     "outcome": "upheld", **reason, "decided_on": "2026-03-15"},
            "commend": {"cadre_id": COLLEAGUE, "kind": "commendation", **reason,
                        "commended_on": "2026-03-10"},
            "publish_result": {"case_id": self.appealed, "summary": "对周敏同志予以约谈",
                               "published_on": "2026-03-15"},
            "withdraw_publication": {"case_id": self.published, "reason": "涉及个人隐私",
                                     "withdrawn_on": "2026-03-20"},
            "close_case": {"case_id": self.fresh, "conclusion": "办结", "closed_on": "2026-03-20"},
        }  # fmt: skip
        if variant == "list_cases":
            return {"cadre_id": CADRE, "status": "open", "basis": "report", "measure": "talk",
                    "handling": "post_adjustment", "published": False, "exempted": False,
                    "opened_from": "2026-01-01", "opened_to": "2026-12-31", "page": 1,
                    "page_size": 50}  # fmt: skip
        return {"command_id": str(uuid4()), "actor": dict(ACTOR), **fields[variant]}

    def contract(self, variant: str) -> Contract:
        """The contract for ``variant``, with ids of this world that must be refused where
        another kind of thing is expected."""
        if variant == "list_cases":
            return LIST_CONTRACT
        other_kind = {"case_id": [self.effort], "reform_effort_id": [self.fresh],
                      "decision_id": [self.shown]}  # a decision of another case  # fmt: skip
        more = {**CONTRACT.more_broken, **VARIANTS_MORE_BROKEN.get(variant, {})}
        for name, values in other_kind.items():
            more[name] = [*more[name], *values]
        codes = {**CONTRACT.codes, **VARIANTS_CODES.get(variant, {})}
        optional = CONTRACT.optional | set(ABSENT.get(variant, [])) | RULED.get(variant, set())
        return replace(CONTRACT, codes=codes, optional=optional, more_broken=more)

    def breakages(self, variant: str) -> list[tuple[str, str, object]]:
        fields = [*self.valid(variant), *ABSENT.get(variant, [])]
        cases = self.contract(variant).breakages(fields)
        if variant == "list_cases":  # a filter may name a cadre with no case
            cases = [case for case in cases if not (case[0] == "cadre_id" and is_uuid(case[2]))]
        return cases


def is_uuid(value: object) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def build_world(service: AccountabilityService, application: Accountability) -> World:
    def send(method: str, **fields) -> dict:
        return getattr(service, method)(command(**fields))

    effort = send(
        "register_reform_effort", unit_id=UNIT, title="容缺受理试点", risk_assessment="可控",
        risk_level="low", participants=[CADRE, COLLEAGUE], registered_on="2026-01-01",
        starts_on="2026-01-01", ends_on="2026-12-31",
    )["reform_effort_id"]  # fmt: skip
    # the major decision that started it, procedure followed, as inspections answers it
    started = {"decision_id": DECISION, "decided_on": "2025-12-30", "missing_steps": [],
               "reform_effort_ids": [effort]}  # fmt: skip
    service.inspections.get_major_decision = lookup("decision", "decision_id",
                                                    {DECISION: started})  # fmt: skip

    def case() -> str:
        return send("open_case", cadre_id=CADRE, basis=[REPORTED], summary="窗口无人值守",
                    occurred_on="2026-03-01", opened_on="2026-03-05")["case_id"]  # fmt: skip

    fresh, appealed, published = case(), case(), case()
    pending = send("decide_handling", case_id=appealed, handling="post_adjustment", post="科员",
                   reason="不适宜担任现职", decided_on="2026-03-06")["decision_id"]  # fmt: skip
    send("file_appeal", case_id=appealed, decision_id=pending, grounds="处理过重",
         filed_on="2026-03-07")  # fmt: skip
    unappealed = send("impose_measure", case_id=appealed, measure="talk", reason="履职不到位",
                      decided_on="2026-03-06")["decision_id"]  # fmt: skip
    shown = send("impose_measure", case_id=published, measure="accountability", reason="不到位",
                 form="admonishment", decided_on="2026-03-06")["decision_id"]  # fmt: skip
    send("publish_result", case_id=published, summary="对周敏同志诫勉", published_on="2026-03-08")
    return World(service, application, effort, fresh, appealed, pending, unappealed,
                 published, shown)  # fmt: skip


# --- the contract, from the documented rules ------------------------------------------------

TEXTS = ("summary", "statement", "reason", "reasons", "grounds", "conclusion", "title",
         "risk_assessment")  # fmt: skip
DATES = ("occurred_on", "opened_on", "made_on", "decided_on", "registered_on", "starts_on",
         "ends_on", "granted_on", "filed_on", "commended_on", "published_on", "withdrawn_on",
         "closed_on")  # fmt: skip
BAD_DATES = ["2026-02-30", "yesterday", 20260101, "2026-1-1x", "2026-13-01",  # YYYY-MM-DD only
             "20260101", "2026-W01-4", "2026-01-01\n", "２０２６-03-01"]  # fmt: skip
TOO_LONG = "字" * 2001


def with_item(item: object) -> list:
    """The valid basis with one more item."""
    return [*BASIS, item]


BROKEN_BASIS = [
    None, [], "report", REPORTED, [REPORTED] * 21, [None], ["report"],
    # a kind the catalogue lacks, or none
    with_item({"kind": "no_such_code", "reference": "x"}), with_item({"kind": "Report"}),
    with_item({"reference": "x"}), with_item({"kind": None, "reference": "x"}),
    # the kind's own field missing, null or malformed
    *[with_item({"kind": kind}) for kind in sorted(BASES)],
    with_item({**FOUND, "finding_id": None}), with_item({**FOUND, "finding_id": "not-a-uuid"}),
    with_item({**OVERDUE, "letter_id": 42}), with_item({**REPORTED, "reference": ""}),
    with_item({**REPORTED, "reference": TOO_LONG}), with_item({**REPORTED, "reference": 17}),
    *[with_item({**ASSESSED, "year": year}) for year in (1999, 2101, "2025", 2025.5, True, None)],
    # another kind's field beside the kind's own, or a field no kind has
    with_item({**FOUND, "letter_id": LETTER}), with_item({**OVERDUE, "finding_id": FINDING}),
    with_item({**ASSESSED, "reference": "x"}), with_item({**REPORTED, "year": ASSESSED_YEAR}),
    with_item({**REPORTED, "surprise": 1}),
    # well formed, but the service that owns it does not know it
    with_item({**FOUND, "finding_id": str(uuid4())}), with_item({**FOUND, "finding_id": LETTER}),
    with_item({**OVERDUE, "letter_id": str(uuid4())}), with_item({**OVERDUE, "letter_id": FINDING}),
    with_item({**ASSESSED, "year": ASSESSED_YEAR - 1}),
]  # fmt: skip
MANY = [str(uuid4()) for _ in range(201)]
BROKEN_PARTICIPANTS = [
    None, [], CADRE, MANY, [CADRE, CADRE], [CADRE, CADRE.upper()], [CADRE, None], [42],
    ["not-a-uuid"], [CADRE, str(uuid4())], [UNIT],
]  # fmt: skip
BROKEN_CHANGED_TO = [
    None, "transfer", {}, {"form": "admonishment"}, {"kind": None},
    {"kind": "no_such_code"}, {"kind": "transfer "}, {"kind": "exempted"},
    {"kind": "transfer", "form": "admonishment"},  # a form only with accountability
    {"kind": "accountability"}, {"kind": "accountability", "form": None},
    {"kind": "accountability", "form": "no_such_code"},
    {"kind": "transfer", "unit_id": UNIT, "post": "科员", "surprise": 1},
    # a handling names the post it changes to, as it needs (HANDLING_TARGETS), and no more
    {"kind": "transfer"}, {"kind": "transfer", "post": "科员"},
    {"kind": "transfer", "unit_id": str(uuid4()), "post": "科员"},  # no such unit
    {"kind": "transfer", "unit_id": UNIT, "post": ""},
    {"kind": "demotion", "post": "科员"}, {"kind": "demotion", "rank": "colonel", "post": "科员"},
    {"kind": "dismissal", "post": "科员"}, {"kind": "talk", "post": "科员"},
]  # fmt: skip
CONTRACT = Contract(
    texts=dict.fromkeys(TEXTS, 2000),
    codes={
        "measure": MEASURES,
        "form": ACCOUNTABILITY_FORMS,
        "handling": HANDLINGS,
        "kind": COMMENDATIONS,
        "risk_level": RISK_LEVELS,
        "rank": RANKS,
    },
    names_100={"post"},
    optional={"ends_on"},
    more_broken={
        **{name: [*BAD_DATES, None] for name in DATES},
        "ends_on": BAD_DATES,
        **{name: [None] for name in TEXTS},
        "cadre_id": [None, UNIT],  # a unit is not a cadre
        "unit_id": [None, CADRE],  # nor a cadre a unit
        "case_id": [None],
        "decision_id": [None],
        "reform_effort_id": [None],
        "measure": [None, "transfer"],  # a handling is not a measure
        "form": [None, "talk"],  # required with the measure accountability
        "handling": [None, "talk"],
        "kind": [None, "talk"],
        "risk_level": [None, "critical", "中"],
        "post": [None],
        "rank": [None, "mayor"],
        "basis": BROKEN_BASIS,
        "participants": BROKEN_PARTICIPANTS,
    },
)
#: Fields a variant's valid payload leaves out, yet breaks by adding them.
ABSENT = {"impose_measure/talk": ["form"], "decide_appeal/upheld": ["changed_to"],
          "decide_handling/dismissal": ["unit_id", "post", "rank"]}  # fmt: skip
#: Fields a variant may leave out or null: a rule then refuses it, naming the condition
#: (tolerance for reform: the decision and the commission's statements, EXEMPTION_RULES).
RULED = {"grant_exemption": {"decision_id", "no_personal_gain", "no_prohibition_broken"}}
BROKEN_STATEMENTS = [{"holds": "yes", "basis": "x"}, {"holds": 1, "basis": "x"}, {"holds": True},
                     {"basis": "x"}, {"holds": True, "basis": ""},
                     {"holds": True, "basis": "字" * 2001}, {"holds": True, "basis": "x", "y": 1},
                     True, "true", []]  # fmt: skip
VARIANTS_CODES = {
    "grant_exemption": {"outcome": EXEMPTIONS},
    "decide_appeal": {"outcome": APPEAL_OUTCOMES},
    "decide_appeal/upheld": {"outcome": APPEAL_OUTCOMES},
}
VARIANTS_MORE_BROKEN = {
    "impose_measure/talk": {"form": ["circulated_criticism", "talk"]},  # only with accountability
    # a dismissal names no new post
    "decide_handling/dismissal": {"unit_id": [UNIT], "post": ["科员"], "rank": ["staff"]},
    "grant_exemption": {
        "outcome": [None, "upheld"],
        "decision_id": [],
        "no_personal_gain": BROKEN_STATEMENTS,
        "no_prohibition_broken": BROKEN_STATEMENTS,
    },
    "decide_appeal": {
        "outcome": [None, "exempted"],
        "changed_to": BROKEN_CHANGED_TO,
    },
    "decide_appeal/upheld": {
        "outcome": [None, "exempted"],
        "changed_to": [{"kind": "transfer"}, {"kind": "accountability", "form": "admonishment"}],
    },
}
LIST_FILTERS = ("cadre_id", "status", "basis", "measure", "handling", "published", "exempted",
                "opened_from", "opened_to", "page", "page_size")  # fmt: skip
LIST_CONTRACT = Contract(
    codes={"status": CASE_STATUSES, "basis": BASES, "measure": MEASURES, "handling": HANDLINGS},
    optional=set(LIST_FILTERS),
    more_broken={
        "cadre_id": [None],
        "status": [None, "in_force"],
        "basis": [None, [REPORTED], "talk"],
        "measure": [None, "transfer"],
        "handling": [None, "talk"],
        "published": [None, "true", "yes", "", [True], 1, 0, 1.0],  # true or false only
        "exempted": [None, "false", "no", "", [False], 1, 0, 0.0],
        "opened_from": [*BAD_DATES, None],
        "opened_to": [*BAD_DATES, None, "2025-12-31"],  # before opened_from
        "page": [None, 0, -1, 100_001, True, "x", "1.5", 1.5, 2.0, "2"],  # integers only
        "page_size": [None, 0, -1, 501, True, "x", 10.5, "10"],
    },
)


# --- the service ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def application(mongodb_uri):
    database = fresh_database_name()
    application = Accountability(
        env={"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
             "MONGODB_DATABASE": database}
    )  # fmt: skip
    yield application
    application.factory.datastore.client.drop_database(database)
    application.close()


@pytest.fixture(scope="module")
def service(application) -> AccountabilityService:
    return worker_factory(AccountabilityService, accountability=application, **stand_ins())


@pytest.fixture(scope="module")
def world(service, application) -> World:
    return build_world(service, application)


def refused_without_trace(world: World, variant: str, payload: object, fields: set) -> None:
    entrypoint = getattr(world.service, method_of(variant))
    assert_refused_without_trace(entrypoint, world.application.recorder, payload, fields)


# --- the properties -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_contracts_valid_payloads_pass_the_schemas(world, variant) -> None:
    load(SCHEMAS[method_of(variant)], world.valid(variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_single_breakage_is_refused_naming_the_field(world, variant) -> None:
    cases = world.breakages(variant)
    for field, how, value in cases:
        payload = broken(world.valid(variant), field, how, value)
        refused_without_trace(world, variant, payload, {field})
    assert len(cases) > 30


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_randomly_broken_payloads_are_refused_and_leave_no_trace(world, data) -> None:
    variant = data.draw(st.sampled_from(VARIANTS), label="variant")
    cases = world.breakages(variant)
    chosen = data.draw(st.lists(st.sampled_from(cases), min_size=1, max_size=4), label="broken")
    payload = world.valid(variant)
    for field, how, value in chosen:
        payload = broken(payload, field, how, value)
    refused_without_trace(world, variant, payload, {field for field, _, _ in chosen})


@settings(max_examples=30, deadline=None)
@given(payload=st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                         st.dictionaries(st.text(max_size=10), st.text(max_size=10))))  # fmt: skip
def test_arbitrary_payloads_are_refused(world, payload) -> None:
    before = world.application.recorder.max_notification_id()
    for method in sorted(set(SCHEMAS) - {"list_cases"}):
        with pytest.raises(InvalidCommand):
            getattr(world.service, method)(payload)
    assert world.application.recorder.max_notification_id() == before


@pytest.mark.parametrize("variant", COMMANDS)
def test_a_valid_command_retried_returns_the_same_result_and_records_nothing(
    service, application, variant
) -> None:
    """In a world of its own: the valid payload changes what it names."""
    world = build_world(service, application)
    entrypoint = getattr(service, method_of(variant))
    recorder = application.recorder
    payload = world.valid(variant)
    before = recorder.max_notification_id()
    first = entrypoint(payload)
    after = recorder.max_notification_id()
    assert after > before
    assert entrypoint(payload) == first
    assert entrypoint({**payload, "actor": dict(ACTOR)}) == first
    assert recorder.max_notification_id() == after
    with pytest.raises(Conflict):  # the same command_id with another payload
        entrypoint({**payload, "actor": {**ACTOR, "person": "someone else"}})
    assert recorder.max_notification_id() == after


@pytest.fixture(scope="module")
def talkative(service) -> str:
    """An open case that only ever gets statements."""
    return service.open_case(
        command(cadre_id=COLLEAGUE, basis=[REPORTED], summary="群众举报",
                occurred_on="2026-02-01", opened_on="2026-02-02")
    )["case_id"]  # fmt: skip


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    text=st.text(READABLE, min_size=1, max_size=2000),
    kind=st.sampled_from(sorted(COMMENDATIONS)),
)
def test_valid_statements_and_commendations_are_recorded_once(world, talkative, text, kind) -> None:
    recorder = world.application.recorder
    statement = command(case_id=talkative, statement=text, made_on="2026-02-03")
    commendation = command(cadre_id=COLLEAGUE, kind=kind, reason=text, commended_on="2026-02-03")
    before = recorder.max_notification_id()
    recorded = world.service.record_statement(statement)
    commended = world.service.commend(commendation)
    after = recorder.max_notification_id()
    assert after == before + 4  # each command's event and its record
    assert recorded["case"]["statements"][-1]["statement"] == text
    assert world.service.record_statement(statement) == recorded
    assert world.service.commend(commendation) == commended
    assert recorder.max_notification_id() == after
    shown = world.service.get_commendation({"commendation_id": commended["commendation_id"]})
    assert (shown["reason"], shown["kind"]["code"]) == (text, kind)


def test_the_valid_list_query_is_answered_and_records_nothing(world) -> None:
    before = world.application.recorder.max_notification_id()
    listed = world.service.list_cases(world.valid("list_cases"))
    ids = [case["case_id"] for case in listed["cases"]]
    assert world.appealed in ids and not {world.fresh, world.published} & set(ids)
    assert listed["total"] == len(ids)  # other tests' worlds have such cases too
    for case in listed["cases"]:
        in_force = [d for d in case["decisions"] if d["status"]["code"] != "revoked"]
        assert case["cadre_id"] == CADRE and case["status"]["code"] == "open"
        assert {"talk", "post_adjustment"} <= {d["kind"]["code"] for d in in_force}
        assert case["exemption"] is None
        assert all(p["withdrawn_on"] is not None for p in case["publications"])
    assert world.application.recorder.max_notification_id() == before
