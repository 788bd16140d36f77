"""The records service's projections of the four logs (``events.readmodels.projections``):
these two, and the key work's progress (``services.records.keywork``).

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

from events.readmodels.projections import Batch, Projection
from schemas.accountability.reference import HANDLINGS
from schemas.inspections.reference import category_of
from services.records import chains
from services.records.domain import POST_ENDED, POSTING_EVENTS
from services.records.keywork import KeyWork

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
    if event["type"].startswith(("task_plan_", "major_decision_")):
        return chains.chain_day(event) or (event.get("timestamp") or "")[:10]
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


#: The logs the projections read: the four services' (not records' own access record).
SOURCES = ("cadre_registry", "evaluations", "inspections", "accountability")


def _on_a_case(event: dict[str, Any]) -> bool:
    return event["source"] == "accountability" and event["type"].startswith("case_")


def _set(batch: Batch, collection: str, _id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``$set`` with upsert, in the batch: the document with ``fields`` set."""
    document = batch.get(collection, _id) or {"_id": _id}
    document.update(fields)
    batch.put(collection, document)
    return document


class PersonnelFiles(Projection):
    name = "personnel"
    sources = SOURCES
    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {
        "files": (),
        "cases": (),
        "units": (),
        "tasks": (),
        # the implementation chain of each task (services.records.chains)
        "links": (),
        "chains": (),
    }

    def prepare(self, events: list[dict[str, Any]], batch: Batch) -> None:
        chains.prepare(events, batch)
        batch.load("units", [e["originator_id"] for e in events if e["type"] == "unit_registered"])
        batch.load("tasks", [e["originator_id"] for e in events
                             if e["type"].startswith("responsibility_")])  # fmt: skip
        batch.load("cases", [e["originator_id"] for e in events if _on_a_case(e)])
        cadres = [e["originator_id"] for e in events if e["type"] in POSTING_EVENTS]
        cadres += [
            e["data"][k] for e in events for k in ("cadre_id", "owner_id") if e["data"].get(k)
        ]
        cadres += [d.get("owner_id") for d in batch.documents["tasks"].values() if d]
        cadres += [d.get("cadre_id") for d in batch.documents["cases"].values() if d]
        batch.load("files", cadres)

    def fold(self, event: dict[str, Any], batch: Batch) -> None:
        kind, data = event["type"], event["data"]
        chains.fold(event, batch)
        if kind == "unit_registered":
            _set(batch, "units", event["originator_id"], {"name": data["name"]})
            return
        if kind == "cadre_personal_data_erased":
            self._erase(event["originator_id"], batch)
        for cadre_id in self._cadres_concerned(event, batch):
            file = batch.get("files", cadre_id) or {"_id": cadre_id}
            file.setdefault("events", {}).setdefault(event["source"], []).append(entry(event))
            if kind == "cadre_registered":
                file.update(name=data["name"], registered=True)
            batch.put("files", file)

    @staticmethod
    def _erase(cadre_id: str, batch: Batch) -> None:
        """Forget the cadre's name wherever the file keeps it (the log keeps it sealed)."""
        file = batch.get("files", cadre_id) or {"_id": cadre_id}
        registry = [
            {**kept, "data": {**kept["data"], "name": None}}
            if kept["type"] == "cadre_registered"
            else kept
            for kept in (file.get("events") or {}).get("cadre_registry") or []
        ]
        file.update(name=None, personal_data_erased=True)
        file.setdefault("events", {})["cadre_registry"] = registry
        batch.put("files", file)

    @staticmethod
    def _cadres_concerned(event: dict[str, Any], batch: Batch) -> list[str]:
        kind, data = event["type"], event["data"]
        if kind in POSTING_EVENTS or kind == "cadre_personal_data_erased":
            return [event["originator_id"]]
        if kind == "responsibility_assigned":
            _set(batch, "tasks", event["originator_id"], {"owner_id": data["owner_id"]})
            return [data["owner_id"]]
        if kind == "responsibility_owner_left":
            return [data["owner_id"]]
        if kind == "responsibility_reassigned":
            previous = (batch.get("tasks", event["originator_id"]) or {}).get("owner_id")
            _set(batch, "tasks", event["originator_id"], {"owner_id": data["owner_id"]})
            return [c for c in (previous, data["owner_id"]) if c]
        if kind == "case_opened":
            _set(batch, "cases", event["originator_id"], {"cadre_id": data["cadre_id"]})
            return [data["cadre_id"]]
        if data.get("cadre_id"):  # decisions, appeals, commendations, assessments, findings
            return [data["cadre_id"]]
        if _on_a_case(event):
            case = batch.get("cases", event["originator_id"])
            return [case["cadre_id"]] if case else []
        return []


