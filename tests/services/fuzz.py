"""Payloads of every documented RPC method, generated from its marshmallow schema, and
hostile mutations of them (tests/services/test_fuzz_*.py).

``payloads`` walks a schema's fields to build a strategy of payloads that pass the field
checks (cross-field rules and the domain may still refuse them); ``mutants`` breaks such a
payload one to three times: fields dropped or added, values replaced by wrong types, lone
surrogates, control characters, huge strings and keys, deep nesting, out-of-range dates and
numbers, lists or null instead of objects. ``YOUWEI_FUZZ_EXAMPLES`` sets how many
(``examples``; README).
"""

from __future__ import annotations

import inspect
import math
import os
import re
from datetime import date
from typing import Any

from hypothesis import strategies as st
from marshmallow import Schema, fields, validate
from nameko.rpc import Rpc

from schemas import accountability, cadre_registry, evaluations, inspections, records
from schemas.common import Day, Flag
from schemas.evaluations.reference import NUMERIC_SCALES, SCALES
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.service import RecordsService

SERVICES = [
    CadreRegistryService,
    EvaluationsService,
    InspectionsService,
    AccountabilityService,
    RecordsService,
]
CONTRACTS = {
    "cadre_registry": cadre_registry,
    "evaluations": evaluations,
    "inspections": inspections,
    "accountability": accountability,
    "records": records,
}


def examples() -> int:
    """How many mutants a fuzz test sends over RPC: YOUWEI_FUZZ_EXAMPLES, 300 by default
    (a CI run). The plain test of the schemas loads a tenth as many per method."""
    return int(os.environ.get("YOUWEI_FUZZ_EXAMPLES", "300"))


def rpc_methods(service_class: type) -> list[str]:
    return sorted(
        name
        for name, member in inspect.getmembers(service_class)
        if any(isinstance(e, Rpc) for e in getattr(member, "nameko_entrypoints", ()))
    )


def schema_of(service: str, method: str) -> type[Schema]:
    """The schema of a method: its name in CamelCase in the service's contract module."""
    camel = "".join(part.capitalize() for part in method.split("_"))
    return getattr(CONTRACTS[service], camel)


#: (service, method) → its schema, for every RPC method of every service.
METHODS = {
    (service.name, method): schema_of(service.name, method)
    for service in SERVICES
    for method in rpc_methods(service)
}


def _validators(field: fields.Field) -> list:
    found = []
    for validator in field.validators:
        found += validator.validators if isinstance(validator, validate.And) else [validator]
    return found


def _of(field: fields.Field, kind: type) -> Any:
    return next((v for v in _validators(field) if isinstance(v, kind)), None)


