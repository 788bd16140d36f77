"""Commands that are safe to retry, for every service's eventsourcing application.

A command's outcome is recorded as a ``CommandRecord`` aggregate whose id derives from the
caller's ``command_id``, saved in the same append as the command's own events. A retry
finds the record and gets the first result back, recording nothing; the same ``command_id``
with another payload is refused. A concurrent change (another command saved an aggregate
this one read) makes the append fail as a whole; the command is then decided again on
fresh state, a few times, before the caller is told ``Conflict``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid5

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    Tracking,
)

from events.identity.access import current_caller
from events.identity.personal import PersonalDataMapper, PersonalKeys, SealedAsDict, Sealer
from events.log.published import LogReader
from events.log.transcoding import DateAsISO
from schemas.errors import Conflict, InvalidCommand, NotFound, RuleViolation

A = TypeVar("A", bound=Aggregate)
COMMAND_NAMESPACE = UUID("6f1d7a52-3c1e-4a57-9a3e-0c5b7b1d2e90")
POLICY_NAMESPACE = UUID("1c9e6a3b-2f7d-4b0a-8e5c-7d4f3a2b1e60")
MAX_ATTEMPTS = 8
POLICY_BATCH = 100
"""The most upstream events a policy decides on in one transaction."""
_BATCH: ContextVar[dict[UUID, Aggregate] | None] = ContextVar("policy_batch", default=None)


class BatchRepository(Repository):
    """eventsourcing's repository; while a policy decides a batch (``CommandApplication
    .process``), an aggregate an earlier event of the batch changed is the batch's own,
    not stored yet, so that each decision sees the ones before it."""

    def get(self, aggregate_id: Any, **kwargs: Any) -> Any:
        batch = _BATCH.get()
        if batch is not None and aggregate_id in batch and kwargs.get("version") is None:
            return batch[aggregate_id]
        return super().get(aggregate_id, **kwargs)


class CommandRecord(Aggregate):
    """What one command did: its name, a digest of its payload, its result, who sent it;
    how many events it appended just before this record (``events``), and, for a command
    a policy made from another service's event, its ``cause``: ``{"correlation_id",
    "causation_id"}`` (the upstream event's correlation and its own id). ``caller`` is who
    sent it as the broker vouches for it: ``{"agency", "role", "policy_version"}``
    (``events.identity.agency``; ``actor`` is what the payload says, unverified); None for a
    policy's command."""

    #: Stored events name their topics and the hash chain covers them: pinned to where the
    #: class was first defined, so that moving the code never changes what a log says.
    TOPIC = "events.commands:CommandRecord"

    class Created(Aggregate.Created):
        TOPIC = "events.commands:CommandRecord.Created"

    @staticmethod
    def create_id(scope: str, command_id: UUID) -> UUID:
        return uuid5(COMMAND_NAMESPACE, f"{scope}:{command_id}")

    @event("Recorded", topic="events.commands:CommandRecord.Recorded")
    def __init__(
        self,
        scope: str,
        command_id: UUID,
        command: str,
        digest: str,
        result: dict[str, Any],
        actor: dict[str, str],
        events: int = 0,
        cause: dict[str, str] | None = None,
        caller: dict[str, str] | None = None,
    ) -> None:
        self.scope = scope
        self.command_id = command_id
        self.command = command
        self.digest = digest
        self.result = result
        self.actor = actor
        self.events = events
        self.cause = cause
        self.caller = caller


def policy_command_id(policy: str, upstream_event_id: str) -> UUID:
    """The id of the command a policy makes of one upstream event: the same on every
    delivery, so the command is recorded once."""
    return uuid5(POLICY_NAMESPACE, f"{policy}:{upstream_event_id}")


def payload_digest(command: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"command": command, "payload": payload}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


Decision = tuple[Sequence[Aggregate], dict[str, Any]]


class CommandApplication(Application[UUID]):
    """An eventsourcing application whose commands go through ``execute``, and whose
    policies (reactions to other services' events) go through ``process``."""

    #: Aggregate class → the word errors use for it ("no cadre with id …").
    names: ClassVar[dict[type[Aggregate], str]] = {}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(SealedAsDict())

    def construct_mapper(self) -> Mapper:
        """eventsourcing's mapper, sealing personal fields with each person's own key
        (events.personal: erasable personal data)."""
        mapper = super().construct_mapper()
        self.personal_keys = PersonalKeys(self.factory.datastore.database)
        sealer = Sealer(self.personal_keys, mapper.transcoder)
        return PersonalDataMapper(mapper.transcoder, sealer, compressor=mapper.compressor,
                                  cipher=mapper.cipher)  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._policy_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._readers: dict[str, LogReader] = {}

    def construct_repository(self) -> Repository:
        repository = super().construct_repository()
        repository.__class__ = BatchRepository  # as configured, answering a batch's first
        return repository

    def construct_recorder(self) -> ProcessRecorder:
        """A log that also records, atomically, which upstream events made its appends."""
        return self.factory.process_recorder()

    def execute(
        self, command: str, payload: dict[str, Any], decide: Callable[[], Decision]
    ) -> dict[str, Any]:
        """Run ``decide`` (load aggregates, apply the command, return the changed aggregates
        and the result) and save its events with the command's record, once per
        ``command_id``. The caller the broker vouches for (``events.identity.access.CALLER``) is
        recorded with it; a ``command_id`` another agency used is refused."""
        record_id = CommandRecord.create_id(self.name, payload["command_id"])
        digest = payload_digest(command, payload)
        caller = current_caller()
        for _ in range(MAX_ATTEMPTS):
            previous = self.find(record_id, CommandRecord)
            if previous is not None:
                if previous.digest != digest:
                    msg = (
                        f"command_id {payload['command_id']} was already used for "
                        f"{previous.command} with another payload"
                    )
                    raise Conflict(msg)
                first = getattr(previous, "caller", None)
                if first and caller and first.get("agency") != caller.get("agency"):
                    msg = f"command_id {payload['command_id']} was already used by another agency"
                    raise Conflict(msg)
                return previous.result
            changed, result = decide()
            record = CommandRecord(
                self.name, payload["command_id"], command, digest, result, payload["actor"],
                events=sum(len(aggregate.pending_events) for aggregate in changed),
                caller=caller,
            )  # fmt: skip
            try:
                self.save(*changed, record)
            except IntegrityError:
                continue  # another command changed what this one read, or this one won
            return result
        msg = f"{command}: too many concurrent changes to the same records; retry later"
        raise Conflict(msg)

    def erase(
        self,
        command: str,
        payload: dict[str, Any],
        decide: Callable[[], Decision],
        persons: Sequence[str],
    ) -> dict[str, Any]:
        """``execute`` a command that erases ``persons``' personal data: decide, record, and
        only then destroy their keys (events.identity.personal), so that a refused or failed command
        destroys nothing. The keys are marked as being erased once decided (nothing new of
        theirs is sealed from then on); a retry of the recorded command, or ``finish_erasures``
        after a crash, destroys what is still marked."""
        erasure = f"{self.name}:{CommandRecord.create_id(self.name, payload['command_id'])}"
        marked: list[str] = []

        def decide_and_mark() -> Decision:
            decision = decide()
            marked.extend(self.personal_keys.mark(persons, erasure))
            return decision

        try:
            result = self.execute(command, payload, decide_and_mark)
        except BaseException:
            self.personal_keys.unmark(marked, erasure)
            raise
        self.personal_keys.destroy(erasure)
        return result

    def finish_erasures(self) -> int:
        """Destroy the keys of erasures recorded but not yet done (the process died in
        between); return how many keys."""
        return self.personal_keys.finish(
            self.name,
            lambda erasure: self.find(UUID(erasure.partition(":")[2]), CommandRecord) is not None,
        )

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is a ``kind``, else None."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def _referenced(self, kind: type[A], aggregate_id: UUID, field: str) -> A:
        """An aggregate a command names: unknown is an invalid command, naming the field."""
        aggregate = self.find(aggregate_id, kind)
        if aggregate is None:
            raise InvalidCommand({field: [f"no {self.names[kind]} with id {aggregate_id}"]})
        return aggregate

    def _found(self, kind: type[A], aggregate_id: UUID) -> A:
        """An aggregate a query asks for: unknown is NotFound."""
        aggregate = self.find(aggregate_id, kind)
        if aggregate is None:
            raise NotFound(f"no {self.names[kind]} with id {aggregate_id}")
        return aggregate

    # --- policies --------------------------------------------------------------------------

    def process(
        self,
        event: dict[str, Any],
        policy: str,
        types: Sequence[str],
        decide: Callable[[dict[str, Any]], Decision],
        batch: int = POLICY_BATCH,
    ) -> int:
        """Apply ``policy`` to each event of ``types`` in ``event``'s log after the last one
        it tracked, up to ``event`` (or to the log's head if its position is None), in log
        order, exactly once. Return how many it decided on now. A policy that reacts to
        several types of events of one log (a decision, then its revocation) names them all,
        so that it sees them in order.

        ``decide(upstream)`` returns (changed aggregates, result), like a command's; a
        ``RuleViolation`` or ``InvalidCommand`` from it is a refusal, recorded as the
        command's result with no change.

        With ``batch`` above 1, the policy goes on to the log's head, and decides up to
        ``batch`` events in one transaction with the tracking record of the last
        (``_decide_batch``): each decision sees what the ones before it changed (the
        repository answers with the batch's aggregates). A policy whose decisions read
        anything else of its own application's state (a view) passes ``batch=1``."""
        reader = self._readers.get(event["source"])
        if reader is None:
            reader = self._readers[event["source"]] = LogReader(
                self.factory.datastore, event["source"]
            )
        key = f"{policy}<{reader.log}"
        with self._policy_locks[key]:  # one worker of this process at a time walks the log
            done = self.recorder.max_tracking_id(key) or 0
            upto = event["position"] or reader.head()
            if batch > 1:
                upto = max(upto, reader.head())
            if upto <= done:
                return 0  # a repeat, or applied while this message waited
            wanted = set(types)
            decided = 0
            waiting: list[dict[str, Any]] = []
            for upstream in reader.public_events(done, upto):
                if upstream["type"] in wanted:
                    waiting.append(upstream)
                    done = upstream["position"]
                    if len(waiting) >= batch:
                        decided += self._apply_in_batches(policy, key, waiting, decide)
                        waiting = []
            decided += self._apply_in_batches(policy, key, waiting, decide)
            if done < upto:  # the events after the last one decided on were of other types
                with contextlib.suppress(IntegrityError):  # another replica went past upto
                    self.recorder.insert_tracking(Tracking(key, upto))
            return decided

    def _apply_in_batches(
        self,
        policy: str,
        key: str,
        upstreams: list[dict[str, Any]],
        decide: Callable[[dict[str, Any]], Decision],
    ) -> int:
        """Decide ``upstreams`` in order, as many at a time as ``_decide_batch`` can; an
        event it stops at (a refusal, an error, a conflict) is decided alone."""
        decided = 0
        while upstreams:
            saved = self._decide_batch(policy, key, upstreams, decide) if len(upstreams) > 1 else 0
            decided += saved
            upstreams = upstreams[saved:]
            if upstreams:
                decided += self._apply_policy(policy, key, upstreams[0], decide)
                upstreams = upstreams[1:]
        return decided

    def _decide_batch(
        self,
        policy: str,
        key: str,
        upstreams: list[dict[str, Any]],
        decide: Callable[[dict[str, Any]], Decision],
    ) -> int:
        """Decide the first events of ``upstreams`` and save their effects, each followed by
        its command record (so a reader finds each effect's cause as after ``execute``),
        with the tracking record of the last, in one append. It stops before an event whose
        decision is refused or fails (decided alone then, with nothing of it kept here: its
        events were never collected). Returns how many were saved: 0 on a conflict."""
        processing = ProcessingEvent()
        changed_so_far: dict[UUID, Aggregate] = {}
        last, count = None, 0
        token = _BATCH.set(changed_so_far)
        try:
            for upstream in upstreams:
                try:
                    changed, result = decide(upstream)
                except Exception:  # decided again alone: refused there, or raised
                    break
                record = self._policy_record(policy, upstream, changed, result)
                processing.collect_events(*changed, record)
                changed_so_far.update((aggregate.id, aggregate) for aggregate in changed)
                last, count = upstream, count + 1
        finally:
            _BATCH.reset(token)
        if last is None:
            return 0
        processing.tracking = Tracking(key, last["position"])
        try:
            self._record(processing)
        except IntegrityError:
            return 0  # another worker or replica went ahead: each is looked at again alone
        self._notify_saved(processing)
        return count

    def _policy_record(
        self, policy: str, upstream: dict[str, Any], changed: Sequence[Aggregate], result: Any
    ) -> CommandRecord:
        cause = {
            "correlation_id": upstream["correlation_id"] or upstream["event_id"],
            "causation_id": upstream["event_id"],
        }
        actor = {"agency": f"youwei {self.name}", "person": f"policy {policy}"}
        return CommandRecord(
            self.name, policy_command_id(policy, upstream["event_id"]), policy,
            payload_digest(policy, upstream), result, actor,
            events=sum(len(aggregate.pending_events) for aggregate in changed),
            cause=cause,
        )  # fmt: skip

    def _apply_policy(
        self,
        policy: str,
        key: str,
        upstream: dict[str, Any],
        decide: Callable[[dict[str, Any]], Decision],
    ) -> int:
        tracking = Tracking(key, upstream["position"])
        for attempt in range(MAX_ATTEMPTS):
            # the caller read the tracking just before; after a refused save, look again
            if attempt and (self.recorder.max_tracking_id(key) or 0) >= upstream["position"]:
                return 0  # decided already, by another worker or an earlier delivery
            try:
                changed, result = decide(upstream)
            except (RuleViolation, InvalidCommand) as refusal:
                changed, result = [], {"refused": str(refusal)}
            record = self._policy_record(policy, upstream, changed, result)
            processing = ProcessingEvent(tracking=tracking)
            processing.collect_events(*changed, record)
            try:
                self._record(processing)
            except IntegrityError:
                continue  # a concurrent change, or this event decided meanwhile: look again
            self._notify_saved(processing)
            return 1
        msg = f"{policy}: too many concurrent changes deciding on {upstream['event_id']}"
        raise Conflict(msg)

    def _notify_saved(self, processing: ProcessingEvent) -> None:
        self._take_snapshots(processing)