#: What each side of a join refreshes: records and honours whose field holds the id.
RECORD_JOINS = ("unit_id", "cadre_id", "finding_ids", "letter_ids", "publication_id",
                "decision_id")  # fmt: skip
HONOUR_JOINS = ("cadre_id", "unit_id", "commendation_id")


class PublicRecords(Projection):
    name = "public"
    sources = SOURCES
    collections: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {
        "records": (
            ("publication_id",),
            ("decision_id",),
            ("cadre_id",),
            ("unit_id",),
            ("finding_ids",),
            ("letter_ids",),
        ),
        "cadres": (),
        "units": (),
        "findings": (),
        "letters": (),
        "cases": (),
        # the honour roll: one document per commendation published and not withdrawn
        "honours": (("commendation_id",), ("cadre_id",), ("unit_id",)),
        "commendations": (),
    }  # fmt: skip
    #: The public page's filters (services.records.page).
    query_indexes: ClassVar[dict[str, tuple[tuple[str, ...], ...]]] = {
        "records": (("published_on",), ("category",), ("decision",), ("month",)),
        "honours": (("published_on",), ("kind",), ("month",)),
    }

    @staticmethod
    def _refreshes(event: dict[str, Any]) -> dict[str, Any] | None:
        """Which records and honours an event's documents join into: ``{field: value}``."""
        kind, data, originator = event["type"], event["data"], event["originator_id"]
        if kind == "unit_registered":
            return {"unit_id": originator}
        if kind in POSTING_EVENTS or kind == "cadre_personal_data_erased":
            return {"cadre_id": originator}
        if kind == "finding_recorded":
            return {"finding_ids": originator}
        if kind == "rectification_letter_issued":
            return {"letter_ids": originator}
        if kind in ("case_published", "case_publication_withdrawn"):
            return {"publication_id": data["publication_id"]}
        if kind == "case_appeal_decided" and data["outcome"] in ("revoked", "changed"):
            return {"decision_id": data["decision_id"]}
        if kind in ("commendation_published", "commendation_publication_withdrawn"):
            return {"commendation_id": originator}
        return None

    def prepare(self, events: list[dict[str, Any]], batch: Batch) -> None:
        """Load the documents the events name, the records and honours they refresh, then
        what those join with: cases, cadres, letters, then units and findings."""
        ids: dict[str, list[Any]] = {name: [] for name in self.collections}
        where: dict[tuple[str, str], list[Any]] = {}
        for event in events:
            kind, data, originator = event["type"], event["data"], event["originator_id"]
            named = {"unit_registered": "units", "finding_recorded": "findings",
                     "rectification_letter_issued": "letters"}.get(kind)  # fmt: skip
            if kind in POSTING_EVENTS or kind == "cadre_personal_data_erased":
                named = "cadres"
            elif _on_a_case(event):
                named = "cases"
            elif kind.startswith("commendation_"):
                named = "commendations"
            if named:
                ids[named].append(originator)
            if kind in POSTING_EVENTS:
                ids["units"].append(data.get("unit_id"))
            ids["cadres"].append(data.get("cadre_id"))
            for basis in data.get("basis") or ():
                ids["findings"].append(basis.get("finding_id"))
                ids["letters"].append(basis.get("letter_id"))
            if kind == "case_published":
                ids["records"] += [public_record_id(data["publication_id"], decision)
                                   for decision in data["decision_ids"]]  # fmt: skip
            if kind == "commendation_published":
                ids["honours"].append(honour_id(originator, event["originator_version"]))
            for field, value in (self._refreshes(event) or {}).items():
                if field in RECORD_JOINS:
                    where.setdefault(("records", field), []).append(value)
                if field in HONOUR_JOINS:
                    where.setdefault(("honours", field), []).append(value)
        for (collection, field), values in where.items():
            batch.load_where(collection, field, values)
        for name in ("records", "honours", "commendations"):
            batch.load(name, ids[name])
        records = [d for d in batch.documents["records"].values() if d]
        honours = [d for d in batch.documents["honours"].values() if d]
        batch.load("cases", ids["cases"] + [r.get("case_id") for r in records])
        cases = [d for d in batch.documents["cases"].values() if d]
        batch.load(
            "cadres", ids["cadres"] + [d.get("cadre_id") for d in (*records, *honours, *cases)]
        )
        batch.load("letters", ids["letters"] + [i for d in (*records, *cases)
                                                for i in d.get("letter_ids") or ()])  # fmt: skip
        cadres = [d for d in batch.documents["cadres"].values() if d]
        held = [
            posting.get("unit_id") for cadre in cadres for posting in cadre.get("postings") or ()
        ]
        batch.load("units", ids["units"] + held)
        finding_ids = [i for d in (*records, *cases, *batch.documents["letters"].values())
                       if d for i in d.get("finding_ids") or ()]  # fmt: skip
        batch.load("findings", ids["findings"] + finding_ids)

    def fold(self, event: dict[str, Any], batch: Batch) -> None:
        kind, data, originator = event["type"], event["data"], event["originator_id"]
        if kind == "unit_registered":
            _set(batch, "units", originator, {"name": data["name"]})
        elif kind in POSTING_EVENTS:
            posting = {
                "on": data.get("effective_date"),
                "type": kind,
                **{k: data.get(k) for k in ("unit_id", "post") if k in data},
            }
            cadre = batch.get("cadres", originator) or {"_id": originator}
            cadre.setdefault("postings", []).append(posting)
            if kind == "cadre_registered":
                cadre["name"] = data["name"]
            batch.put("cadres", cadre)
        elif kind == "cadre_personal_data_erased":
            _set(batch, "cadres", originator, {"name": None, "erased": True})
        elif kind == "finding_recorded":
            _set(batch, "findings", originator, {"situation": data["situation"]})
        elif kind == "rectification_letter_issued":
            _set(batch, "letters", originator, {"finding_ids": data["finding_ids"]})
        elif kind == "case_opened":
            basis = data["basis"]
            _set(batch, "cases", originator, {
                "cadre_id": data["cadre_id"],
                "finding_ids": [b["finding_id"] for b in basis if b.get("finding_id")],
                "letter_ids": [b["letter_id"] for b in basis if b.get("letter_id")],
                "decisions": {},
            })  # fmt: skip
        elif kind == "case_decided":
            case = batch.get("cases", originator)
            if case is not None:
                decision = {k: data.get(k) for k in ("decision_type", "kind", "form", "decided_on")}
                case.setdefault("decisions", {})[data["decision_id"]] = decision
                batch.put("cases", case)
        elif kind == "case_published":
            self._publish(originator, data, batch)
        elif kind == "case_publication_withdrawn":
            for record in batch.find("records", "publication_id", data["publication_id"]):
                batch.delete("records", record["_id"])
        elif kind == "case_appeal_decided" and data["outcome"] in ("revoked", "changed"):
            case = batch.get("cases", originator)
            if case is not None:
                decision = case.setdefault("decisions", {}).setdefault(data["decision_id"], {})
                decision.update(appeal=data["outcome"], changed_to=data.get("changed_to"))
                batch.put("cases", case)
        elif kind == "commendation_commended":
            _set(batch, "commendations", originator,
                 {"kind": data["kind"], "commended_on": data["commended_on"]})  # fmt: skip
        elif kind == "commendation_published":
            commendation = batch.get("commendations", originator) or {}
            _set(batch, "honours", honour_id(originator, event["originator_version"]), {
                "commendation_id": originator, "cadre_id": data["cadre_id"],
                "kind": commendation.get("kind"), "commended_on": commendation.get("commended_on"),
                "published_on": data["published_on"], "citation": data["citation"],
                "month": data["published_on"][:7]})  # fmt: skip
        elif kind == "commendation_publication_withdrawn":
            for honour in batch.find("honours", "commendation_id", originator):
                batch.delete("honours", honour["_id"])
        if kind in ("case_publication_withdrawn", "commendation_publication_withdrawn"):
            return
        for field, value in (self._refreshes(event) or {}).items():
            if field in RECORD_JOINS:
                for record in batch.find("records", field, value):
                    self._refresh(record, batch)
            if field in HONOUR_JOINS:
                for honour in batch.find("honours", field, value):
                    self._refresh_honour(honour, batch)

    def _refresh_honour(self, honour: dict[str, Any], batch: Batch) -> None:
        """The honour's cadre name and the unit and post held when commended, as the
        projection holds them now; the citation may name the cadre, so it is withheld with
        the name once the cadre's personal data is erased."""
        cadre = batch.get("cadres", honour["cadre_id"]) or {}
        held = self._posting_on(cadre.get("postings") or [], honour.get("commended_on"))
        unit = batch.get("units", held.get("unit_id")) or {}
        honour.update({
            "cadre_name": cadre.get("name"),
            "unit_id": held.get("unit_id"),
            "unit": unit.get("name"),
            "post": held.get("post"),
            "public_citation": None if cadre.get("erased") else honour.get("citation"),
        })  # fmt: skip
        batch.put("honours", honour)

    @staticmethod
    def _publish(case_id: str, data: dict[str, Any], batch: Batch) -> None:
        case = batch.get("cases", case_id)
        for decision_id in data["decision_ids"]:
            _set(batch, "records", public_record_id(data["publication_id"], decision_id), {
                "publication_id": data["publication_id"],
                "case_id": case_id,
                "decision_id": decision_id,
                "cadre_id": case["cadre_id"],
                "finding_ids": case["finding_ids"],
                "letter_ids": case["letter_ids"],
                "published_on": data["published_on"],
                "summary": data["summary"],
                "month": data["published_on"][:7],
            })  # fmt: skip

    def _refresh(self, record: dict[str, Any], batch: Batch) -> None:
        """Recompute a record's joined fields from what the projection holds now."""
        case = batch.get("cases", record["case_id"]) or {}
        decision = (case.get("decisions") or {}).get(record["decision_id"]) or {}
        if decision.get("appeal") == "revoked":
            batch.delete("records", record["_id"])
            return
        changed = decision.get("changed_to") if decision.get("appeal") == "changed" else None
        cadre = batch.get("cadres", record["cadre_id"]) or {}
        held = self._posting_on(cadre.get("postings") or [], decision.get("decided_on"))
        unit = batch.get("units", held.get("unit_id")) or {}
        situation = self._situation(record, batch)
        kind = (changed or decision).get("kind")
        record.update({
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
        })  # fmt: skip
        batch.put("records", record)

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
    def _situation(record: dict[str, Any], batch: Batch) -> str | None:
        finding_ids = list(record.get("finding_ids") or [])
        for letter_id in record.get("letter_ids") or []:
            finding_ids += (batch.get("letters", letter_id) or {}).get("finding_ids") or []
        for finding_id in finding_ids:
            finding = batch.get("findings", finding_id)
            if finding:
                return finding["situation"]
        return None


#: Every projection of the records service, in the order they are built; the key work's
#: progress is one of its own (``services.records.keywork``).
PROJECTIONS = (PersonnelFiles, PublicRecords, KeyWork)
