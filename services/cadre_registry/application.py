"""The cadre registry application: each command loads aggregates, applies the domain rules,
and saves the changes with the command's record (``events.log.commands``). Payloads arrive
validated by ``schemas.cadre_registry``; ids are checked here against what exists."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, DomainEvent
from pymongo.client_session import ClientSession

from events.log.commands import CommandApplication, Decision
from events.readmodels.views import LogView, paged
from schemas.accountability.reference import HANDLINGS
from schemas.cadre_registry.reference import (
    GENDERS,
    POST_CHANGES,
    POST_KINDS,
    RANKS,
    STATUSES,
    TASK_KINDS,
)
from schemas.common import label
from schemas.errors import Conflict, RuleViolation
from services.cadre_registry.domain import AppliedHandling, Cadre, Responsibility, Unit

A = TypeVar("A", bound=Aggregate)
NAMES = {Unit: "unit", Cadre: "cadre", Responsibility: "task"}
HANDLING_EVENTS = ("case_decided", "case_appeal_decided")


RETENTION_TIMER = UUID("5b0e9a63-93c1-4c0e-8d7e-2f4a1f6f0b52")


class RetentionView(LogView):
    """Cadres whose personal data is kept until a day, for the retention timer."""

    name = "cadreregistry_retention_view"
    indexes = (("erased", "keep_until"),)

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        key = {"_id": event.originator_id}
        if isinstance(event, Cadre.RetentionSet):
            update = {"keep_until": event.keep_until.isoformat(), "erased": False}
            self.documents.update_one(key, {"$set": update}, upsert=True, session=session)
        elif isinstance(event, Cadre.PersonalDataErased):
            self.documents.update_one(key, {"$set": {"erased": True}}, session=session)


class TasksView(LogView):
    """Every task, and whether it needs an owner (its owner left the post) since when."""

    name = "cadreregistry_tasks_view"
    indexes = (("needs_owner", "since"), ("needs_owner", "kind", "since"))

    def apply(self, event: DomainEvent, session: ClientSession) -> None:
        key = {"_id": event.originator_id}
        if isinstance(event, Responsibility.Assigned):
            document = {"task_id": str(event.originator_id), "kind": event.kind,
                        "needs_owner": False, "since": None}  # fmt: skip
            self.documents.replace_one(key, document, upsert=True, session=session)
        elif isinstance(event, Responsibility.OwnerLeft):
            update = {"needs_owner": True, "since": event.effective_date.isoformat()}
            self.documents.update_one(key, {"$set": update}, session=session)
        elif isinstance(event, Responsibility.Reassigned):
            update = {"needs_owner": False, "since": None}
            self.documents.update_one(key, {"$set": update}, session=session)


class CadreRegistry(CommandApplication):
    name = "CadreRegistry"
    names = NAMES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retention_view = RetentionView(self)
        self.tasks_view = TasksView(self)

    # --- commands ------------------------------------------------------------------------

    def register_unit(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            if command["parent_id"] is not None:
                self._referenced(Unit, command["parent_id"], "parent_id")
            unit = Unit(command["name"], command["parent_id"])
            return [unit], {"unit_id": str(unit.id)}

        return self.execute("register_unit", command, decide)

    def register_cadre(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            unit = self._referenced(Unit, command["unit_id"], "unit_id")
            cadre = Cadre(
                command["name"],
                command["gender"],
                command["birth_date"],
                unit.id,
                command["post"],
                command["rank"],
                command["post_kind"],
                command["effective_date"],
            )
            unit.admit(cadre.id)
            return [cadre, unit], {"cadre_id": str(cadre.id)}

        return self.execute("register_cadre", command, decide)

    def appoint(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "appoint",
            command,
            lambda cadre: cadre.appoint(
                command["unit_id"],
                command["post"],
                command["rank"],
                command["post_kind"],
                command["effective_date"],
            ),
        )

    def transfer(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "transfer",
            command,
            lambda cadre: cadre.transfer(
                command["unit_id"], command["post"], command["effective_date"]
            ),
        )

    def change_to_non_leadership(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "change_to_non_leadership",
            command,
            lambda cadre: cadre.change_to_non_leadership(
                command["post"], command["effective_date"], command["reason"]
            ),
        )

    def send_to_off_post_training(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "send_to_off_post_training",
            command,
            lambda cadre: cadre.send_to_off_post_training(
                command["effective_date"], command["reason"]
            ),
        )

    def dismiss(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "dismiss",
            command,
            lambda cadre: cadre.dismiss(command["effective_date"], command["reason"]),
        )

    def order_resignation(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "order_resignation",
            command,
            lambda cadre: cadre.order_resignation(command["effective_date"], command["reason"]),
        )

    def dismiss_from_service(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "dismiss_from_service",
            command,
            lambda cadre: cadre.dismiss_from_service(command["effective_date"], command["reason"]),
        )

    def demote(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._change_post(
            "demote",
            command,
            lambda cadre: cadre.demote(
                command["rank"], command["post"], command["effective_date"], command["reason"]
            ),
        )

    def _change_post(self, name: str, command: dict[str, Any], change) -> dict[str, Any]:
        def decide() -> Decision:
            cadre = self._referenced(Cadre, command["cadre_id"], "cadre_id")
            if "unit_id" in command:
                self._referenced(Unit, command["unit_id"], "unit_id")
            return self._moved(cadre, change)

        return self.execute(name, command, decide)

    def _moved(self, cadre: Cadre, change, *more: Aggregate) -> Decision:
        """Apply ``change`` to the cadre and move their unit membership to match; a cadre
        who left their post keeps no task (``_vacate``)."""
        before = cadre.unit_id
        held = dict(cadre.history[-1])
        change(cadre)
        changed: list[Aggregate] = [cadre, *more]
        if cadre.unit_id != before:
            if before is not None:
                old = self.repository.get(before)
                old.release(cadre.id)
                changed.append(old)
            if cadre.unit_id is not None:
                new = self.repository.get(cadre.unit_id)
                new.admit(cadre.id)
                changed.append(new)
        changed += self._vacate(cadre, held)
        return changed, {"cadre_id": str(cadre.id), "version": cadre.version}

    def _vacate(self, cadre: Cadre, held: dict[str, Any]) -> list[Aggregate]:
        """Every task of a cadre who left the post ``held`` needs a new owner: each is
        marked vacant (visible in ``tasks_needing_owner``) and leaves the cadre's list."""
        if not cadre.tasks or not cadre.left_post(held):
            return []
        last = cadre.history[-1]
        tasks = [self.repository.get(task_id) for task_id in cadre.tasks]
        for task in tasks:
            task.owner_left(last["change"], last["effective_date"], last["reason"])
            cadre.hand_over_task(task.id)
        return tasks

    # --- policies (reactions to accountability's events) ----------------------------------

    def apply_handlings(self, event: dict[str, Any]) -> int:
        """A handling decided on a case (转任 … 辞退) changes the cadre's post, once; its
        revocation on appeal restores the post held before, and its change on appeal
        restores it and applies the new handling. One policy for both kinds of event, so
        that an appeal is never seen before its decision."""

        def decide(upstream: dict[str, Any]) -> Decision:
            if upstream["type"] == "case_decided":
                return self._apply_handling(upstream)
            return self._apply_appeal(upstream)

        return self.process(event, "apply_handlings", HANDLING_EVENTS, decide)

    def _apply_handling(self, upstream: dict[str, Any]) -> Decision:
        data = upstream["data"]
        if data["decision_type"] != "handling":
            return [], {"ignored": "a measure changes no post"}
        decision_id = UUID(data["decision_id"])
        cadre = self._referenced(Cadre, UUID(data["cadre_id"]), "cadre_id")
        on = date.fromisoformat(data["decided_on"])
        reason = f"问责处理决定 accountability decision {decision_id}"
        change = self._handling(data["kind"], data["target"] or {}, on, reason)
        before = posting_of(cadre)
        changed, result = self._moved(cadre, change)
        applied = AppliedHandling(decision_id, cadre.id, data["kind"], before,
                                  len(cadre.history) - 1)  # fmt: skip
        return [*changed, applied], {**result, "applied": data["kind"]}

    def _apply_appeal(self, upstream: dict[str, Any]) -> Decision:
        """A handling revoked on appeal is undone; one changed on appeal is undone and the
        handling it was changed to applied, with the appeal as the cause of both."""
        data = upstream["data"]
        changed_to = data.get("changed_to") or {}
        new_handling = data["outcome"] == "changed" and changed_to.get("kind") in HANDLINGS
        if data["outcome"] == "upheld" or (data["outcome"] == "changed" and not new_handling):
            return [], {"ignored": f"an appeal {data['outcome']}: no handling to undo"}
        decision_id = UUID(data["decision_id"])
        applied = self.find(AppliedHandling.create_id(decision_id), AppliedHandling)
        if applied is None and not new_handling:
            return [], {"ignored": "no handling of this decision was applied"}
        cadre = self._referenced(Cadre, UUID(data["cadre_id"]), "cadre_id")
        on = date.fromisoformat(data["decided_on"])
        if not new_handling:
            reason = f"申诉撤销 decision {decision_id} revoked on appeal"
            changed, result = self._moved(cadre, lambda c: applied.undo(c, on, reason), applied)
            return changed, {**result, "undone": applied.handling}
        kind = changed_to["kind"]
        reason = f"申诉变更 decision {decision_id} changed on appeal to {kind}"
        change = self._handling(kind, changed_to, on, reason)
        state: dict[str, Any] = {}

        def change_on_appeal(c: Cadre) -> None:
            if applied is not None and not applied.undone:
                applied.undo(c, on, reason)
            state["before"] = posting_of(c)
            change(c)

        changed, result = self._moved(cadre, change_on_appeal)
        entry = len(cadre.history) - 1
        if applied is None:
            applied = AppliedHandling(decision_id, cadre.id, kind, state["before"], entry)
        else:
            applied.replace(kind, state["before"], entry)
        return [*changed, applied], {**result, "applied": kind}

    def _handling(self, kind: str, target: dict[str, Any], on: date, reason: str):
        """What the handling ``kind`` does to a cadre, with the post it names (``target``:
        ``unit_id``, ``post``, ``rank`` as the handling needs)."""
        unit_id = UUID(str(target["unit_id"])) if target.get("unit_id") else None
        if unit_id is not None:
            self._referenced(Unit, unit_id, "unit_id")
        changes = {
            "transfer": lambda c: c.transfer(unit_id, target["post"], on, reason),
            "post_adjustment": lambda c: c.transfer(c.unit_id, target["post"], on, reason),
            "non_leadership": lambda c: c.change_to_non_leadership(target["post"], on, reason),
            "off_post_training": lambda c: c.send_to_off_post_training(on, reason),
            "dismissal": lambda c: c.dismiss(on, reason),
            "ordered_resignation": lambda c: c.order_resignation(on, reason),
            "demotion": lambda c: c.demote(target["rank"], target["post"], on, reason),
            "dismissal_from_service": lambda c: c.dismiss_from_service(on, reason),
        }  # fmt: skip
        return changes[kind]

    def assign_responsibility(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            owner = self._referenced(Cadre, command["owner_id"], "owner_id")
            if command["task_id"] is None:
                task = Responsibility(
                    command["kind"], command["title"], owner.id, command["effective_date"]
                )
                owner.take_task(task.id, task.kind)
                return [task, owner], {"task_id": str(task.id), "owner_id": str(owner.id)}
            task = self._referenced(Responsibility, command["task_id"], "task_id")
            if task.owner_id == owner.id and task.vacant is None:
                return [], {"task_id": str(task.id), "owner_id": str(owner.id)}
            task.reassign(owner.id, command["effective_date"])
            owner.take_task(task.id, task.kind)
            changed: list[Aggregate] = [task, owner]
            previous = self.repository.get(task.owners[-2]["owner_id"])
            if previous.id != owner.id and task.id in previous.tasks:  # not when vacant
                previous.hand_over_task(task.id)
                changed.append(previous)
            return changed, {"task_id": str(task.id), "owner_id": str(owner.id)}

        return self.execute("assign_responsibility", command, decide)

    # --- queries -------------------------------------------------------------------------

    def get_unit(self, query: dict[str, Any]) -> dict[str, Any]:
        unit = self._found(Unit, query["unit_id"])
        return {
            "unit_id": str(unit.id),
            "name": unit.name,
            "parent_id": str(unit.parent_id) if unit.parent_id else None,
            "cadres": len(unit.members),
        }

    def get_cadre(self, query: dict[str, Any]) -> dict[str, Any]:
        return cadre_view(self._found(Cadre, query["cadre_id"]))

    def list_cadres(self, query: dict[str, Any]) -> dict[str, Any]:
        unit = self._found(Unit, query["unit_id"])
        start = (query["page"] - 1) * query["page_size"]
        members = unit.members[start : start + query["page_size"]]
        return {
            "unit_id": str(unit.id),
            "total": len(unit.members),
            "page": query["page"],
            "page_size": query["page_size"],
            "cadres": [cadre_view(self.repository.get(c), history=False) for c in members],
        }

    def erase_personal_data(self, command: dict[str, Any]) -> dict[str, Any]:
        """Record the erasure, then destroy the cadre's key (``CommandApplication.erase``):
        a refused erasure destroys nothing."""

        def decide() -> Decision:
            cadre = self._referenced(Cadre, command["cadre_id"], "cadre_id")
            cadre.erase_personal_data(command["reason"], command["erased_on"])
            return [cadre], {"cadre_id": str(cadre.id), "personal_data_erased": True}

        return self.erase("erase_personal_data", command, decide, [str(command["cadre_id"])])

    def apply_retention(self, today: date) -> list[str]:
        """The retention timer: erase the personal data of every cadre kept until before
        ``today``, once (a command per cadre and retention day). Returns the cadres erased.
        First it finishes any erasure recorded whose keys are not yet destroyed."""
        self.finish_erasures()
        self.retention_view.catch_up()
        due = self.retention_view.documents.find(
            {"erased": False, "keep_until": {"$lt": today.isoformat()}}, {"_id": True}
        )
        erased = []
        for document in list(due):
            cadre = self.repository.get(document["_id"])
            keep_until = cadre.keep_personal_data_until
            command = {
                "command_id": uuid5(RETENTION_TIMER, f"{document['_id']}:{keep_until}"),
                "actor": {"agency": "youwei CadreRegistry", "person": "retention timer"},
                "cadre_id": document["_id"],
                "reason": f"retention ended: personal data kept until {keep_until}",
                "erased_on": today,
            }
            try:
                self.erase_personal_data(command)
                erased.append(str(document["_id"]))
            except (Conflict, RuleViolation):
                continue  # erased meanwhile, or changed: the next round looks again
        return erased

    def set_personal_data_retention(self, command: dict[str, Any]) -> dict[str, Any]:
        def decide() -> Decision:
            cadre = self._referenced(Cadre, command["cadre_id"], "cadre_id")
            cadre.set_retention(command["keep_until"], command["basis"])
            return [cadre], {"cadre_id": str(cadre.id),
                             "keep_until": command["keep_until"].isoformat()}  # fmt: skip

        return self.execute("set_personal_data_retention", command, decide)

    def responsibilities_of(self, query: dict[str, Any]) -> dict[str, Any]:
        cadre = self._found(Cadre, query["cadre_id"])
        return {
            "cadre_id": str(cadre.id),
            "tasks": [task_view(self.repository.get(task_id)) for task_id in cadre.tasks],
        }

    def tasks_needing_owner(self, query: dict[str, Any]) -> dict[str, Any]:
        """Tasks whose owner left the post, oldest vacancy first, until each has a new owner
        (``assign_responsibility`` with its ``task_id``)."""
        match: dict[str, Any] = {"needs_owner": True}
        if "kind" in query:
            match["kind"] = query["kind"]
        total, documents = self.tasks_view.page(
            match, [("since", 1), ("task_id", 1)], query["page"], query["page_size"]
        )
        tasks = [task_view(self.repository.get(UUID(d["task_id"]))) for d in documents]
        return paged(query, total, "tasks", tasks)

    def owner_of(self, query: dict[str, Any]) -> dict[str, Any]:
        task = self._found(Responsibility, query["task_id"])
        owner = self.repository.get(task.owner_id)
        return {**task_view(task), "owner": cadre_view(owner, history=False)}


def posting_of(cadre: Cadre) -> dict[str, Any]:
    """The posting a cadre holds, as a handling's undo restores it."""
    return {key: cadre.history[-1][key]
            for key in ("unit_id", "post", "rank", "post_kind", "status")}  # fmt: skip


def cadre_view(cadre: Cadre, history: bool = True) -> dict[str, Any]:
    view = {
        "cadre_id": str(cadre.id),
        "name": cadre.name,
        "gender": label(GENDERS, cadre.gender) if cadre.gender else None,
        "birth_date": cadre.birth_date.isoformat() if cadre.birth_date else None,
        "personal_data_erased": cadre.personal_data_erased,
        "keep_personal_data_until": cadre.keep_personal_data_until.isoformat()
        if cadre.keep_personal_data_until
        else None,
        "status": label(STATUSES, cadre.status),
        "unit_id": str(cadre.unit_id) if cadre.unit_id else None,
        "post": cadre.post,
        "rank": label(RANKS, cadre.rank),
        "post_kind": label(POST_KINDS, cadre.post_kind) if cadre.post_kind else None,
        "version": cadre.version,
    }
    if history:
        view["history"] = [
            {
                "change": label(POST_CHANGES, entry["change"]),
                "unit_id": str(entry["unit_id"]) if entry["unit_id"] else None,
                "post": entry["post"],
                "rank": label(RANKS, entry["rank"]),
                "post_kind": label(POST_KINDS, entry["post_kind"]) if entry["post_kind"] else None,
                "status": label(STATUSES, entry["status"]),
                "effective_date": entry["effective_date"].isoformat(),
                "reason": entry["reason"],
            }
            for entry in cadre.history
        ]
    return view


def task_view(task: Responsibility) -> dict[str, Any]:
    """``owner_id``: the serving owner, or the last one while ``needs_owner`` (then
    ``vacant`` says who left, when and why)."""
    vacant = task.vacant
    return {
        "task_id": str(task.id),
        "kind": label(TASK_KINDS, task.kind),
        "title": task.title,
        "owner_id": str(task.owner_id),
        "owners": [
            {"owner_id": str(o["owner_id"]), "from": o["from"].isoformat()} for o in task.owners
        ],
        "needs_owner": vacant is not None,
        "vacant": None
        if vacant is None
        else {
            "owner_id": str(vacant["owner_id"]),
            "change": label(POST_CHANGES, vacant["change"]),
            "since": vacant["since"].isoformat(),
            "reason": vacant["reason"],
        },
    }
