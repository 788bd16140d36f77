"""A cadre's history across every log, for an auditor: each event with when it was
recorded, which agency and person sent the command that appended it, the command, and
its cause (correlation and causation), so a case can be followed from the finding that
opened it to what the registry did about its decision.

Reads the stored events themselves (not only the published ones), streaming each log in
position order; only the cadre's events are kept. The access record is among them (reads of
the cadre's personnel file, refused calls naming the cadre: ``events.identity.access``), and each
event's ``caller`` is the agency the broker vouched for (``events.identity.agency``), beside the
``agency`` and ``person`` its command's payload claimed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pymongo.database import Database

from events.audit.verify import stored_documents
from events.identity.access import ACCESS_TYPES
from events.identity.personal import PersonalKeys, Sealer
from events.log.published import RECORD_TOPIC, event_id, event_type, plain
from events.log.recorders import HEADS_COLLECTION
from events.log.transcoding import transcoder
from schemas.events import LOGS

HIDDEN = ("timestamp", "originator_topic", "originator_id", "originator_version")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
#: The record an event belongs to, by its type's first words: its originator is its id.
RECORDS = {"case": "case", "finding": "finding", "rectification_letter": "letter",
           "commendation": "commendation", "inspection": "inspection",
           "responsibility": "task", "reform_effort": "reform effort"}  # fmt: skip
#: The registry's events after which a cadre holds no post.
POST_ENDED = ("cadre_dismissed", "cadre_ordered_to_resign", "cadre_dismissed_from_service")
#: What an auditor asks first of a decision, an appeal, an exposure, a finding, a review.
FACTS = ("decision_type", "kind", "form", "outcome", "accepted", "situation", "cadre_type",
         "typical", "risk_level", "year")  # fmt: skip


def canonical_id(value: str) -> str:
    """A UUID in its hyphenated form, whichever form it was given in; else as given."""
    try:
        return str(UUID(value.strip()))
    except ValueError:
        return value


def is_id(value: str) -> bool:
    """A UUID, with hyphens or as 32 hex digits: what ``history`` takes (never a name)."""
    try:
        UUID(value.strip())
    except ValueError:
        return False
    return True


def cadres_named(database: Database, name: str) -> list[dict[str, Any]]:
    """The cadres the registry's log registered under ``name`` (erased names are gone), with
    their ids, their unit and post now (after transfers, appointments, demotions …) and at
    registration: a name is not unique, an id is."""
    coder = transcoder()
    sealer = Sealer(PersonalKeys(database), coder)
    log = LOGS["cadre_registry"]
    head = database[HEADS_COLLECTION].find_one({"_id": log}) or {"position": 0}
    units: dict[str, str] = {}
    found: dict[str, dict[str, Any]] = {}
    for document in stored_documents(database, log, head["position"]):
        kind, originator = event_type(document["topic"]), str(document["originator_id"])
        if kind != "unit_registered" and kind != "cadre_registered" and originator not in found:
            continue
        state = sealer.open(coder.decode(document["state"]))
        if kind == "unit_registered":
            units[originator] = state.get("name")
        elif kind == "cadre_registered" and state.get("name") == name.strip():
            unit = units.get(str(state.get("unit_id")), str(state.get("unit_id")))
            found[originator] = {"cadre_id": originator, "name": state["name"],
                                 "unit": unit, "post": state.get("post"),
                                 "registered_unit": unit, "registered_post": state.get("post"),
                                 "registered_on": plain(state.get("effective_date"))}  # fmt: skip
        elif originator in found and kind.startswith("cadre_"):
            if state.get("unit_id") is not None:
                unit = str(state["unit_id"])
                found[originator]["unit"] = units.get(unit, unit)
            if state.get("post") is not None:
                found[originator]["post"] = state["post"]
            if kind in POST_ENDED:  # no post now: what ended it
                found[originator]["post"] = f"({kind.removeprefix('cadre_')})"
    return list(found.values())


def published_cadre(
    database: Database, public_id: str, ids: Callable[[str, str, int, dict], list[str]]
) -> tuple[str, dict[str, Any]] | None:
    """The cadre a public record or honour (``public_id``, as the page shows it) names, and
    where it was published (``log``, ``position``): ``ids(kind, originator, version,
    data)`` gives the public ids an event published, which are one-way (the records
    service's), so each publication is tried."""
    coder = transcoder()
    log = LOGS["accountability"]
    head = database[HEADS_COLLECTION].find_one({"_id": log}) or {"position": 0}
    cadres: dict[str, str] = {}  # a case → its cadre
    wanted = canonical_id(public_id)
    for document in stored_documents(database, log, head["position"]):
        kind, originator = event_type(document["topic"]), str(document["originator_id"])
        if kind not in ("case_opened", "case_published", "commendation_published"):
            continue
        data = {k: plain(v) for k, v in coder.decode(document["state"]).items()}
        if kind == "case_opened":
            cadres[originator] = str(data.get("cadre_id"))
        elif wanted in ids(kind, originator, document["originator_version"], data):
            cadre = str(data["cadre_id"]) if data.get("cadre_id") else cadres.get(originator)
            if cadre is not None:
                return cadre, {"log": log, "position": document["position"], "type": kind}
    return None


def positions_of(database: Database, event_ids: set[str]) -> dict[str, str]:
    """``source:position`` (as ``describe`` cites events) of each of ``event_ids``: an
    event's id is a UUID5 of its log and position (docs/events.md), so each log's positions
    are tried until all are found."""
    found: dict[str, str] = {}
    for source, log in LOGS.items():
        head = database[HEADS_COLLECTION].find_one({"_id": log}) or {"position": 0}
        for position in range(1, head["position"] + 1):
            if len(found) == len(event_ids):
                return found
            key = str(event_id(log, position))
            if key in event_ids:
                found[key] = f"{source}:{position}"
    return found


def local_time(recorded_at: str, zone: str | None) -> str:
    """An ISO time in ``zone`` (the city's), to the second, with its offset."""
    moment = datetime.fromisoformat(recorded_at)
    if moment.tzinfo is None:  # read by a client that is not tz_aware: stored in UTC
        moment = moment.replace(tzinfo=UTC)
    if zone is not None:
        moment = moment.astimezone(ZoneInfo(zone))
    return moment.isoformat(timespec="seconds")


def _mentions(value: Any, wanted: set[str]) -> bool:
    if isinstance(value, dict):
        return any(_mentions(v, wanted) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, wanted) for v in value)
    return str(value) in wanted


