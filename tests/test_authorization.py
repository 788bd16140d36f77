"""The authorization policy (schemas.authorization) as data: it names every RPC method of
every service and nothing else, every service serves its RPC through the identity-checking
entrypoint, and its decisions follow the table in docs/rpc.md."""

from __future__ import annotations

import re
import secrets
import shlex

import pytest
import yaml
from click.testing import CliRunner
from nameko.rpc import Rpc

from events.identity.agency import Access, AgencyRpc, AgencyRpcProxy, agency_broker_permissions
from schemas import authorization as policy
from schemas.authorization import LOCAL, PRODUCTION, decide
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService
from youwei.cli import main

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService,
            AccountabilityService, RecordsService]  # fmt: skip


def rpc_methods(service_class) -> dict[str, list]:
    found = {}
    for name in dir(service_class):
        entrypoints = getattr(getattr(service_class, name), "nameko_entrypoints", ())
        rpcs = [e for e in entrypoints if isinstance(e, Rpc)]
        if rpcs:
            found[name] = rpcs
    return found


def test_the_policy_names_every_rpc_method_and_every_one_checks_the_caller() -> None:
    assert set(policy.METHODS) == {s.name for s in SERVICES}
    for service_class in SERVICES:
        methods = rpc_methods(service_class)
        assert set(methods) == set(policy.METHODS[service_class.name]), service_class.name
        for name, entrypoints in methods.items():
            assert all(type(e) is AgencyRpc for e in entrypoints), (service_class.name, name)
        assert isinstance(service_class.access, Access)
        for attribute in vars(service_class).values():
            if type(attribute).__name__ == "RpcProxy":
                raise AssertionError(f"{service_class.name}: a proxy that sends no user_id")


def test_grants_name_existing_methods_and_roles_exist() -> None:
    every = {f"{s}.{m}" for s in policy.METHODS for m in policy.METHODS[s]}
    for name, role in policy.ROLES.items():
        assert set(role.grants) <= every, name
    for agency, roles in policy.AGENCIES.items():
        assert set(roles) <= set(policy.ROLES), agency
    assert set(policy.RECORDED_READS) <= every
    with pytest.raises(ValueError, match="unknown roles"):
        policy.check_agencies({"x": ["superuser"]})


def test_each_service_may_make_the_reads_it_makes_of_the_others() -> None:
    """A service's role grants a query of each service it holds a proxy to (the exact methods
    are in the services' code: each is exercised by the RPC tests in production mode for
    evaluations; the others' are listed here)."""
    for service_class, role in ((EvaluationsService, "evaluations_service"),
                                (InspectionsService, "inspections_service"),
                                (AccountabilityService, "accountability_service")):  # fmt: skip
        targets = {
            a.target_service for a in vars(service_class).values() if isinstance(a, AgencyRpcProxy)
        }
        granted = {name.partition(".")[0] for name in policy.ROLES[role].grants}
        assert targets == granted, service_class.name
        for name in policy.ROLES[role].grants:
            service, _, method = name.partition(".")
            assert policy.METHODS[service][method] == policy.QUERY


@pytest.mark.parametrize(
    ("agency", "method", "payload", "allowed"),
    [
        ("org-department", "cadre_registry.dismiss", {}, True),
        ("org-department", "cadre_registry.dismiss_from_service", {}, True),
        ("org-department", "cadre_registry.tasks_needing_owner", {}, True),
        ("discipline-commission", "cadre_registry.dismiss_from_service", {}, False),
        ("service-hall", "cadre_registry.tasks_needing_owner", {}, False),
        ("org-department", "accountability.decide_handling", {}, True),
        ("org-department", "accountability.impose_measure", {}, False),
        ("org-department", "accountability.publish_commendation", {}, True),
        ("org-department", "accountability.withdraw_commendation_publication", {}, True),
        ("discipline-commission", "accountability.publish_commendation", {}, False),
        ("auditor", "accountability.list_commendations", {}, True),
        ("inspection-office", "records.honour_roll", {}, True),
        ("service-hall", "records.honour_roll", {}, False),
        ("discipline-commission", "accountability.impose_measure", {}, True),
        ("discipline-commission", "cadre_registry.appoint", {}, False),
        ("service-hall", "evaluations.submit_rating", {"channel": "service_window"}, True),
        ("service-hall", "evaluations.submit_rating", {"channel": "phone_spot_check"}, False),
        ("service-hall", "evaluations.submit_rating", "not a dict", False),
        ("service-hall", "evaluations.ratings_summary", {}, False),
        ("hotline", "evaluations.submit_rating", {"channel": "phone_spot_check"}, True),
        ("auditor", "records.personnel_file", {}, True),
        ("auditor", "accountability.list_cases", {}, True),
        ("auditor", "accountability.close_case", {}, False),
        ("youwei-evaluations", "cadre_registry.get_cadre", {}, True),
        ("youwei-evaluations", "cadre_registry.dismiss", {}, False),
        ("someone-else", "records.public_records", {}, False),
        (None, "records.public_records", {}, False),
        ("guest", "cadre_registry.dismiss", {}, True),
        ("guest", "cadre_registry.some_future_method", {}, True),
    ],
)
def test_decisions_in_local_mode(agency, method, payload, allowed) -> None:
    service, _, name = method.partition(".")
    decision = decide(agency, service, name, payload, mode=LOCAL)
    assert decision.allowed is allowed, decision.reason
    assert decision.version == policy.VERSION


