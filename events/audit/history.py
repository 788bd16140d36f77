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


def canonical_id(value: str) -> str:
    """A UUID in its hyphenated form, whichever form it was given in; else as given."""
    try:
        return str(UUID(value.strip()))
    except ValueError:
        return value


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
                if ours and document["originator_version"] == 1:
                    # a record made about the cadre (their case, their finding, the measures
                    # evaluations keeps of them): its later events are the cadre's too. Not
                    # a record that named them later (a unit they joined)
                    wanted.add(originator)
                event = {
                    "recorded_at": plain(document["recorded_at"]),
                    "log": log,
                    "source": source,
                    "position": document["position"],
                    "event_id": str(event_id(log, document["position"])),
                    "type": kind,
                    "originator_id": originator,
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


def describe(events: list[dict[str, Any]], zone: str | None = None) -> list[str]:
    """The history as lines for a terminal, times in ``zone`` with their offset: an event
    caused by another of the cadre's events names it (its log and position); business
    dates and rules (``youwei.asof.annotate``) follow on lines of their own."""
    by_id = {event["event_id"]: event for event in events}
    lines = []
    for event in events:
        who = f"{event.get('agency') or '?'} / {event.get('person') or '?'}"
        if (event.get("caller") or {}).get("agency"):
            who += f" (as {event['caller']['agency']})"
        when = local_time(event["recorded_at"], zone)
        line = (f"{when}  {event['source']}:{event['position']:<6} "
                f"{event['type']:<34} {who}  [{event.get('command') or '-'}]")  # fmt: skip
        upstream = by_id.get(event.get("caused_by_event") or "")
        if upstream is not None:
            line += f"  ← {upstream['type']} ({upstream['source']}:{upstream['position']})"
        elif event.get("caused_by_event"):
            line += f"  ← event {event['caused_by_event']}"
        lines.append(line)
        dates = ", ".join(f"{k} {v}" for k, v in (event.get("business_dates") or {}).items())
        if dates:
            lines.append(f"{'':27}dates: {dates}")
        for rule in event.get("rules") or []:
            lines.append(f"{'':27}rule: {rule['rule']} (rules {rule['rules_version']}, "
                         f"{rule['source']}): {rule['restricts']} {rule['starts']} to "
                         f"{rule['ends']}")  # fmt: skip
        if event.get("grading_rules_version"):
            lines.append(f"{'':27}graded under rules {event['grading_rules_version']}")
    return lines
