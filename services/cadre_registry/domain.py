"""The cadre registry's aggregates and their rules. Pure: no broker, no database.

Command methods check the rules, then trigger the event methods (``@event``), which only
change state: replaying the log runs the event methods, never the rules again.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from schemas.cadre_registry.reference import RANK_ORDER, TASK_OWNER_RANK
from schemas.errors import RuleViolation

SERVING = ("in_post", "off_post_training")
#: A cadre still in the civil service, whether or not they hold a post (辞退 ends it).
IN_SERVICE = ("in_post", "off_post_training", "dismissed", "resigned")
NAMESPACE = UUID("3e7a9c41-5b2d-4f6e-8a1c-9d0b2e4f6a83")


class Unit(Aggregate):
    """A unit (单位), with its parent unit, and the cadres who currently hold a post in it."""

    @event("Registered")
    def __init__(self, name: str, parent_id: UUID | None) -> None:
        self.name = name
        self.parent_id = parent_id
        self.members: list[UUID] = []

    def admit(self, cadre_id: UUID) -> None:
        if cadre_id not in self.members:
            self._member_joined(cadre_id)

    def release(self, cadre_id: UUID) -> None:
        if cadre_id in self.members:
            self._member_left(cadre_id)

    @event("MemberJoined")
    def _member_joined(self, cadre_id: UUID) -> None:
        self.members.append(cadre_id)

    @event("MemberLeft")
    def _member_left(self, cadre_id: UUID) -> None:
        self.members.remove(cadre_id)


class Cadre(Aggregate):
    """A cadre (干部): who they are, the post they hold, its history, their tasks."""

    @event("Registered")
    def __init__(
        self,
        name: str,
        gender: str,
        birth_date: date,
        unit_id: UUID,
        post: str,
        rank: str,
        post_kind: str,
        effective_date: date,
    ) -> None:
        self.name = name
        self.gender = gender
        self.birth_date = birth_date
        self.status = "in_post"
        self.unit_id: UUID | None = None
        self.post = self.rank = self.post_kind = ""
        self.history: list[dict[str, Any]] = []
        self.tasks: list[UUID] = []
        self.personal_data_erased = False
        self.keep_personal_data_until: date | None = None
        self._hold("registered", unit_id, post, rank, post_kind, "in_post", effective_date, "")

    def _hold(
        self,
        change: str,
        unit_id: UUID | None,
        post: str,
        rank: str,
        post_kind: str,
        status: str,
        effective_date: date,
        reason: str,
    ) -> None:
        self.unit_id, self.post, self.rank = unit_id, post, rank
        self.post_kind, self.status = post_kind, status
        self.history.append(
            {
                "change": change,
                "unit_id": unit_id,
                "post": post,
                "rank": rank,
                "post_kind": post_kind,
                "status": status,
                "effective_date": effective_date,
                "reason": reason,
            }
        )

    # --- rules ---------------------------------------------------------------------------

    def _require_status(self, command: str, allowed: tuple[str, ...]) -> None:
        if self.status not in allowed:
            raise RuleViolation(
                "registry.cadre_not_serving",
                f"{command} needs a cadre who is {' or '.join(allowed)}; this one is {self.status}",
            )

    def _require_in_order(self, effective_date: date) -> None:
        last = self.history[-1]["effective_date"]
        if effective_date < last:
            raise RuleViolation(
                "registry.effective_date_in_order",
                f"effective date {effective_date} is before the last change ({last})",
            )

    # --- commands ------------------------------------------------------------------------

    def appoint(
        self, unit_id: UUID, post: str, rank: str, post_kind: str, effective_date: date
    ) -> None:
        self._require_status("appoint", SERVING)
        self._require_in_order(effective_date)
        self._appointed(unit_id, post, rank, post_kind, effective_date)

    def transfer(self, unit_id: UUID, post: str, effective_date: date, reason: str = "") -> None:
        self._require_status("transfer", ("in_post",))
        self._require_in_order(effective_date)
        self._transferred(unit_id, post, effective_date, reason)

    def change_to_non_leadership(self, post: str, effective_date: date, reason: str) -> None:
        self._require_status("change_to_non_leadership", SERVING)
        self._require_in_order(effective_date)
        if self.post_kind != "leadership":
            raise RuleViolation(
                "registry.holds_leadership_post", "the cadre holds no leadership post to change"
            )
        self._changed_to_non_leadership(post, effective_date, reason)

    def send_to_off_post_training(self, effective_date: date, reason: str) -> None:
        self._require_status("send_to_off_post_training", ("in_post",))
        self._require_in_order(effective_date)
        self._sent_to_off_post_training(effective_date, reason)

    def dismiss(self, effective_date: date, reason: str) -> None:
        self._require_status("dismiss", SERVING)
        self._require_in_order(effective_date)
        self._dismissed(effective_date, reason)

    def order_resignation(self, effective_date: date, reason: str) -> None:
        self._require_status("order_resignation", SERVING)
        self._require_in_order(effective_date)
        self._ordered_to_resign(effective_date, reason)

    def dismiss_from_service(self, effective_date: date, reason: str) -> None:
        """辞退: the cadre leaves the civil service (not only a post, as with 免职)."""
        self._require_status("dismiss_from_service", IN_SERVICE)
        self._require_in_order(effective_date)
        self._dismissed_from_service(effective_date, reason)

    def left_post(self, held: dict[str, Any]) -> bool:
        """Whether the cadre, who held ``held`` (an entry of the history), has left that
        post: no longer in post, in another unit, or at another rank (a task needs its
        owner's rank). Their tasks then need a new owner."""
        return (
            self.status != "in_post" or self.unit_id != held["unit_id"] or self.rank != held["rank"]
        )

    def demote(self, rank: str, post: str, effective_date: date, reason: str) -> None:
        self._require_status("demote", SERVING)
        self._require_in_order(effective_date)
        if RANK_ORDER.index(rank) <= RANK_ORDER.index(self.rank):
            raise RuleViolation(
                "registry.demotion_lowers_rank",
                f"{rank} is not below the cadre's rank {self.rank}",
            )
        self._demoted(rank, post, effective_date, reason)

    def erase_personal_data(self, reason: str, erased_on: date) -> None:
        """Record that the cadre's personal data (name, gender, birth date) was erased; the
        application destroys their key (events.identity.personal), which erases it from the log."""
        if self.personal_data_erased:
            raise RuleViolation("registry.already_erased", "this cadre's personal data is erased")
        self._personal_data_erased(reason, erased_on)

    def set_retention(self, keep_until: date, basis: str) -> None:
        if self.personal_data_erased:
            raise RuleViolation("registry.already_erased", "this cadre's personal data is erased")
        self._retention_set(keep_until, basis)

    def reinstate(self, posting: dict[str, Any], effective_date: date, reason: str) -> None:
        """Hold again ``posting`` (an entry of the history): a handling was revoked."""
        self._require_in_order(effective_date)
        self._reinstated(
            posting["unit_id"], posting["post"], posting["rank"], posting["post_kind"],
            posting["status"], effective_date, reason,
        )  # fmt: skip

    def take_task(self, task_id: UUID, kind: str) -> None:
        self._require_status("assign_responsibility", ("in_post",))
        required = TASK_OWNER_RANK[kind]
        if self.rank != required:
            raise RuleViolation(
                "registry.task_owner_rank",
                f"a {kind} is owned by a {required} cadre; this one is {self.rank}",
            )
        if task_id not in self.tasks:
            self._took_task(task_id)

    def hand_over_task(self, task_id: UUID) -> None:
        if task_id in self.tasks:
            self._handed_over_task(task_id)

    # --- events --------------------------------------------------------------------------

    @event("Appointed")
    def _appointed(
        self, unit_id: UUID, post: str, rank: str, post_kind: str, effective_date: date
    ) -> None:
        self._hold("appointed", unit_id, post, rank, post_kind, "in_post", effective_date, "")

    @event("Transferred")
    def _transferred(
        self, unit_id: UUID, post: str, effective_date: date, reason: str = ""
    ) -> None:
        self._hold(
            "transferred", unit_id, post, self.rank, self.post_kind, "in_post", effective_date,
            reason,
        )  # fmt: skip

    @event("ChangedToNonLeadership")
    def _changed_to_non_leadership(self, post: str, effective_date: date, reason: str) -> None:
        self._hold(
            "changed_to_non_leadership", self.unit_id, post, self.rank, "non_leadership",
            self.status, effective_date, reason,
        )  # fmt: skip

    @event("SentToOffPostTraining")
    def _sent_to_off_post_training(self, effective_date: date, reason: str) -> None:
        self._hold(
            "sent_to_off_post_training", self.unit_id, self.post, self.rank, self.post_kind,
            "off_post_training", effective_date, reason,
        )  # fmt: skip

    @event("Dismissed")
    def _dismissed(self, effective_date: date, reason: str) -> None:
        self._hold("dismissed", None, "", self.rank, "", "dismissed", effective_date, reason)

    @event("OrderedToResign")
    def _ordered_to_resign(self, effective_date: date, reason: str) -> None:
        self._hold("ordered_to_resign", None, "", self.rank, "", "resigned", effective_date, reason)

    @event("DismissedFromService")
    def _dismissed_from_service(self, effective_date: date, reason: str) -> None:
        self._hold(
            "dismissed_from_service", None, "", self.rank, "", "dismissed_from_service",
            effective_date, reason,
        )  # fmt: skip

    @event("Demoted")
    def _demoted(self, rank: str, post: str, effective_date: date, reason: str) -> None:
        self._hold(
            "demoted", self.unit_id, post, rank, self.post_kind, self.status, effective_date, reason
        )

    @event("PersonalDataErased")
    def _personal_data_erased(self, reason: str, erased_on: date) -> None:
        self.name = self.gender = self.birth_date = None
        self.personal_data_erased = True

    @event("RetentionSet")
    def _retention_set(self, keep_until: date, basis: str) -> None:
        self.keep_personal_data_until = keep_until

    @event("Reinstated")
    def _reinstated(
        self,
        unit_id: UUID | None,
        post: str,
        rank: str,
        post_kind: str,
        status: str,
        effective_date: date,
        reason: str,
    ) -> None:
        self._hold("reinstated", unit_id, post, rank, post_kind, status, effective_date, reason)

    @event("TookTask")
    def _took_task(self, task_id: UUID) -> None:
        self.tasks.append(task_id)

    @event("HandedOverTask")
    def _handed_over_task(self, task_id: UUID) -> None:
        self.tasks.remove(task_id)


class Responsibility(Aggregate):
    """A task with exactly one owner at any time (事有专人、人有专责). When its owner leaves
    the post, the task is ``vacant`` (who left, when, why) until it is given a new owner."""

    vacant: dict[str, Any] | None = None  # a class default: states recorded before it

    @event("Assigned")
    def __init__(self, kind: str, title: str, owner_id: UUID, effective_date: date) -> None:
        self.kind = kind
        self.title = title
        self.owner_id = owner_id
        self.owners = [{"owner_id": owner_id, "from": effective_date}]

    def reassign(self, owner_id: UUID, effective_date: date) -> None:
        if effective_date < self.owners[-1]["from"]:
            raise RuleViolation(
                "registry.effective_date_in_order",
                f"effective date {effective_date} is before the last assignment",
            )
        if owner_id != self.owner_id or self.vacant is not None:
            self._reassigned(owner_id, effective_date)

    def owner_left(self, change: str, effective_date: date, reason: str) -> None:
        if self.vacant is None:
            self._owner_left(self.owner_id, change, effective_date, reason)

    @event("Reassigned")
    def _reassigned(self, owner_id: UUID, effective_date: date) -> None:
        self.owner_id = owner_id
        self.owners.append({"owner_id": owner_id, "from": effective_date})
        self.vacant = None

    @event("OwnerLeft")
    def _owner_left(self, owner_id: UUID, change: str, effective_date: date, reason: str) -> None:
        self.vacant = {"owner_id": owner_id, "change": change, "since": effective_date,
                       "reason": reason}  # fmt: skip


class AppliedHandling(Aggregate):
    """An accountability decision of organizational handling (转任 … 降职) as the registry
    applied it to a cadre: the change it made, and the posting held before, so that the
    decision's revocation on appeal restores that posting. One per decision."""

    @staticmethod
    def create_id(decision_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"applied-handling:{decision_id}")

    @event("Applied")
    def __init__(
        self, decision_id: UUID, cadre_id: UUID, handling: str, before: dict[str, Any], entry: int
    ) -> None:
        self.decision_id = decision_id
        self.cadre_id = cadre_id
        self.handling = handling
        self.before = before
        self.entry = entry  # the index of the change in the cadre's history
        self.undone = False

    def undo(self, cadre: Cadre, effective_date: date, reason: str) -> None:
        if self.undone:
            raise RuleViolation("registry.handling_undone_once", "this handling was undone")
        if len(cadre.history) - 1 != self.entry:
            raise RuleViolation(
                "registry.undo_latest_change_only",
                "the cadre's post changed again since this handling: the organization "
                "department decides the post by hand",
            )
        cadre.reinstate(self.before, effective_date, reason)
        self._undone(effective_date)

    def replace(self, handling: str, before: dict[str, Any], entry: int) -> None:
        """The decision was changed on appeal to ``handling``, applied after this one was
        undone: what a later undo would restore is now ``before``."""
        self._replaced(handling, before, entry)

    @event("Undone")
    def _undone(self, effective_date: date) -> None:
        self.undone = True

    @event("Replaced")
    def _replaced(self, handling: str, before: dict[str, Any], entry: int) -> None:
        self.handling, self.before, self.entry, self.undone = handling, before, entry, False
