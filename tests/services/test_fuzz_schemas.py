"""Property: ``load`` of every documented method's schema, given any payload generated from
that schema and mutated (tests/services/fuzz.py), either accepts it with every value within
the input rules, or raises InvalidCommand, bounded in size and naming the fields. Pure: no
service, no database."""

from __future__ import annotations

import json
import math
from datetime import date
from uuid import UUID

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from schemas.common import FIRST_DAY, LAST_DAY, load
from schemas.errors import EXCERPT, MAX_ERRORS, REASON, InvalidCommand, excerpt
from tests.services.fuzz import METHODS, SERVICES, examples, mutants, payloads, rpc_methods

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

IDS = st.uuids().map(str)
ALLOWED_CONTROLS = "\t\n\r"


def _strings(node: object):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _strings(value)


def breaks_the_text_rules(payload: object) -> bool:
    """A lone surrogate, or a control character other than tab, newline and CR, anywhere."""
    for text in _strings(payload):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return True
        if any(
            (ord(c) < 0x20 and c not in ALLOWED_CONTROLS) or 0x7F <= ord(c) < 0xA0 for c in text
        ):
            return True
    return False


def _leaves(node: object):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def _keys(node: object):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)


def assert_bounded(error: InvalidCommand, schema, payload: object) -> None:
    message = str(error)
    message.encode("utf-8")  # a reply that can always be sent
    errors = json.loads(message)
    assert errors and isinstance(errors, dict), message
    reasons = list(_leaves(errors))
    assert len(reasons) <= MAX_ERRORS + 1, message[:1000]
    assert all(isinstance(r, str) and len(r) <= REASON + 1 for r in reasons), message[:1000]
    assert all(len(key) <= EXCERPT + 1 for key in _keys(errors)), message[:1000]
    assert len(message) < 50_000
    given_keys = {excerpt(key) for key in payload} if isinstance(payload, dict) else set()
    known = {field.data_key or name for name, field in schema().fields.items()}
    named = set(errors) - {"_schema", "_truncated"}
    assert named <= known | given_keys, (named, message[:1000])
    if not named:
        assert "_schema" in errors, message[:1000]


def assert_within_the_rules(loaded: dict) -> None:
    def walk(node: object) -> None:
        if isinstance(node, date):
            assert FIRST_DAY <= node <= LAST_DAY, node
        elif isinstance(node, float):
            assert math.isfinite(node), node
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        else:
            assert node is None or isinstance(node, (str, int, bool, UUID)), repr(node)[:200]

    walk(loaded)


def test_every_rpc_method_has_a_schema_and_the_fuzz_knows_them_all() -> None:
    assert sum(len(rpc_methods(service)) for service in SERVICES) == len(METHODS) >= 53


@pytest.mark.parametrize("method", sorted(METHODS), ids="{0[0]}.{0[1]}".format)
@settings(
    max_examples=max(1, examples() // 10),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_load_accepts_only_valid_payloads_and_refuses_the_rest_boundedly(method, data) -> None:
    schema = METHODS[method]
    payload = data.draw(mutants(schema, IDS), label="payload")
    try:
        loaded = load(schema, payload)
    except InvalidCommand as error:
        assert_bounded(error, schema, payload)
    else:
        assert not breaks_the_text_rules(payload), repr(payload)[:500]
        assert_within_the_rules(loaded)


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "a\ud800b"}, "name"),
        ({"actor": {"agency": "\udfff", "person": "p"}}, "actor"),
        ({"name": "bell\x07"}, "name"),
        ({"name": "two\rlines"}, "name"),
        ({"\ud800": 1}, "\\ud800"),
        ({"k" * 5_000_000: 1}, "k" * EXCERPT + "…"),
    ],
)
def test_the_reasons_name_the_field(payload, field) -> None:
    command = {"command_id": "8a5e0000-0000-4000-8000-000000000001",
               "actor": {"agency": "a", "person": "p"}, "name": "unit", **payload}  # fmt: skip
    with pytest.raises(InvalidCommand) as refused:
        load(METHODS["cadre_registry", "register_unit"], command)
    assert field in json.loads(str(refused.value))
    assert len(str(refused.value)) < 300


@pytest.mark.parametrize("value", [[1], {"a": 1}, math.nan, math.inf, 1.5, True, None, "80"])
@pytest.mark.parametrize("channel", ["phone_spot_check", "questionnaire"])
def test_a_rating_value_of_the_wrong_type_is_an_invalid_command(channel, value) -> None:
    command = {"command_id": "8a5e0000-0000-4000-8000-000000000001",
               "actor": {"agency": "a", "person": "p"}, "cadre_id": "8a5e0000-0000-4000-8000-"
               "000000000002", "channel": channel, "period": "2026-01", "value": value,
               "rater_ref": "r"}  # fmt: skip
    with pytest.raises(InvalidCommand) as refused:
        load(METHODS["evaluations", "submit_rating"], command)
    assert set(json.loads(str(refused.value))) == {"value"}


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-12-31", "2100-01-01"])
def test_a_day_out_of_range_is_refused_naming_the_field(day) -> None:
    command = {"command_id": "8a5e0000-0000-4000-8000-000000000001",
               "actor": {"agency": "a", "person": "p"}, "case_id": "8a5e0000-0000-4000-8000-"
               "000000000002", "measure": "talk", "reason": "r", "decided_on": day}  # fmt: skip
    with pytest.raises(InvalidCommand) as refused:
        load(METHODS["accountability", "impose_measure"], command)
    assert json.loads(str(refused.value)) == {
        "decided_on": ["must be from 1900-01-01 to 2099-12-31"]
    }
    for edge in ("1900-01-01", "2099-12-31"):
        load(METHODS["accountability", "impose_measure"], {**command, "decided_on": edge})


def test_an_invalid_command_lists_a_bounded_number_of_reasons() -> None:
    flood = {f"unknown_{i}": i for i in range(10_000)}
    with pytest.raises(InvalidCommand) as refused:
        load(METHODS["records", "projections_status"], flood)
    errors = json.loads(str(refused.value))
    assert len(errors) == MAX_ERRORS + 1
    assert errors["_truncated"] == [f"{10_000 - MAX_ERRORS} more reasons not shown"]


def test_the_fuzz_names_a_decision_and_states_both_distinctions_in_an_exemption() -> None:
    """Issue 27 item 6: grant_exemption's payloads carry its new fields, each as a value
    the schema accepts, sometimes left out or null."""
    schema = METHODS["accountability", "grant_exemption"]
    for field in ("decision_id", "no_personal_gain", "no_prohibition_broken"):
        present = find(payloads(schema, IDS), lambda p, f=field: p.get(f) is not None)
        assert load(schema, present)[field] is not None
        find(payloads(schema, IDS), lambda p, f=field: f not in p or p[f] is None)
    stated = find(payloads(schema, IDS), lambda p: isinstance(p.get("no_personal_gain"), dict))
    assert set(stated["no_personal_gain"]) == {"holds", "basis"}