def test_in_production_guest_may_do_nothing_and_others_are_unchanged() -> None:
    refused = decide("guest", "records", "public_records", {}, mode=PRODUCTION)
    assert not refused.allowed and "off in production" in refused.reason
    assert decide("auditor", "records", "public_records", {}, mode=PRODUCTION).allowed
    mapping = {"hall-7": ("service_hall",)}
    assert decide("hall-7", "evaluations", "submit_rating", {"channel": "service_window"},
                  mode=PRODUCTION, agencies=mapping).role == "service_hall"  # fmt: skip
    assert not decide("auditor", "records", "public_records", {}, agencies=mapping).allowed
    with pytest.raises(ValueError):
        decide("auditor", "records", "public_records", {}, mode="lenient")


def test_an_agencys_broker_permissions_are_its_own_queues_and_the_published_events() -> None:
    key = "9a1e6a8e-6f0e-4d7b-9d55-0c6a3f5d2b11"
    configure = re.compile(agency_broker_permissions("hall")["permissions"]["configure"])
    assert configure.match(f"rpc.reply-hall-{key}") and configure.match("events.hall.watch-1")
    # a queue name tells its user: hall's permissions cover none of hall.7's or hall-7's
    for others in (f"rpc.reply-hall.7-{key}", f"rpc.reply-hall-7-{key}", "events.hall.7.watch",
                   "events.hall-7.watch", "rpc.reply-hall-x", "evt-inspections-finding_recorded",
                   "rpc-cadre_registry", "nameko-rpc", "inspections.events"):  # fmt: skip
        assert not configure.match(others), others
    allowed = agency_broker_permissions("hall.7")
    read = re.compile(allowed["permissions"]["read"])
    write = re.compile(allowed["permissions"]["write"])
    assert read.match("inspections.events") and not write.match("inspections.events")
    assert not read.match("records.events") and not read.match("rpc-cadre_registry")
    topics = {topic["exchange"]: topic for topic in allowed["topic_permissions"]}
    assert set(topics) == {"nameko-rpc", "cadre_registry.events", "evaluations.events",
                           "inspections.events", "accountability.events"}  # fmt: skip
    finding = re.compile(topics["inspections.events"]["read"])
    assert finding.match("finding_recorded") and not finding.match("#")
    assert not finding.match("finding_recorded.x") and not finding.match("case_opened")


def agency_permissions_in_broker_form(user: str) -> tuple[dict, dict]:
    allowed = agency_broker_permissions(user)
    topics = {t["exchange"]: {"write": t["write"], "read": t["read"]}
              for t in allowed["topic_permissions"]}  # fmt: skip
    return allowed["permissions"], topics


def test_the_broker_agency_command_prints_the_agencys_permissions_for_its_vhost() -> None:
    printed = CliRunner().invoke(main, ["broker", "agency", "hall 7", "--vhost", "/prod"])
    assert printed.exit_code == 0, printed.output
    commands = [shlex.split(line) for line in printed.output.splitlines() if line[:1] != "#"]
    assert commands[0] == ["rabbitmqctl", "add_user", "hall 7"]  # the password: asked for
    assert commands[1][:5] == ["rabbitmqctl", "set_permissions", "-p", "/prod", "hall 7"]
    configure, write, read = commands[1][5:]
    topics = {}
    for command in commands[2:]:
        assert command[:5] == ["rabbitmqctl", "set_topic_permissions", "-p", "/prod", "hall 7"]
        exchange, topic_write, topic_read = command[5:]
        topics[exchange] = {"write": topic_write, "read": topic_read}
    expected = agency_permissions_in_broker_form("hall 7")
    assert ({"configure": configure, "write": write, "read": read}, topics) == expected

    printed = CliRunner().invoke(main, ["broker", "agency", "hall", "--k8s", "--vhost", "/p"])
    objects = list(yaml.safe_load_all(printed.output))
    assert {o["spec"]["vhost"] for o in objects} == {"/p"}
    assert {o["spec"]["user"] for o in objects} == {"hall"}
    [permission] = [o["spec"]["permissions"] for o in objects if o["kind"] == "Permission"]
    topics = {o["spec"]["permissions"]["exchange"]: o["spec"]["permissions"]
              for o in objects if o["kind"] == "TopicPermission"}  # fmt: skip
    assert (permission, {e: {"write": t["write"], "read": t["read"]} for e, t in topics.items()}
            ) == agency_permissions_in_broker_form("hall")  # fmt: skip
    assert len({o["metadata"]["name"] for o in objects}) == len(objects)


def test_the_broker_agency_command_applies_them_through_the_management_api(
    request, rabbit_manager, rabbit_config_module
) -> None:
    vhost, user = rabbit_config_module["vhost"], f"yw-test-hall-{secrets.token_hex(4)}"
    api = request.config.getoption("RABBIT_API_URI")
    missing = CliRunner().invoke(main, ["broker", "agency", user, "--vhost", vhost, "--apply", api])
    assert missing.exit_code != 0  # no such user: nothing granted
    rabbit_manager._put("users", user, json={"password": secrets.token_hex(8), "tags": ""})
    try:
        applied = CliRunner().invoke(main, ["broker", "agency", user, "--vhost", vhost,
                                            "--apply", api])  # fmt: skip
        assert applied.exit_code == 0, applied.output
        [granted] = rabbit_manager._get("users", user, "permissions")
        topics = {t["exchange"]: {"write": t["write"], "read": t["read"]}
                  for t in rabbit_manager._get("users", user, "topic-permissions")}  # fmt: skip
        assert granted["vhost"] == vhost
        permissions = {k: granted[k] for k in ("configure", "write", "read")}
        assert (permissions, topics) == agency_permissions_in_broker_form(user)
    finally:
        rabbit_manager._delete("users", user)