#: Text that passes the input rules: no surrogate, no control character but tab and newline.
READABLE = st.characters(exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n")


def values(field: fields.Field, ids: st.SearchStrategy[str]) -> st.SearchStrategy:
    """Values the field accepts on its own."""
    if isinstance(field, fields.Nested):
        nested = field.schema
        strategy: st.SearchStrategy = payloads(type(nested), ids)
    elif isinstance(field, fields.List):
        length = _of(field, validate.Length)
        low = length.min if length and length.min else 0
        strategy = st.lists(values(field.inner, ids), min_size=low, max_size=max(low, 3))
    elif isinstance(field, fields.UUID):
        strategy = ids
    elif isinstance(field, Day):
        strategy = st.dates(date(2025, 1, 1), date(2027, 12, 31)).map(date.isoformat)
    elif isinstance(field, Flag):
        strategy = st.booleans()
    elif isinstance(field, fields.Integer):
        bounds = _of(field, validate.Range)
        strategy = st.integers(bounds.min, bounds.max)
    elif isinstance(field, fields.Float):  # a target's or a report's value
        bounds = _of(field, validate.Range)
        strategy = st.floats(bounds.min, bounds.max, allow_nan=False) | st.integers(0, 10**6)
    elif isinstance(field, fields.String):
        choices, pattern = _of(field, validate.OneOf), _of(field, validate.Regexp)
        if choices:
            strategy = st.sampled_from(list(choices.choices))
        elif pattern:
            strategy = st.from_regex(pattern.regex, fullmatch=True)
        else:
            length = _of(field, validate.Length)
            strategy = st.text(READABLE, min_size=length.min, max_size=min(length.max, 30))
    elif isinstance(field, fields.Raw):  # a rating's value, on one scale or another
        codes = sorted({code for scale in SCALES.values() for code in scale})
        strategy = st.sampled_from(codes) | st.integers(
            0, max(h for _, h in NUMERIC_SCALES.values())
        )
    else:
        raise AssertionError(f"no strategy for {field!r}: add one")
    return strategy | st.none() if field.allow_none else strategy


def payloads(schema: type[Schema], ids: st.SearchStrategy[str]) -> st.SearchStrategy[dict]:
    """Payloads whose every field passes its own checks; optional fields sometimes left out."""
    required, optional = {}, {}
    for name, field in schema().fields.items():
        (required if field.required else optional)[field.data_key or name] = values(field, ids)
    return st.fixed_dictionaries(required, optional=optional)


def _text_with(bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda a, b, c: a + b + c, st.text(READABLE, max_size=8), bad, st.text(READABLE, max_size=8)
    )


SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
CONTROL = st.sampled_from(
    [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
)
#: How long a huge string is: in a payload, and in one sent over RPC, where three of them
#: (even as ``\\ud800`` escapes) stay within the 1 MiB a request body may be (rpc-wire.md).
HUGE = {False: [2_001, 100_000, 1_000_000], True: [2_001, 50_000]}


def _deep(depth: int, leaf: Any, as_list: bool) -> Any:
    for _ in range(depth):
        leaf = [leaf] if as_list else {"a": leaf}
    return leaf


def hostile_strings(wire: bool = False) -> st.SearchStrategy[str]:
    options = [
        _text_with(SURROGATE),
        _text_with(CONTROL),
        _text_with(st.just("\r")),
        st.sampled_from(
            [
                "",
                " ",
                "\u202e",
                "字" * 101,
                "9999-12-31",
                "0001-01-01",
                "1899-12-31",
                "2100-01-01",
                "2026-02-30",
                "2026-01-01\n",
                "NaN",
                "00000000-0000-0000-0000-000000000000",
                "\ud800",
                "\udfff\ud800",
                "\x00",
            ]
        ),
    ]
    characters = st.sampled_from(["x", "字", "\ud800"])
    options.append(st.builds(lambda n, c: c * n, st.sampled_from(HUGE[wire]), characters))
    return st.one_of(options)


def hostile_values(wire: bool = False) -> st.SearchStrategy:
    """Values of every wrong kind. ``wire``: only what a well-formed request body carries
    (JSON without NaN or infinities, nested at most 32 deep: rpc-wire.md)."""
    scalars = st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            2**31,
            2**63,
            -(2**63),
            10**30,
            1.5,
            -0.0,
            *([] if wire else [math.nan, math.inf, -math.inf]),
            [],
            {},
            [None],
            {"": None},
        ]
    )
    deep = st.builds(_deep, st.integers(17, 22 if wire else 200), st.just("x"), st.booleans())
    return st.one_of(
        scalars, hostile_strings(wire), deep, st.lists(st.text(READABLE, max_size=5), max_size=3)
    )


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    """The paths to every value in ``node`` (the root is the empty path)."""
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _replace(node: Any, path: tuple, change: Any) -> Any:
    """A copy of ``node`` with what is at ``path`` passed through ``change``."""
    if not path:
        return change(node)
    head, rest = path[0], path[1:]
    copy = dict(node) if isinstance(node, dict) else list(node)
    copy[head] = _replace(node[head], rest, change)
    return copy


@st.composite
def mutated(draw: st.DrawFn, payload: Any, root: bool = True, wire: bool = False) -> Any:
    """``payload`` broken once, somewhere. ``root``: the whole payload may be replaced
    (by a list, null, a string)."""
    paths = [p for p in _paths(payload) if (root or p) and len(p) <= 4]  # not inside a deep one
    path = draw(st.sampled_from(paths)) if paths else ()
    target = payload
    for key in path:
        target = target[key]
    if not path and not root:
        how = "add"
    elif isinstance(target, dict):
        how = draw(st.sampled_from(["replace", "add", "drop"]))
    else:
        how = "replace"
    if how == "drop" and target:
        key = draw(st.sampled_from(sorted(target)))
        return _replace(payload, path, lambda d: {k: v for k, v in d.items() if k != key})
    if how in ("add", "drop"):
        key = draw(hostile_strings(wire) | st.text(READABLE, min_size=1, max_size=10))
        value = draw(hostile_values(wire))
        return _replace(payload, path, lambda d: {**d, key: value})
    if path and isinstance(target, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", target):
        replacement = draw(
            st.sampled_from(
                ["9999-12-31", "0001-01-01", "1899-12-31", "2100-01-01", "1900-01-01", "2099-12-31"]
            )
            | hostile_values(wire)
        )
    else:
        replacement = draw(hostile_values(wire))
    return _replace(payload, path, lambda _: replacement)


@st.composite
def mutants(
    draw: st.DrawFn,
    schema: type[Schema],
    ids: st.SearchStrategy[str],
    root: bool = True,
    wire: bool = False,
) -> Any:
    """A payload of ``schema`` broken one to three times (or, now and then, not at all)."""
    payload = draw(payloads(schema, ids))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        payload = draw(mutated(payload, root=root and isinstance(payload, dict), wire=wire))
        if not isinstance(payload, dict):
            break
    return payload
