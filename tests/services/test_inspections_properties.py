"""Property: no inspections payload is accepted unless valid, and a refused one leaves no
trace. Through the service's entrypoints with a real application on SecantusDB; the cadre
registry it asks is a stand-in that knows one unit and one cadre (nameko's
``worker_factory``). The inspection, findings and letters the valid payloads name are made
through the service itself, by the same valid payloads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from unittest.mock import Mock
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nameko.exceptions import RemoteError
from nameko.testing.services import worker_factory

from schemas import inspections as contract
from schemas.common import load
from schemas.errors import InvalidCommand
from schemas.inspections.reference import (
    CADRE_TYPES,
    CATEGORIES,
    EXPOSURES,
    INSPECTION_KINDS,
    SITUATIONS,
)
from services.inspections.application import Inspections
from services.inspections.service import InspectionsService
from tests.events.support import fresh_database_name
from tests.services.contract import Contract, assert_refused_without_trace, broken
from tests.services.fuzz import READABLE
from tests.services.support import ACTOR, FixedClock

COMMANDS = {
    "open_inspection": contract.OpenInspection,
    "record_finding": contract.RecordFinding,
    "issue_rectification_letter": contract.IssueRectificationLetter,
    "report_rectification": contract.ReportRectification,
    "review_rectification": contract.ReviewRectification,
    "expose_finding": contract.ExposeFinding,
}
QUERIES = {"list_findings": contract.ListFindings}
SCHEMAS = {**COMMANDS, **QUERIES}

KNOWN_UNIT = str(uuid4())
KNOWN_CADRE = str(uuid4())
TEAM = [{"name": "李纪检", "role": "commission"}, {"name": "王记者", "role": "media"}]
FILM = {"reference": "暗访片 2026-05 第3段", "sha256": "0f" * 32}
STARTED_ON = date(2026, 5, 6)

# Dates are ISO YYYY-MM-DD (docs/rpc.md); the order rules between them are domain rules
# (RuleViolation), so only malformed dates are breakages here.
NOT_DATES = ["2026-02-30", "yesterday", 20260101, "2026-1-1x", "2026-5-6", "", None,
             "2026-05-06T00:00:00", "20260506", "2026-W19-3", "2026-05-06\n"]  # fmt: skip
NOT_BOOLEANS = ["true", "false", "True", "yes", None, 1, 0, 1.0, 0.0]
NOT_EVIDENCE = [
    None, "x", FILM, [FILM] * 51, [None], ["x"], [{}],
    [{"sha256": FILM["sha256"]}], [{"reference": FILM["reference"]}],
    [{**FILM, "kept_by": "纪委"}],
    [{**FILM, "reference": ""}], [{**FILM, "reference": "字" * 501}], [{**FILM, "reference": 17}],
    [{**FILM, "sha256": "0F" * 32}], [{**FILM, "sha256": "0f" * 31}],
    [{**FILM, "sha256": "0f" * 32 + "0"}], [{**FILM, "sha256": "g" * 64}],
    [{**FILM, "sha256": ""}], [{**FILM, "sha256": None}], [{**FILM, "sha256": 17}],
    [{**FILM, "sha256": "0f" * 32 + "\n"}],
    [FILM, {**FILM, "sha256": "zz"}],
]  # fmt: skip
NOT_TEAMS = [
    [], None, "李纪检", TEAM[0],
    [*TEAM, *({"name": f"成员{i}", "role": "media"} for i in range(49))],  # 51 members
    [*TEAM, None], [*TEAM, "x"], [*TEAM, {}], [*TEAM, {"name": "赵"}], [*TEAM, {"role": "media"}],
    [*TEAM, {"name": "", "role": "media"}], [*TEAM, {"name": "字" * 101, "role": "media"}],
    [*TEAM, {"name": 17, "role": "media"}], [*TEAM, {"name": "赵", "role": "journalist"}],
    [*TEAM, {"name": "赵", "role": "MEDIA"}], [*TEAM, {"name": "赵", "role": "media "}],
    [*TEAM, {"name": "赵", "role": None}], [*TEAM, {"name": "赵", "role": "media", "tel": "110"}],
]  # fmt: skip
DATES = ("started_on", "found_on", "issued_on", "deadline", "reported_on", "reviewed_on",
         "exposed_on")  # fmt: skip
CONTRACT = Contract(
    texts={"title": 2000, "description": 2000, "requirements": 2000, "report": 2000,
           "reason": 2000},
    codes={"kind": INSPECTION_KINDS, "situation": SITUATIONS, "cadre_type": CADRE_TYPES,
           "exposure": EXPOSURES},
    optional={"cadre_id", "cadre_type", "evidence", "typical"},
    more_broken={
        **{name: NOT_DATES for name in DATES},
        "accepted": NOT_BOOLEANS,
        "typical": NOT_BOOLEANS,
        "evidence": NOT_EVIDENCE,
        "team": NOT_TEAMS,
    },
)  # fmt: skip
QUERY_CONTRACT = Contract(
    codes={"category": CATEGORIES, "situation": SITUATIONS},
    optional={"inspection_id", "unit_id", "cadre_id", "category", "situation", "found_from",
              "found_to", "typical", "page", "page_size"},
    more_broken={
        "found_from": NOT_DATES,
        "found_to": [*NOT_DATES, "2026-04-30"],  # before found_from
        "typical": NOT_BOOLEANS,
        "page": [0, -1, 100_001, None, True, "x", "", 1.5, "1"],
        "page_size": [0, 501, None, True, "x", "", 10.5, "10"],
    },
)  # fmt: skip


def registry_stand_in() -> Mock:
    def get_unit(query: dict) -> dict:
        if query["unit_id"] != KNOWN_UNIT:
            raise RemoteError("NotFound", f"no unit with id {query['unit_id']}")
        return {"unit_id": KNOWN_UNIT, "name": "市政务服务中心"}

    def get_cadre(query: dict) -> dict:
        if query["cadre_id"] != KNOWN_CADRE:
            raise RemoteError("NotFound", f"no cadre with id {query['cadre_id']}")
        return {"cadre_id": KNOWN_CADRE, "name": "刘洋"}

    return Mock(get_unit=Mock(side_effect=get_unit), get_cadre=Mock(side_effect=get_cadre))


@dataclass
class World:
    service: InspectionsService
    application: Inspections
    inspection: str = ""
    findings: list[str] = field(default_factory=list)  # 101 of them, all of KNOWN_UNIT
    awaiting: str = ""  # a letter awaiting its report
    reported: str = ""  # a letter reported, awaiting its review

    def valid(self, method: str) -> dict:
        """A valid payload: accepted by the service as long as the world is as the module
        fixture left it (refused payloads change nothing)."""
        finding = self.findings[0] if self.findings else ""
        fields = {
            "open_inspection": {"kind": "undercover_visit", "title": "政务服务窗口暗访",
                                "started_on": STARTED_ON.isoformat(), "team": list(TEAM)},
            "record_finding": {"inspection_id": self.inspection, "unit_id": KNOWN_UNIT,
                               "cadre_id": KNOWN_CADRE, "situation": "absent_from_post",
                               "cadre_type": "dozing", "description": "工作时间窗口无人",
                               "evidence": [dict(FILM)], "typical": True,
                               "found_on": "2026-05-07"},
            "issue_rectification_letter": {"unit_id": KNOWN_UNIT,
                                           "finding_ids": self.findings[:2],
                                           "requirements": "一个月内整改到位",
                                           "issued_on": "2026-05-10", "deadline": "2026-06-10"},
            "report_rectification": {"letter_id": self.awaiting, "report": "已建立窗口值守制度",
                                     "reported_on": "2026-05-20"},
            "review_rectification": {"letter_id": self.reported, "accepted": True,
                                     "reason": "经复查整改到位", "reviewed_on": "2026-05-25"},
            "expose_finding": {"finding_id": finding, "exposure": "media",
                               "exposed_on": "2026-05-12"},
        }  # fmt: skip
        if method == "list_findings":
            return {"page": 1, "page_size": 20, "inspection_id": self.inspection,
                    "unit_id": KNOWN_UNIT, "cadre_id": KNOWN_CADRE, "category": "muddling",
                    "situation": "absent_from_post", "found_from": "2026-05-01",
                    "found_to": "2026-05-31", "typical": True}  # fmt: skip
        return {"command_id": str(uuid4()), "actor": dict(ACTOR), **fields[method]}

    def breakages(self, method: str) -> list[tuple[str, str, object]]:
        payload = self.valid(method)
        if method in QUERIES:
            # A query's filter may name an id nothing has (it matches nothing): only
            # malformed ids are breakages.
            return [case for case in QUERY_CONTRACT.breakages(list(payload))
                    if not (case[0].endswith("_id") and is_uuid(case[2]))]  # fmt: skip
        cases = CONTRACT.breakages(list(payload))
        if method == "issue_rectification_letter":
            first, second = self.findings[:2]
            not_finding_ids = [
                [], None, first, [first, first], [first, second, first], [first, str(uuid4())],
                [str(uuid4())], [first, "not-a-uuid"], [first, 42], [first, None],
                self.findings,  # 101 findings, each of the unit and existing
            ]  # fmt: skip
            cases += [("finding_ids", "set", value) for value in not_finding_ids]
        return cases


def is_uuid(value: object) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


@pytest.fixture(scope="module")
def world(mongodb_uri):
    database = fresh_database_name()
    application = Inspections(
        env={"PERSISTENCE_MODULE": "events.mongodb", "MONGODB_URI": mongodb_uri,
             "MONGODB_DATABASE": database}
    )  # fmt: skip
    service = worker_factory(
        InspectionsService,
        inspections=application,
        cadre_registry=registry_stand_in(),
        clock=FixedClock(date(2027, 12, 31)),  # after every day the valid payloads name
    )
    world = World(service, application)
    # Every valid payload is accepted once, on aggregates of its own where it would change
    # the ones the breakages name.
    world.inspection = service.open_inspection(world.valid("open_inspection"))["inspection_id"]
    world.findings = [service.record_finding(world.valid("record_finding"))["finding_id"]]
    other = {**world.valid("record_finding"), "cadre_id": None, "typical": False}
    world.findings.append(service.record_finding(other)["finding_id"])
    exposed = {**world.valid("expose_finding"), "finding_id": world.findings[1]}
    assert len(service.expose_finding(exposed)["exposures"]) == 1
    for number in range(99):  # 101 in all: one more than a letter may name
        more = {**world.valid("record_finding"), "description": f"第{number}处"}
        world.findings.append(service.record_finding(more)["finding_id"])
    letters = [
        service.issue_rectification_letter(world.valid("issue_rectification_letter"))["letter_id"]
        for _ in range(3)
    ]
    world.awaiting, world.reported, reviewed = letters
    for letter in (world.reported, reviewed):
        service.report_rectification({**world.valid("report_rectification"), "letter_id": letter})
    review = {**world.valid("review_rectification"), "letter_id": reviewed}
    assert service.review_rectification(review)["status"]["code"] == "accepted"
    assert service.list_findings(world.valid("list_findings"))["total"] == 100
    yield world
    application.factory.datastore.client.drop_database(database)
    application.close()


def assert_refused(world: World, method: str, payload: object, fields: set) -> None:
    entrypoint = getattr(world.service, method)
    assert_refused_without_trace(entrypoint, world.application.recorder, payload, fields)


@pytest.mark.parametrize("method", sorted(SCHEMAS))
def test_the_contracts_valid_payloads_pass_the_schemas(world, method) -> None:
    load(SCHEMAS[method], world.valid(method))


@pytest.mark.parametrize("method", sorted(SCHEMAS))
def test_every_single_breakage_is_refused_naming_the_field(world, method) -> None:
    cases = world.breakages(method)
    for name, how, value in cases:
        assert_refused(world, method, broken(world.valid(method), name, how, value), {name})
    assert len(cases) > 20


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), method=st.sampled_from(sorted(SCHEMAS)))
def test_randomly_broken_payloads_are_refused_and_leave_no_trace(world, data, method) -> None:
    chosen = data.draw(st.lists(st.sampled_from(world.breakages(method)), min_size=1, max_size=4))
    payload = world.valid(method)
    for name, how, value in chosen:
        payload = broken(payload, name, how, value)
    assert_refused(world, method, payload, {name for name, _, _ in chosen})


@settings(max_examples=20, deadline=None)
@given(payload=st.one_of(st.none(), st.integers(), st.text(), st.lists(st.integers()),
                         st.dictionaries(st.text(max_size=10), st.text(max_size=10))))  # fmt: skip
def test_arbitrary_payloads_are_refused(world, payload) -> None:
    before = world.application.recorder.max_notification_id()
    methods = COMMANDS if isinstance(payload, dict) else SCHEMAS  # a query's filters are optional
    for method in methods:
        with pytest.raises(InvalidCommand):
            getattr(world.service, method)(payload)
    assert world.application.recorder.max_notification_id() == before


evidence = st.builds(
    lambda reference, content: {"reference": reference,
                                "sha256": hashlib.sha256(content).hexdigest()},
    st.text(READABLE, min_size=1, max_size=500),
    st.binary(max_size=32),
)  # fmt: skip


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    situation=st.sampled_from(sorted(SITUATIONS)),
    cadre=st.sampled_from([KNOWN_CADRE, None]),
    cadre_type=st.one_of(st.none(), st.sampled_from(sorted(CADRE_TYPES))),
    description=st.text(READABLE, min_size=1, max_size=2000),
    films=st.lists(evidence, max_size=3),
    typical=st.booleans(),
    days=st.integers(min_value=0, max_value=400),
)
def test_valid_findings_are_recorded_once_per_command_id(
    world, situation, cadre, cadre_type, description, films, typical, days
) -> None:
    found_on = (STARTED_ON + timedelta(days)).isoformat()
    payload = {**world.valid("record_finding"), "situation": situation, "cadre_id": cadre,
               "cadre_type": cadre_type, "description": description, "evidence": films,
               "typical": typical, "found_on": found_on}  # fmt: skip
    recorder = world.application.recorder
    before = recorder.max_notification_id()
    first = world.service.record_finding(payload)
    after = recorder.max_notification_id()
    assert after == before + 2  # the finding's event and the command's record
    assert world.service.record_finding(payload) == first
    assert world.service.record_finding(dict(payload)) == first
    assert recorder.max_notification_id() == after
    again = world.service.record_finding({**payload, "command_id": str(uuid4())})
    assert again["finding_id"] != first["finding_id"], "another command_id is another finding"
