"""The demo's city as data: ``city.toml`` (shipped as package data) loaded into the
structures the planning uses (tuples where a row has fixed fields, lists and dicts in the
file's order, which a seed's draws depend on)."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any


def _load() -> dict[str, Any]:
    with files(__package__).joinpath("city.toml").open("rb") as file:
        return tomllib.load(file)


_CITY = _load()

CITY: str = _CITY["city"]
SURNAMES: str = _CITY["names"]["surnames"]
MALE: str = _CITY["names"]["male"]
FEMALE: str = _CITY["names"]["female"]

#: The 46 city-level leaders: (unit code, post, post kind), in the order a smaller demo keeps.
LEADERS: list[tuple[str, str, str]] = [
    (row["unit"], row["post"], row["kind"])
    for row in _CITY["leaders"]
    for _ in range(row.get("count", 1))
]
#: Top units of the city: code → (name, county-level posts in it).
TOP_UNITS: dict[str, tuple[str, list[str]]] = {
    code: (unit["name"], unit["posts"]) for code, unit in _CITY["top_units"].items()
}
#: Departments of the city party committee: code → (name, county-level posts).
PARTY_UNITS: dict[str, tuple[str, list[str]]] = {
    code: (unit["name"], unit["posts"]) for code, unit in _CITY["party_units"].items()
}
#: The city government's departments: (name, head's title, deputy's title, section chiefs),
#: the ones that serve the public at windows first.
BUREAUS: list[tuple[str, str, str, list[str]]] = [
    (row["name"], row["head"], row["deputy"], row["sections"]) for row in _CITY["bureaus"]
]
#: Other county-level units under the city government: (code, name, posts).
OTHER_UNITS: list[tuple[str, str, list[str]]] = [
    (row["code"], row["name"], row["posts"]) for row in _CITY["other_units"]
]
#: The counties and districts (fictional).
COUNTIES: list[str] = _CITY["counties"]
TOWNSHIPS: list[str] = _CITY["townships"]
VILLAGES: list[str] = _CITY["villages"]

#: The "seven-in-one" key work the city-level leaders share, and what each share is about.
KEY_WORK: dict[str, list[str]] = _CITY["key_work"]
LIAISON_SUBJECTS: list[str] = _CITY["liaison_subjects"]

#: Finding descriptions by situation ({unit}, {n}).
DESCRIPTIONS: dict[str, list[str]] = _CITY["descriptions"]
#: A situation's cadre type (六型), where one fits.
TYPES_OF: dict[str, str] = _CITY["types_of"]
#: Outsiders on undercover visits: (role, who).
OUTSIDERS: list[tuple[str, str]] = [(row["role"], row["who"]) for row in _CITY["outsiders"]]
UNDERCOVER_THEMES: list[str] = _CITY["undercover_themes"]
#: Reports from the public: (summary template, situation).
REPORTS: list[tuple[str, str]] = [(row["summary"], row["situation"]) for row in _CITY["reports"]]
#: Reform efforts registered in advance: (title, the risk foreseen).
REFORMS: list[tuple[str, str]] = [(row["title"], row["risk"]) for row in _CITY["reforms"]]
