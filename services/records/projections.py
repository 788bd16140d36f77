"""The records service's two projections of the four logs (``events.projections``).

``personnel``: per cadre, the public events of every log that concern them, kept per log in
log order (so a rebuild gives the same documents whatever order the logs were read in). A
personnel file is composed from them when asked (``services.records.files``), so it can be
answered as of any day.

``public``: one document per published decision, with only the public fields, joined from
three logs (the cadre's name and posting from the registry, the situation from the finding
the case rests on, the decision from accountability). Each side of a join refreshes the
records it touches, so the result does not depend on which log arrives first. A withdrawn
publication's records are removed, and so is the record of a decision revoked on appeal.
A record's id is public and opaque (``public_record_id``).

The honour roll (``honours``, in the same projection, beside the records it is published
with): one document per commendation published with its public citation and not withdrawn,
joined with the cadre's name and the unit and post held when commended; never the
commendation's private reason. Its id is public and opaque too (``honour_id``).
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, uuid5

from pymongo.client_session import ClientSession
from pymongo.collection import Collection

from events.projections import Projection
from schemas.accountability.reference import HANDLINGS
from schemas.inspections.reference import category_of
from services.records.domain import POST_ENDED, POSTING_EVENTS

#: The date each kind of event takes effect (the first of these fields it has).
DATE_FIELDS = (
    "effective_date",
    "decided_on",
    "granted_on",
    "filed_on",
    "commended_on",
    "published_on",
    "withdrawn_on",
    "closed_on",
    "opened_on",
    "found_on",
    "erased_on",
)


#: The namespace of public record ids (``public_record_id``); changing it changes every id.
RECORD_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:youwei:public-record")


def public_record_id(publication_id: str, decision_id: str) -> str:
    """A published decision's public id: a name-based UUID (RFC 9562 version 5, SHA-1) of
    the publication and the decision, so the same in every rebuild, and one-way: it neither
    shows nor leads back to the internal ids, which never leave the services."""
    return str(uuid5(RECORD_ID_NAMESPACE, f"{publication_id}:{decision_id}"))


#: The namespace of the honour roll's public ids (``honour_id``).
HONOUR_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:youwei:honour-roll")


def honour_id(commendation_id: str, version: int) -> str:
    """A publication of a commendation on the honour roll: its public id, one-way from the
    commendation and the version its publication made (the same in every rebuild)."""
    return str(uuid5(HONOUR_ID_NAMESPACE, f"{commendation_id}:{version}"))


def effective_on(event: dict[str, Any]) -> str:
    """The day an event takes effect; an assessment counts from the last day of its year."""
    data = event["data"]
    if event["type"] == "assessment_concluded":
        return f"{data['year']}-12-31"
    for name in DATE_FIELDS:
        if data.get(name):
            return data[name]
    return (event.get("timestamp") or "")[:10]


def entry(event: dict[str, Any]) -> dict[str, Any]:
    """What a file keeps of an event: its type, identity, position, day and public data."""
    return {
        "type": event["type"],
        "event_id": event["event_id"],
        "position": event["position"],
        "originator_id": event["originator_id"],
        "on": effective_on(event),
        "data": event["data"],
    }


Db = dict[str, Collection]


#: The logs the projections read: the four services' (not records' own access record).
SOURCES = ("cadre_registry", "evaluations", "inspections", "accountability")


class PersonnelFiles(Projection):
    name = "personnel"
    sources = SOURCES
    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {
        "files": (),
        "cases": (),
        "units": (),
        "tasks": (),
    }

    def apply(self, event: dict[str, Any], db: Db, session: ClientSession) -> None:
        kind, data = event["type"], event["data"]
        if kind == "unit_registered":
            db["units"].update_one(
                {"_id": event["originator_id"]},
                {"$set": {"name": data["name"]}},
                upsert=True,
                session=session,
            )
            return
        if kind == "cadre_personal_data_erased":
            self._erase(event["originator_id"], db, session)
        cadres = self._cadres_concerned(event, db, session)
        for cadre_id in cadres:
            update: dict[str, Any] = {"$push": {f"events.{event['source']}": entry(event)}}
            if kind == "cadre_registered":
                update["$set"] = {"name": data["name"], "registered": True}
            db["files"].update_one({"_id": cadre_id}, update, upsert=True, session=session)

    @staticmethod
    def _erase(cadre_id: str, db: Db, session: ClientSession) -> None:
        """Forget the cadre's name wherever the file keeps it (the log keeps it sealed)."""
        file = db["files"].find_one({"_id": cadre_id}, session=session) or {}
        registry = (file.get("events") or {}).get("cadre_registry") or []
        for kept in registry:
            if kept["type"] == "cadre_registered":
                kept["data"]["name"] = None
        db["files"].update_one(
            {"_id": cadre_id},
            {
                "$set": {
                    "name": None,
                    "personal_data_erased": True,
                    "events.cadre_registry": registry,
                }
            },
            upsert=True,
            session=session,
        )

    def _cadres_concerned(self, event: dict[str, Any], db: Db, session) -> list[str]:
        kind, data = event["type"], event["data"]
        if kind in POSTING_EVENTS or kind == "cadre_personal_data_erased":
            return [event["originator_id"]]
        if kind == "responsibility_assigned":
            db["tasks"].update_one(
                {"_id": event["originator_id"]},
                {"$set": {"owner_id": data["owner_id"]}},
                upsert=True,
                session=session,
            )
            return [data["owner_id"]]
        if kind == "responsibility_owner_left":
            return [data["owner_id"]]
        if kind == "responsibility_reassigned":
            before = db["tasks"].find_one_and_update(
                {"_id": event["originator_id"]},
                {"$set": {"owner_id": data["owner_id"]}},
                upsert=True,
                session=session,
            )
            previous = (before or {}).get("owner_id")
            return [c for c in (previous, data["owner_id"]) if c]
        if kind == "case_opened":
            db["cases"].update_one(
                {"_id": event["originator_id"]},
                {"$set": {"cadre_id": data["cadre_id"]}},
                upsert=True,
                session=session,
            )
            return [data["cadre_id"]]
        if data.get("cadre_id"):  # decisions, appeals, commendations, assessments, findings
            return [data["cadre_id"]]
        if event["source"] == "accountability" and kind.startswith("case_"):
            case = db["cases"].find_one({"_id": event["originator_id"]}, session=session)
            return [case["cadre_id"]] if case else []
        return []


