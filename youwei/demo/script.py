"""The year being written: the shared state the flows of the year take as ``plan`` (its
random generator, units, cadres, steps and facts), how a step is added, and small helpers."""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .data import FEMALE, MALE, SURNAMES
from .steps import NAMESPACE, PERSON, YEAR, CaseDay, Ref, Step, placeholders


def chinese_name(rng: random.Random, gender: str, taken: set[str]) -> str:
    chars = FEMALE if gender == "female" else MALE
    while True:
        given = "".join(rng.choice(chars) for _ in range(rng.choice((1, 2, 2, 2))))
        name = rng.choice(SURNAMES) + given
        if name not in taken:
            taken.add(name)
            return name


def between(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def on(month: int, day: int, year: int = YEAR) -> date:
    return date(year, month, day)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def zh(catalogue: dict[str, tuple], code: str) -> str:
    return catalogue[code][0]


@dataclass(eq=False)
class Unit:
    key: str
    name: str
    group: str  # top, party, bureau, other, county, county_body, township
    parent: Unit | None = None
    county: str = ""
    cadres: list[Cadre] = field(default_factory=list)
    deputy_title: str = "四级调研员"


@dataclass(eq=False)
class Cadre:
    key: str
    name: str
    unit: Unit
    post: str
    rank: str
    post_kind: str
    tier: int
    gender: str = ""
    birth: date = date(1980, 1, 1)
    since: date = date(2024, 1, 1)
    task: str | None = None  # the step that assigned their liaison task
    key_work: list[str] = field(default_factory=list)
    roles: set[str] = field(default_factory=set)

    @property
    def label(self) -> str:
        return f"{self.unit.name}{self.post}{self.name}"


class Script:
    """Writes the year as steps; every choice from one seeded random generator. The flows
    (youwei/demo/city.py, inspections.py, cases.py, ratings.py, assessments.py,
    commendations.py) take it as ``plan``, in the order ``plan_year`` calls them."""

    def __init__(self, seed: int, scale: float) -> None:
        if not scale > 0:
            msg = f"scale must be above 0, not {scale}"
            raise ValueError(msg)
        self.seed, self.scale = seed, scale
        self.rng = random.Random(f"youwei-demo:{seed}")
        self.steps: list[Step] = []
        self.index: dict[str, Step] = {}
        self.lanes: dict[str, str] = {}
        self.names: set[str] = set()
        self.units: list[Unit] = []
        self.cadres: list[Cadre] = []
        self.facts: dict[str, Any] = defaultdict(list)
        self.counter = itertools.count(1)
        self.ratings_of: dict[str, int] = {}
        self.bulk_sizes: dict[str, int] = {}
        self.assessed_before: dict[str, tuple[str, ...]] = {}
        # what the flows find and leave for the later ones
        self.top: dict[str, Unit] = {}  # the city's top units by code (build_city)
        self.party: dict[str, Unit] = {}  # the party committee's departments kept
        self.bureaus: list[Unit] = []  # the city government's departments kept
        self.others: dict[str, Unit] = {}  # other county-level units kept
        self.counties: list[dict[str, Any]] = []  # root, bodies, towns, townships, district
        self.efforts: list[dict[str, Any]] = []  # reform efforts (reform_efforts)
        self.findings: list[dict[str, Any]] = []  # findings (inspections)
        self.pending_flows: list[tuple[str, str]] = []  # flows still to show (cases)
        #: (cadre, the step of an admonishment or accountability in YEAR), for the veto
        self.sanctioned: list[tuple[Cadre, str]] = []

    def scaled(self, full: int, least: int) -> int:
        return max(least, round(full * self.scale))

    # --- steps ---------------------------------------------------------------------------

    def add(self, key: str, service: str, method: str, agency: str, *, after: tuple = (),
            lane: str | None = None, **fields: Any) -> str:  # fmt: skip
        """A command step; it runs after the steps its placeholders name, ``after``, and
        the last step of ``lane`` (steps that change one record go one at a time)."""
        command_id = str(uuid.uuid5(NAMESPACE, f"{self.seed}:{self.scale:g}:{key}"))
        payload = {"command_id": command_id, "actor": {"agency": agency, "person": PERSON},
                   **fields}  # fmt: skip
        return self._append(Step(key, service, method, payload), after, lane)

    def find_case(self, key: str, cadre: Cadre, basis: str, **named: Any) -> str:
        payload = {"cadre_id": Ref(cadre.key, "cadre_id"), "basis": basis, **named}
        return self._append(Step(key, "accountability", "list_cases", payload, find=True), (), key)

    def _append(self, step: Step, after: tuple, lane: str | None) -> str:
        if step.key in self.index:
            msg = f"step {step.key} twice"
            raise AssertionError(msg)
        needs = [*after]
        needs += [p.key if isinstance(p, Ref) else p.case for p in placeholders(step.payload)]
        if lane is not None and lane in self.lanes:
            needs.append(self.lanes[lane])
        for need in needs:
            if need not in self.index:
                msg = f"step {step.key} needs {need}, which comes later or not at all"
                raise AssertionError(msg)
        step.after = tuple(dict.fromkeys(n for n in needs if n != step.key))
        if lane is not None:
            self.lanes[lane] = step.key
        self.steps.append(step)
        self.index[step.key] = step
        return step.key

    def unit(self, key: str, name: str, group: str, parent: Unit | None, **more: Any) -> Unit:
        unit = Unit(key, name, group, parent, **more)
        self.units.append(unit)
        return unit

    def day(self, case: str, planned_open: date, day: date) -> CaseDay:
        return CaseDay(case, day, planned_open, case in self.facts["cases_by_policy"])