def history(
    database: Database, cadre_id: str, progress: Callable[[int], None] | None = None
) -> list[dict[str, Any]]:
    """The cadre's events from every log, by time recorded. An event is the cadre's if it
    is about them (its originator), names them anywhere in its data, or comes later in the
    life of a record (an aggregate) whose first event named them: their case, their
    finding's exposure, the evaluations service's record of their measures and its
    revocation on appeal. ``cadre_id`` may be a UUID with hyphens or its 32 hex digits (as exports
    write it)."""
    coder = transcoder()
    sealer = Sealer(PersonalKeys(database), coder)
    wanted = {cadre_id := canonical_id(cadre_id)}
    found: list[dict[str, Any]] = []
    for source, log in LOGS.items():
        head = database[HEADS_COLLECTION].find_one({"_id": log}) or {"position": 0}
        append: list[tuple[dict[str, Any], bool]] = []  # since the last command record
        for document in stored_documents(database, log, head["position"]):
            if progress is not None:
                progress(1)
            state = sealer.open(coder.decode(document["state"]))
            if document["topic"] != RECORD_TOPIC:
                kind = event_type(document["topic"])
                originator = str(document["originator_id"])
                data = {k: plain(v) for k, v in state.items() if k not in HIDDEN}
                ours = originator in wanted or _mentions(data, wanted)
                owner = str(data.get("owner_id"))
                taken_over = kind == "responsibility_reassigned" and owner == cadre_id
                if ours and (document["originator_version"] == 1 or taken_over):
                    # a record made about the cadre (their case, their finding, the measures
                    # evaluations keeps of them, a task given them): its later events are the
                    # cadre's too, and so is a task they took over, with its chain (a plan
                    # names its task). Not a record that named them later (a unit they joined)
                    wanted.add(originator)
                event = {
                    "recorded_at": plain(document["recorded_at"]),
                    "log": log,
                    "source": source,
                    "position": document["position"],
                    "event_id": str(event_id(log, document["position"])),
                    "type": kind,
                    "originator_id": originator,
                    "originator_version": document["originator_version"],
                    "data": data,
                }
                if kind in ACCESS_TYPES:  # the access record: no command, the broker's agency
                    event.update(agency=data.get("agency"), command=data.get("method"),
                                 person=(data.get("actor") or {}).get("person"),
                                 caller={"agency": data.get("agency")})  # fmt: skip
                append.append((event, ours))
                continue
            for event, _ in append[len(append) - state.get("events", 0) :]:
                cause = state.get("cause") or {}
                event.update(
                    command=state.get("command"),
                    command_id=str(state["command_id"]),
                    agency=(state.get("actor") or {}).get("agency"),
                    person=(state.get("actor") or {}).get("person"),
                    correlation_id=str(cause.get("correlation_id") or state["command_id"]),
                    causation_id=str(state["command_id"]),
                    caused_by_event=str(cause["causation_id"]) if cause else None,
                    caller=state.get("caller"),
                )
            found += [event for event, ours in append if ours]
            append = []
        found += [event for event, ours in append if ours]
    found.sort(key=lambda e: (e["recorded_at"], e["source"], e["position"]))
    return found