class PublicRecords(Projection):
    name = "public"
    sources = SOURCES
    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {
        "records": (
            ("published_on",),
            ("publication_id",),
            ("decision_id",),
            ("cadre_id",),
            ("unit_id",),
            ("finding_ids",),
            ("letter_ids",),
            ("category",),
            ("decision",),
            ("month",),
        ),
        "cadres": (),
        "units": (),
        "findings": (),
        "letters": (),
        "cases": (),
        # the honour roll: one document per commendation published and not withdrawn
        "honours": (("published_on",), ("commendation_id",), ("cadre_id",), ("unit_id",),
                    ("kind",), ("month",)),
        "commendations": (),
    }  # fmt: skip

    def apply(self, event: dict[str, Any], db: Db, session: ClientSession) -> None:
        kind, data, originator = event["type"], event["data"], event["originator_id"]
        refresh: dict[str, Any] | None = None
        if kind == "unit_registered":
            db["units"].update_one(
                {"_id": originator}, {"$set": {"name": data["name"]}}, upsert=True, session=session
            )
            refresh = {"unit_id": originator}
        elif kind in POSTING_EVENTS:
            posting = {
                "on": data.get("effective_date"),
                "type": kind,
                **{k: data.get(k) for k in ("unit_id", "post") if k in data},
            }
            update: dict[str, Any] = {"$push": {"postings": posting}}
            if kind == "cadre_registered":
                update["$set"] = {"name": data["name"]}
            db["cadres"].update_one({"_id": originator}, update, upsert=True, session=session)
            refresh = {"cadre_id": originator}
        elif kind == "cadre_personal_data_erased":
            db["cadres"].update_one({"_id": originator}, {"$set": {"name": None, "erased": True}},
                                    upsert=True, session=session)  # fmt: skip
            refresh = {"cadre_id": originator}
        elif kind == "finding_recorded":
            db["findings"].update_one(
                {"_id": originator},
                {"$set": {"situation": data["situation"]}},
                upsert=True,
                session=session,
            )
            refresh = {"finding_ids": originator}
        elif kind == "rectification_letter_issued":
            db["letters"].update_one(
                {"_id": originator},
                {"$set": {"finding_ids": data["finding_ids"]}},
                upsert=True,
                session=session,
            )
            refresh = {"letter_ids": originator}
        elif kind == "case_opened":
            basis = data["basis"]
            db["cases"].update_one(
                {"_id": originator},
                {
                    "$set": {
                        "cadre_id": data["cadre_id"],
                        "finding_ids": [b["finding_id"] for b in basis if b.get("finding_id")],
                        "letter_ids": [b["letter_id"] for b in basis if b.get("letter_id")],
                        "decisions": {},
                    }
                },
                upsert=True,
                session=session,
            )
        elif kind == "case_decided":
            decision = {k: data.get(k) for k in ("decision_type", "kind", "form", "decided_on")}
            db["cases"].update_one(
                {"_id": originator},
                {"$set": {f"decisions.{data['decision_id']}": decision}},
                session=session,
            )
        elif kind == "case_published":
            self._publish(originator, data, db, session)
            refresh = {"publication_id": data["publication_id"]}
        elif kind == "case_publication_withdrawn":
            db["records"].delete_many({"publication_id": data["publication_id"]}, session=session)
        elif kind == "case_appeal_decided" and data["outcome"] in ("revoked", "changed"):
            db["cases"].update_one(
                {"_id": originator},
                {
                    "$set": {
                        f"decisions.{data['decision_id']}.appeal": data["outcome"],
                        f"decisions.{data['decision_id']}.changed_to": data.get("changed_to"),
                    }
                },
                session=session,
            )
            refresh = {"decision_id": data["decision_id"]}
        elif kind == "commendation_commended":
            db["commendations"].update_one(
                {"_id": originator},
                {"$set": {"kind": data["kind"], "commended_on": data["commended_on"]}},
                upsert=True,
                session=session,
            )
        elif kind == "commendation_published":
            commendation = db["commendations"].find_one({"_id": originator}, session=session)
            db["honours"].update_one(
                {"_id": honour_id(originator, event["originator_version"])},
                {"$set": {"commendation_id": originator, "cadre_id": data["cadre_id"],
                          "kind": (commendation or {}).get("kind"),
                          "commended_on": (commendation or {}).get("commended_on"),
                          "published_on": data["published_on"], "citation": data["citation"],
                          "month": data["published_on"][:7]}},
                upsert=True, session=session,
            )  # fmt: skip
            refresh = {"commendation_id": originator}
        elif kind == "commendation_publication_withdrawn":
            db["honours"].delete_many({"commendation_id": originator}, session=session)
        if refresh is not None:
            for record in db["records"].find(refresh, session=session):
                self._refresh(record, db, session)
            if set(refresh) <= {"cadre_id", "unit_id", "commendation_id"}:
                for honour in db["honours"].find(refresh, session=session):
                    self._refresh_honour(honour, db, session)

    def _refresh_honour(self, honour: dict[str, Any], db: Db, session) -> None:
        """The honour's cadre name and the unit and post held when commended, as the
        projection holds them now; the citation may name the cadre, so it is withheld with
        the name once the cadre's personal data is erased."""
        cadre = db["cadres"].find_one({"_id": honour["cadre_id"]}, session=session) or {}
        held = self._posting_on(cadre.get("postings") or [], honour.get("commended_on"))
        unit = db["units"].find_one({"_id": held.get("unit_id")}, session=session) or {}
        fields = {
            "cadre_name": cadre.get("name"),
            "unit_id": held.get("unit_id"),
            "unit": unit.get("name"),
            "post": held.get("post"),
            "public_citation": None if cadre.get("erased") else honour.get("citation"),
        }
        db["honours"].update_one({"_id": honour["_id"]}, {"$set": fields}, session=session)

    def _publish(self, case_id: str, data: dict[str, Any], db: Db, session) -> None:
        case = db["cases"].find_one({"_id": case_id}, session=session)
        for decision_id in data["decision_ids"]:
            db["records"].update_one(
                {"_id": public_record_id(data["publication_id"], decision_id)},
                {
                    "$set": {
                        "publication_id": data["publication_id"],
                        "case_id": case_id,
                        "decision_id": decision_id,
                        "cadre_id": case["cadre_id"],
                        "finding_ids": case["finding_ids"],
                        "letter_ids": case["letter_ids"],
                        "published_on": data["published_on"],
                        "summary": data["summary"],
                        "month": data["published_on"][:7],
                    }
                },
                upsert=True,
                session=session,
            )

    def _refresh(self, record: dict[str, Any], db: Db, session) -> None:
        """Recompute a record's joined fields from what the projection holds now."""
        case = db["cases"].find_one({"_id": record["case_id"]}, session=session) or {}
        decision = (case.get("decisions") or {}).get(record["decision_id"]) or {}
        if decision.get("appeal") == "revoked":
            db["records"].delete_one({"_id": record["_id"]}, session=session)
            return
        changed = decision.get("changed_to") if decision.get("appeal") == "changed" else None
        cadre = db["cadres"].find_one({"_id": record["cadre_id"]}, session=session) or {}
        held = self._posting_on(cadre.get("postings") or [], decision.get("decided_on"))
        unit = db["units"].find_one({"_id": held.get("unit_id")}, session=session) or {}
        situation = self._situation(record, db, session)
        kind = (changed or decision).get("kind")
        fields = {
            "cadre_name": cadre.get("name"),
            "unit_id": held.get("unit_id"),
            "unit": unit.get("name"),
            "post": held.get("post"),
            "situation": situation,
            "category": category_of(situation) if situation else None,
            "decision_type": "handling" if kind in HANDLINGS else "measure",
            "decision": kind,
            "form": (changed or decision).get("form"),
            "decided_on": decision.get("decided_on"),
            # the published text may name the cadre: withheld with the name once it is erased
            "summary": None if cadre.get("erased") else record.get("summary"),
        }
        db["records"].update_one({"_id": record["_id"]}, {"$set": fields}, session=session)

    @staticmethod
    def _posting_on(postings: list[dict[str, Any]], day: str | None) -> dict[str, Any]:
        """The unit and post held on ``day`` (the last posting taking effect by then)."""
        held: dict[str, Any] = {}
        for posting in postings:
            if day is not None and posting.get("on") and posting["on"] > day and held:
                break
            if posting["type"] in POST_ENDED:
                continue  # the record names the post the cadre held when decided about
            held.update({k: v for k, v in posting.items() if k in ("unit_id", "post") and v})
        return held

    @staticmethod
    def _situation(record: dict[str, Any], db: Db, session) -> str | None:
        finding_ids = list(record.get("finding_ids") or [])
        for letter_id in record.get("letter_ids") or []:
            letter = db["letters"].find_one({"_id": letter_id}, session=session) or {}
            finding_ids += letter.get("finding_ids") or []
        for finding_id in finding_ids:
            finding = db["findings"].find_one({"_id": finding_id}, session=session)
            if finding:
                return finding["situation"]
        return None
