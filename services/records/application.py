"""The records service's queries over its projections: each RPC query first catches the
projection up with the logs, so it answers with everything the other services acknowledged
before; the public pages answer from the projections as they stand (``catch_up=False``)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Any

from events.audit.checkpoints import CHECKPOINTS, Keys
from events.audit.transparency import TransparencyLog, TreeProblem, public_head
from events.log.commands import CommandApplication
from events.readmodels.projections import Projector
from events.readmodels.views import paged
from schemas.accountability.reference import COMMENDATIONS
from schemas.common import label
from schemas.errors import NotFound
from schemas.events import LOGS
from schemas.inspections.chain import TARGET_OUTCOMES
from schemas.inspections.reference import CATEGORIES
from schemas.records.reference import CURRENT_RESTRICTION_RULES
from services.records import chains, files, keywork
from services.records.transparency import Leaves


class RecordsLog(CommandApplication):
    """The records service's own log, ``records_events``: its access record only (reads of
    personnel files and refused calls, ``events.identity.access``). The projections read the four
    other services' logs, never this one."""

    name = "Records"


class Records:
    """Queries over the projections; ``catch_up=False`` answers from the projections as they
    stand (the public pages: the projections' poller keeps them a poll behind the logs)."""

    def __init__(self, projectors: dict[str, Projector], catch_up: bool = True) -> None:
        self.personnel = projectors["personnel"]
        self.public = projectors["public"]
        self.keywork = projectors["keywork"]
        self.catch_up = catch_up

    def public_version(self) -> tuple[Any, ...]:
        """What the public pages are built from, as a value that changes whenever they
        could: the public and key-work projections' generations and revisions, the number of
        signed checkpoints (they are only added), the signing keys, and the transparency log's
        latest head and latest witnessed head with its co-signatures (the page shows them)."""
        database = self.public.datastore.database
        keys = [(k["_id"], k.get("retired_at")) for k in Keys(database).all()]
        checkpoints = database[CHECKPOINTS].estimated_document_count()
        tree = TransparencyLog(database)
        heads = tuple(
            None if head is None else (head["tree_size"], head["key_id"], len(head["witnesses"]))
            for head in (tree.latest_head(), tree.latest_head(witnessed=True))
        )
        return (*self.public.version(), *self.keywork.version(), checkpoints, tuple(keys),
                heads)  # fmt: skip

    def _file(self, cadre_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        self.personnel.catch_up()
        db = self.personnel.live().db
        document = db["files"].find_one({"_id": cadre_id})
        if document is None or not document.get("registered"):
            raise NotFound(f"no cadre {cadre_id} in the registry's log")
        unit_ids = {e["data"].get("unit_id") for e in document["events"].get("cadre_registry", [])}
        units = {
            u["_id"]: u["name"]
            for u in db["units"].find({"_id": {"$in": sorted(i for i in unit_ids if i)}})
        }
        return document, units

    def personnel_file(self, query: dict[str, Any], today: date) -> dict[str, Any]:
        document, units = self._file(str(query["cadre_id"]))
        as_of = query["as_of"] or today
        held = chains.chains_of(self.personnel.live().db, files.tasks_held(document), as_of)
        return files.personnel_file(document, units, as_of, CURRENT_RESTRICTION_RULES, held)

    def task_chain(self, query: dict[str, Any], today: date) -> dict[str, Any]:
        """One task's whole chain in order, as of a day (``services.records.chains``)."""
        self.personnel.catch_up()
        task_id, as_of = str(query["task_id"]), query["as_of"] or today
        steps = chains.chains_of(self.personnel.live().db, [task_id], as_of)[task_id]
        if not any(s["type"] == "responsibility_assigned" for s in steps):
            raise NotFound(f"no task {task_id} in the registry's log (by {as_of})")
        return {"task_id": task_id, "as_of": as_of.isoformat(), "steps": steps}

    def eligible_for_promotion(self, query: dict[str, Any]) -> dict[str, Any]:
        document, _ = self._file(str(query["cadre_id"]))
        return files.eligibility(document, query["on"], CURRENT_RESTRICTION_RULES)

    def public_records(self, query: dict[str, Any]) -> dict[str, Any]:
        if self.catch_up:
            self.public.catch_up()
        records = self.public.live().db["records"]
        wanted = self._public_filter(query)
        total = records.count_documents(wanted)
        cursor = records.find(wanted).sort([("published_on", -1), ("_id", 1)])
        page = cursor.skip((query["page"] - 1) * query["page_size"]).limit(query["page_size"])
        return paged(query, total, "records", [files.public_record(d) for d in page])

    def public_charts(self, query: dict[str, Any]) -> dict[str, Any]:
        """Counts of the records matching ``query`` (its page aside) by category, by measure
        or handling, and by month; and every month with a record, for the page's filter."""
        records = self.public.live().db["records"]
        picked = {"category": 1, "decision": 1, "month": 1}
        counts: dict[str, Counter] = {key: Counter() for key in picked}
        for document in records.find(self._public_filter(query), picked):
            for key in picked:
                counts[key][document.get(key)] += 1
        months = sorted({d["month"] for d in records.find({}, {"month": 1})})
        return {
            "by_category": [
                {**label(CATEGORIES, code), "count": counts["category"][code]}
                for code in CATEGORIES
            ],
            "by_decision": [
                {**label(files.DECISIONS, code), "count": n}
                for code, n in sorted(counts["decision"].items())
                if code
            ],
            "by_month": [{"month": m, "count": n} for m, n in sorted(counts["month"].items())],
            "months": months,
        }

    def honour_roll(self, query: dict[str, Any]) -> dict[str, Any]:
        """The commendations on the honour roll that match ``query``, newest first."""
        if self.catch_up:
            self.public.catch_up()
        honours = self.public.live().db["honours"]
        wanted = self._honour_filter(query)
        total = honours.count_documents(wanted)
        cursor = honours.find(wanted).sort([("published_on", -1), ("_id", 1)])
        page = cursor.skip((query["page"] - 1) * query["page_size"]).limit(query["page_size"])
        return paged(query, total, "honours", [files.honour(d) for d in page])

    def honour_charts(self, query: dict[str, Any]) -> dict[str, Any]:
        """Counts of the honours matching ``query`` (its page aside) by kind and by month;
        and every month with an honour, for the page's filter."""
        honours = self.public.live().db["honours"]
        kinds: Counter = Counter()
        months: Counter = Counter()
        for document in honours.find(self._honour_filter(query), {"kind": 1, "month": 1}):
            kinds[document.get("kind")] += 1
            months[document.get("month")] += 1
        return {
            "by_kind": [
                {**label(COMMENDATIONS, code), "count": kinds[code]}
                for code in COMMENDATIONS
                if kinds[code]
            ],
            "by_month": [{"month": m, "count": n} for m, n in sorted(months.items())],
            "months": sorted({d["month"] for d in honours.find({}, {"month": 1})}),
        }

    @staticmethod
    def _honour_filter(query: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, Any] = {k: query[k] for k in ("kind", "month") if query.get(k)}
        if query.get("q"):
            text = {"$regex": re.escape(query["q"]), "$options": "i"}
            wanted["$or"] = [{"cadre_name": text}, {"unit": text}, {"post": text}]
        return wanted

    def key_work(self, query: dict[str, Any], today: date) -> dict[str, Any]:
        """The key-work shares that match ``query``, by title; each target's progress."""
        if self.catch_up:
            self.keywork.catch_up()
        shares = self.keywork.live().db["shares"]
        wanted = self._key_work_filter(query)
        total = shares.count_documents(wanted)
        cursor = shares.find(wanted).sort([("title", 1), ("_id", 1)])
        page = cursor.skip((query["page"] - 1) * query["page_size"]).limit(query["page_size"])
        day = today.isoformat()
        return paged(query, total, "shares", [keywork.public_share(d, day) for d in page])

    def key_work_charts(self, query: dict[str, Any], today: date) -> dict[str, Any]:
        """Over the shares matching ``query`` (its page aside): their targets by outcome,
        and by the month they are due."""
        shares = self.keywork.live().db["shares"]
        outcomes: Counter = Counter()
        months: Counter = Counter()
        day = today.isoformat()
        for document in shares.find(self._key_work_filter(query)):
            for target in keywork.public_share(document, day)["targets"]:
                outcomes[target["outcome"]["code"]] += 1
                months[target["due_on"][:7]] += 1
        return {
            "by_outcome": [
                {**label(TARGET_OUTCOMES, code), "count": outcomes[code]}
                for code in TARGET_OUTCOMES
            ],
            "by_month": [{"month": m, "count": n} for m, n in sorted(months.items())],
        }

    @staticmethod
    def _key_work_filter(query: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, Any] = {"kind": keywork.KEY_WORK}
        if query.get("q"):
            text = {"$regex": re.escape(query["q"]), "$options": "i"}
            wanted["$or"] = [{"title": text}, {"owner_name": text}, {"unit": text},
                             {"post": text}]  # fmt: skip
        return wanted

    @staticmethod
    def _public_filter(query: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, Any] = {
            k: query[k] for k in ("category", "situation", "decision", "month") if query.get(k)
        }
        if query.get("q"):
            text = {"$regex": re.escape(query["q"]), "$options": "i"}
            wanted["$or"] = [{"cadre_name": text}, {"unit": text}, {"post": text}]
        return wanted

    def status(self) -> dict[str, Any]:
        """Each projection's generation, and its position and lag behind each log."""
        answer = {}
        for projector in (self.personnel, self.public, self.keywork):
            heads, generation = projector.heads(), projector.live()
            positions = projector.positions(generation)
            answer[projector.projection.name] = {
                "generation": generation.number,
                "logs": {
                    source: {
                        "position": positions[source],
                        "head": heads[source],
                        "lag": heads[source] - positions[source],
                    }
                    for source in heads
                },
            }
        return answer

    def integrity(self) -> dict[str, Any]:
        """The latest signed checkpoint of each log and the signing keys (public)."""
        database = self.public.datastore.database
        latest = []
        for log in LOGS.values():
            found = database[CHECKPOINTS].find_one(
                {"log": log}, {"_id": 0}, sort=[("position", -1), ("signed_at", -1)]
            )
            if found is not None:
                latest.append(found)
        keys = [{"id": k["_id"], "public_key": k["public_key"], "since": k["since"],
                 "retired_at": k.get("retired_at")} for k in Keys(database).all()]  # fmt: skip
        return {"checkpoints": latest, "keys": keys, "transparency": self.tree_heads()}

    def tree_heads(self) -> dict[str, Any]:
        """The published record's latest signed tree head and latest witnessed one."""
        tree = TransparencyLog(self.public.datastore.database)
        head, witnessed = tree.latest_head(), tree.latest_head(witnessed=True)
        return {"head": public_head(head) if head else None,
                "witnessed": public_head(witnessed) if witnessed else None}  # fmt: skip

    def proof(self, leaf_id: str, honour: bool, since: tuple[int, ...]) -> dict[str, Any]:
        """A record's (or honour's) inclusion proof, as ``scripts/verify-record`` takes it."""
        self.public.catch_up()
        try:
            return Leaves(self.public).proof(leaf_id, honour, since)
        except TreeProblem as problem:
            raise NotFound(str(problem)) from None

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        try:
            path = TransparencyLog(self.public.datastore.database).consistency(first, second)
        except TreeProblem as problem:
            raise NotFound(str(problem)) from None
        return {"first": first, "second": second, "consistency": path}

    @staticmethod
    def commendation_options() -> list[dict[str, str]]:
        return [label(COMMENDATIONS, code) for code in COMMENDATIONS]

    @staticmethod
    def decision_options() -> list[dict[str, str]]:
        return [label(files.DECISIONS, code) for code in files.DECISIONS]