def facts(event: dict[str, Any]) -> str:
    """The record an event belongs to (a decision's case, an exposure's finding, a letter),
    the decision it concerns, and its kind, outcome and the like, as one line."""
    data, kind = event.get("data") or {}, event["type"]
    found = [f"{name} {event['originator_id']}" for prefix, name in RECORDS.items()
             if kind.startswith(f"{prefix}_")][:1]  # fmt: skip
    if data.get("decision_id"):
        found.append(f"decision {data['decision_id']}")
    if data.get("publication_id"):
        found.append(f"publication {data['publication_id']}")
    for public in event.get("public_ids") or ():
        found.append(f"public id {public}")
    for name in FACTS:
        value = data.get(name)
        if isinstance(value, dict) and value.get("grade"):  # an assessment's outcome
            found.append(f"grade {value['grade']}")
        elif isinstance(value, str | bool | int) and value != "":
            found.append(f"{name} {value}")
    changed_to = data.get("changed_to")
    if isinstance(changed_to, dict) and changed_to.get("kind"):
        found.append(f"changed to {changed_to['kind']}")
    return ", ".join(found)


def dates_of(event: dict[str, Any]) -> dict[str, str]:
    """The business dates (``youwei.asof.business_dates``) and every other day the event
    carries: a letter's issue and deadline, an exposure's or a review's day, a case's."""
    found = dict(event.get("business_dates") or {})
    for name, value in (event.get("data") or {}).items():
        dated = name.endswith("_on") or name in ("on", "deadline")
        if dated and isinstance(value, str) and DAY.fullmatch(value):
            found.setdefault(name, value)
    return found


def who(event: dict[str, Any]) -> str:
    """Who sent the command (agency / person, as the broker's user); for the access
    record, the agency the broker vouched for, with its role and the policy's version."""
    data = event.get("data") or {}
    if event["type"] in ACCESS_TYPES:
        person = f" / {event['person']}" if event.get("person") else ""
        role = data.get("role") or ", ".join(data.get("roles") or []) or "no role"
        return (f"{data.get('agency') or 'unknown agency'}{person} (role {role}, "
                f"policy {data.get('policy_version') or '?'})")  # fmt: skip
    text = f"{event.get('agency') or '?'} / {event.get('person') or '?'}"
    if (event.get("caller") or {}).get("agency"):
        text += f" (as {event['caller']['agency']})"
    return text


def access(event: dict[str, Any]) -> str:
    """What an access event records: the method read (as of which day) or refused (why)."""
    data = event.get("data") or {}
    if "reason" in data:
        return f"refused {data.get('method')}: {data['reason']}"
    return f"read {data.get('method')}" + (f" as of {data['day']}" if data.get("day") else "")


def describe(events: list[dict[str, Any]], zone: str | None = None) -> list[str]:
    """The history as lines for a terminal, times in ``zone`` with their offset: an event
    caused by another of the cadre's events names it (its log and position); business
    dates and rules (``youwei.asof.annotate``) follow on lines of their own."""
    by_id = {event["event_id"]: event for event in events}
    lines = []
    for event in events:
        when = local_time(event["recorded_at"], zone)
        line = (f"{when}  {event['source']}:{event['position']:<6} "
                f"{event['type']:<34} {who(event)}  [{event.get('command') or '-'}]")  # fmt: skip
        upstream = by_id.get(event.get("caused_by_event") or "")
        if upstream is not None:
            line += f"  ← {upstream['type']} ({upstream['source']}:{upstream['position']})"
        elif event.get("caused_by_event"):
            line += f"  ← event {event['caused_by_event']}"
        lines.append(line)
        what = access(event) if event["type"] in ACCESS_TYPES else facts(event)
        if what:
            lines.append(f"{'':27}{what}")
        dates = ", ".join(f"{k} {v}" for k, v in dates_of(event).items())
        if dates:
            lines.append(f"{'':27}dates: {dates}")
        for rule in event.get("rules") or []:
            lines.append(f"{'':27}rule: {rule['rule']} (rules {rule['rules_version']}, "
                         f"{rule['source']}): {rule['restricts']} {rule['starts']} to "
                         f"{rule['ends']}")  # fmt: skip
        if event.get("grading_rules_version"):
            lines.append(f"{'':27}graded under rules {event['grading_rules_version']}")
    return lines
