"""Who is calling: the agency of each RPC request, from the broker.

Every agency (and every service) connects to RabbitMQ as its own user. RabbitMQ refuses a
message whose ``user_id`` property is not the user of the connection that publishes it
(validated user-id), so a request's ``user_id`` is proof of who sent it. The services read
it there and nowhere else:

- ``rpc`` (``AgencyRpc``, nameko's ``Rpc`` entrypoint) puts the request's ``user_id`` in the
  worker context under ``youwei.agency``, after dropping any ``youwei.*`` context a caller
  sent in headers (so none can be forged that way). A request without ``user_id`` is
  served as nobody's: the policy refuses it.
- Each method it decorates first asks the service's ``Access`` dependency (which must be
  named ``access``) whether the agency may make this call (``schemas.authorization``). A
  refusal is recorded in the service's log (``events.identity.access.AccessDenied``) and raised as
  ``Forbidden``; nothing else is done. Allowed, the caller (agency, role, policy version)
  is recorded with every command the method executes (``events.identity.access.CALLER``), and a read
  of a personnel file is recorded before its answer leaves
  (``events.identity.access.PersonnelFileRead``).
- ``AgencyRpcProxy`` (nameko's ``RpcProxy``) and ``IdentifiedClusterRpcProxy`` (the
  standalone ``ClusterRpcProxy``) send ``user_id``: the user of their connection
  (``AMQP_URI``), so the services identify themselves to each other as agencies do.

``YOUWEI_AUTH_POLICY`` (configuration or environment): ``local`` (the default: ``guest``
holds the ``local_development`` role) or ``production`` (that role grants nothing).
``YOUWEI_AGENCIES``: a mapping of RabbitMQ user → roles replacing
``schemas.authorization.AGENCIES``.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from eventsourcing.persistence import OperationalError
from kombu import Connection, Exchange, Queue
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.containers import ContainerBeingKilled
from nameko.exceptions import IncorrectSignature, MalformedRequest, MethodNotFound
from nameko.extensions import DependencyProvider
from nameko.rpc import (
    RPC_REPLY_QUEUE_TEMPLATE,
    RPC_REPLY_QUEUE_TTL,
    MethodProxy,
    ReplyListener,
    Rpc,
    RpcConsumer,
    RpcProxy,
    ServiceProxy,
    get_rpc_exchange,
)
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy, SingleThreadedReplyListener
from pymongo.errors import ConnectionFailure

from events.identity.access import CALLER, AccessDenied, PersonnelFileRead, refusal_facts
from events.runtime.dependency import ApplicationDependency
from events.runtime.inbox import (
    REJECTED,
    GuardedQueueConsumer,
    context_headers,
    decode_json,
    error_reply,
    excerpt,
    incident,
    publish_reply,
    reply_address,
    rpc_argument,
    text_property,
)
from schemas import authorization
from schemas.errors import EXPECTED, Forbidden, ServiceError, Unavailable
from schemas.events import PUBLISHED

log = logging.getLogger(__name__)

AGENCY = "youwei.agency"
"""The worker context key of the validated agency (the request's ``user_id``)."""
RESERVED = "youwei."
"""Context keys a caller's headers may not set."""


def user_of(amqp_uri: str) -> str:
    """The RabbitMQ user a connection to ``amqp_uri`` logs in as (``guest`` by default)."""
    return Connection(amqp_uri).userid or "guest"


# --- serving: the entrypoint, the decorator, the access dependency ----------------------


class AgencyRpcConsumer(RpcConsumer):
    """nameko's RPC consumer, answering every request it takes (``events.runtime.inbox``): a request
    without ``user_id`` is refused first (``Forbidden``, recorded), then an unknown method
    gets ``MethodNotFound``, a body that is not ``{"args": [one object], "kwargs": {}}`` in
    JSON ``MalformedRequest``; only a well-formed request reaches a worker. A request that
    cannot be answered (no usable ``reply_to``) is acknowledged, logged and counted, and not
    run. A failure to reach the database is answered ``Unavailable``, any other unexpected
    failure ``ServiceError``, each naming an incident that is logged with its traceback;
    nothing of it is echoed."""

    queue_consumer = GuardedQueueConsumer()

    def consume(self, message: Any) -> None:
        service = self.container.service_name
        address = reply_address(message)
        if address is None:
            log.warning("%s: a request without a usable reply_to; acknowledged, not run", service)
            REJECTED.labels(service, self.queue.name, "no_reply_to").inc()
            self.queue_consumer.ack_message(message)
            return
        try:
            routing_key = str(message.delivery_info["routing_key"])
            method = routing_key.split(".", 1)[-1]
            agency = text_property((message.properties or {}).get("user_id"))
            if agency is None:
                REJECTED.labels(service, self.queue.name, "no_user_id").inc()
                raise self.access().refuse_anonymous(method, _lenient_argument(message))
            try:
                provider = self.get_provider_for_method(routing_key)
            except MethodNotFound:
                REJECTED.labels(service, self.queue.name, "method_not_found").inc()
                raise MethodNotFound(excerpt(method)) from None
            try:
                argument = rpc_argument(decode_json(message))
            except MalformedRequest:
                REJECTED.labels(service, self.queue.name, "malformed").inc()
                raise
            context = {**context_headers(message.headers), AGENCY: agency}
            provider.run(message, address, argument, context)
        except Exception:
            self.handle_result(message, None, sys.exc_info(), address)

    def access(self) -> Access:
        return next(d for d in self.container.dependencies if isinstance(d, Access))

    def handle_result(
        self, message: Any, result: Any, exc_info: Any, address: Any = None
    ) -> tuple[Any, Any]:
        """Reply (never raising), then acknowledge; the worker's own outcome is returned for
        the metrics."""
        address = address or reply_address(message)
        error = None
        if exc_info is not None:
            error = error_reply(self._answerable(exc_info))
        try:
            json.dumps(result)
        except (TypeError, ValueError):
            log.error("%s: a result that is not JSON: %r", self.container.service_name, result)
            result, error = None, error_reply(self._answerable((None, ServiceError(), None)))
        try:
            publish_reply(self.container.config, get_rpc_exchange(self.container.config),
                          address, result, error)  # fmt: skip
        except Exception as failure:  # the caller times out and retries with its command_id
            log.warning("%s: could not reply: %s", self.container.service_name, failure)
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def _answerable(self, exc_info: Any) -> BaseException:
        """The error a caller is told: a documented one as it is, anything else as an
        ``Unavailable`` or a ``ServiceError`` naming the incident under which it is logged."""
        error = exc_info[1]
        if isinstance(error, ANSWERED):
            return error
        number = incident()
        log.error("%s: incident %s", self.container.service_name, number, exc_info=exc_info)
        if isinstance(error, OperationalError | ConnectionFailure):
            return Unavailable(number)
        return ServiceError(number)


ANSWERED = (
    *EXPECTED,
    MalformedRequest,
    MethodNotFound,
    IncorrectSignature,
    ServiceError,
    Unavailable,
)
"""Errors a caller is told as they are (docs/rpc-wire.md); any other is an ``Unavailable``
(the database could not be reached) or a ``ServiceError``."""


def _lenient_argument(message: Any) -> Any:
    """The request's argument if its body can be read, for the record of a refusal."""
    try:
        return rpc_argument(decode_json(message))
    except MalformedRequest:
        return None


class AgencyRpc(Rpc):
    """nameko's RPC entrypoint, taking the caller's agency from the validated ``user_id``
    (put in the worker's context by ``AgencyRpcConsumer``)."""

    rpc_consumer = AgencyRpcConsumer()

    def setup(self) -> None:
        access = [d for d in self.container.dependencies if isinstance(d, Access)]
        if [d.attr_name for d in access] != ["access"]:
            raise TypeError(
                f"{self.container.service_name}.{self.method_name}: a service with "
                "events.identity.agency.rpc methods needs one Access() dependency named 'access'"
            )
        super().setup()

    def run(self, message: Any, address: Any, argument: dict, context: dict) -> None:
        """Spawn the worker of a request ``AgencyRpcConsumer`` checked."""
        self.check_signature((argument,), {})
        handle_result = partial(self.handle_result, message, address)
        try:
            self.container.spawn_worker(
                self, (argument,), {}, context_data=context, handle_result=handle_result
            )
        except ContainerBeingKilled:  # another replica, or this one restarted, answers it
            self.rpc_consumer.requeue_message(message)

    def handle_message(self, body: Any, message: Any) -> None:
        raise RuntimeError("AgencyRpc takes requests from AgencyRpcConsumer.consume only")

    def handle_result(self, message, address, worker_ctx, result, exc_info):
        return self.rpc_consumer.handle_result(message, result, exc_info, address)

    def check_signature(self, args: tuple, kwargs: dict) -> None:
        """Against the method as written (not the access check around it)."""
        method = inspect.unwrap(getattr(self.container.service_cls, self.method_name))
        try:
            inspect.getcallargs(method, None, *args, **kwargs)
        except TypeError as error:
            raise IncorrectSignature(str(error)) from None


def rpc(
    fn: Callable | None = None, *, expected_exceptions: tuple = EXPECTED, **options: Any
) -> Any:
    """``@rpc`` or ``@rpc(expected_exceptions=...)``: an RPC method that only the agencies
    the policy allows may call (``Forbidden`` is always among the expected exceptions)."""
    expected = tuple(expected_exceptions)
    if Forbidden not in expected:
        expected += (Forbidden,)

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def guarded(service: Any, *args: Any, **kwargs: Any) -> Any:
            gate = getattr(service, "access", None)
            if not isinstance(gate, Gate):  # a unit test's worker (nameko's worker_factory)
                return method(service, *args, **kwargs)
            payload = args[0] if args else next(iter(kwargs.values()), None)
            caller = gate.admit(method.__name__, payload)
            token = CALLER.set(caller)
            try:
                result = method(service, *args, **kwargs)
            finally:
                CALLER.reset(token)
            gate.after(method.__name__, payload)
            return result

        return AgencyRpc.decorator(expected_exceptions=expected, **options)(guarded)

    return decorate(fn) if fn is not None else decorate


class Access(DependencyProvider):
    """The service's access check and record; its log is the service's application
    (its ``ApplicationDependency``)."""

    def setup(self) -> None:
        config = self.container.config
        self.mode = (
            config.get("YOUWEI_AUTH_POLICY")
            or os.environ.get("YOUWEI_AUTH_POLICY")
            or authorization.LOCAL
        )
        if self.mode not in authorization.MODES:
            raise ValueError(
                f"YOUWEI_AUTH_POLICY is one of {authorization.MODES}, not {self.mode!r}"
            )
        agencies = config.get("YOUWEI_AGENCIES") or os.environ.get("YOUWEI_AGENCIES")
        if isinstance(agencies, str):
            agencies = json.loads(agencies)
        self.agencies = authorization.check_agencies(agencies) if agencies else None
        logs = [d for d in self.container.dependencies if isinstance(d, ApplicationDependency)]
        if len(logs) != 1:
            raise TypeError(
                f"{self.container.service_name}: Access records in the service's log, so the "
                f"service needs exactly one ApplicationDependency (it has {len(logs)})"
            )
        self.log = logs[0]

    def start(self) -> None:
        if self.mode == authorization.LOCAL:
            log.warning(
                "%s: authorization policy %s in LOCAL mode: the local_development role "
                "(guest) may call everything; set YOUWEI_AUTH_POLICY=production outside "
                "local development",
                self.container.service_name,
                authorization.VERSION,
            )

    def get_dependency(self, worker_ctx: Any) -> Gate:
        return Gate(self, worker_ctx)

    def refuse(self, decision: authorization.Decision, payload: Any) -> Forbidden:
        """Record a refusal in the service's log; the ``Forbidden`` to raise."""
        record = AccessDenied(
            decision.agency, decision.method, list(decision.roles), decision.reason,
            decision.version, **refusal_facts(payload),
        )  # fmt: skip
        self.log.application.save(record)
        log.warning("refused: %s", decision.reason)
        return Forbidden({**decision.details(), "record_id": str(record.id)})

    def refuse_anonymous(self, method: str, payload: Any) -> Forbidden:
        """A request without ``user_id``: refused, whatever it asks, and recorded."""
        decision = authorization.decide(None, self.container.service_name, excerpt(method),
                                        payload, mode=self.mode)  # fmt: skip
        return self.refuse(decision, payload)


class Gate:
    """One worker's view of ``Access``: its caller, the policy's decision, the record."""

    def __init__(self, access: Access, worker_ctx: Any) -> None:
        self.access = access
        self.service = worker_ctx.service_name
        self.agency: str | None = worker_ctx.data.get(AGENCY)
        self.decision: authorization.Decision | None = None

    def admit(self, method: str, payload: Any) -> dict[str, str]:
        """The caller, if the policy allows the call; else record the refusal and raise
        ``Forbidden``."""
        decision = authorization.decide(
            self.agency, self.service, method, payload,
            mode=self.access.mode, agencies=self.access.agencies,
        )  # fmt: skip
        if not decision.allowed:
            raise self.access.refuse(decision, payload)
        self.decision = decision
        return {
            "agency": decision.agency,
            "role": decision.role,
            "policy_version": decision.version,
        }

    def after(self, method: str, payload: Any) -> None:
        """Record a read the policy names (a personnel file), before its answer leaves."""
        name = f"{self.service}.{method}"
        day_field = authorization.RECORDED_READS.get(name)
        if day_field is None or self.decision is None:
            return
        day = payload.get(day_field) if isinstance(payload, dict) else None
        self.access.log.application.save(
            PersonnelFileRead(
                self.decision.agency, name, self.decision.role, self.decision.version,
                str(payload["cadre_id"]), str(day) if day else None,
            )
        )  # fmt: skip


# --- calling: as the connection's user -----------------------------------------------------


class IdentifiedMethodProxy(MethodProxy):
    """nameko's method proxy; publishes with ``user_id`` (given in the options) and passes on
    no ``youwei.*`` context."""

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers = super().get_message_headers(worker_ctx)
        prefix = f"{self.header_prefix}.{RESERVED}"
        return {k: v for k, v in headers.items() if not k.startswith(prefix)}


class IdentifiedServiceProxy(ServiceProxy):
    def __getattr__(self, name: str) -> IdentifiedMethodProxy:
        return IdentifiedMethodProxy(
            self.worker_ctx, self.service_name, name, self.reply_listener, **self.options
        )


REPLY_QUEUE_ARGUMENTS = {"x-expires": RPC_REPLY_QUEUE_TTL, "x-queue-type": "classic"}
"""A reply queue lives as long as its caller: classic, whatever the broker's default queue
type (a quorum queue's Raft group on three nodes buys nothing for it: a reply lost with a
node is a call timed out, which the caller sends again with its ``command_id``)."""


class ClassicReplyListener(ReplyListener):
    """nameko's reply listener of a service's proxies, its queue declared classic."""

    def setup(self) -> None:
        super().setup()
        self.queue.queue_arguments = dict(REPLY_QUEUE_ARGUMENTS)


class AgencyRpcProxy(RpcProxy):
    """nameko's ``RpcProxy``: a service's calls to another service, sent with ``user_id`` =
    the service's own RabbitMQ user (from its ``AMQP_URI``), replies on a classic queue."""

    rpc_reply_listener = ClassicReplyListener()

    def setup(self) -> None:
        super().setup()
        self.user_id = user_of(self.container.config[AMQP_URI_CONFIG_KEY])

    def get_dependency(self, worker_ctx: Any) -> IdentifiedServiceProxy:
        return IdentifiedServiceProxy(
            worker_ctx, self.target_service, self.rpc_reply_listener,
            user_id=self.user_id, **self.options,
        )  # fmt: skip


class AgencyReplyListener(SingleThreadedReplyListener):
    """The standalone reply listener, with its queue named after the user
    (``rpc.reply-<user>-<uuid>``: an agency's permissions can be limited to its own), and
    the ``nameko-rpc`` exchange only declared passively when ``passive`` (an agency need not
    be allowed to configure it)."""

    def __init__(self, timeout: float | None = None, user: str = "guest", passive: bool = False):
        self.user = user
        self.passive = passive
        super().__init__(timeout=timeout)

    def setup(self) -> None:
        queue_uuid = uuid.uuid4()
        self.routing_key = str(queue_uuid)
        exchange = get_rpc_exchange(self.container.config)
        if self.passive:
            exchange = Exchange(exchange.name, type="topic", durable=True, passive=True)
        self.queue = Queue(
            RPC_REPLY_QUEUE_TEMPLATE.format(self.user, queue_uuid),
            exchange=exchange,
            routing_key=self.routing_key,
            queue_arguments=dict(REPLY_QUEUE_ARGUMENTS),
        )
        self.queue_consumer.register_provider(self)


class IdentifiedClusterProxy(ClusterProxy):
    def __init__(self, worker_ctx: Any, reply_listener: Any, user_id: str) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._user_id = user_id

    def __getattr__(self, name: str) -> IdentifiedServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._proxies:
            self._proxies[name] = IdentifiedServiceProxy(
                self._worker_ctx, name, self._reply_listener, user_id=self._user_id
            )
        return self._proxies[name]


class IdentifiedClusterRpcProxy(ClusterRpcProxy):
    """nameko's standalone ``ClusterRpcProxy``, sending ``user_id``: the user of its
    ``AMQP_URI``. ``passive``: only check that the ``nameko-rpc`` exchange exists (for a user
    not allowed to configure it)."""

    def __init__(
        self,
        config: dict[str, Any],
        context_data: dict | None = None,
        timeout: float | None = None,
        passive: bool = False,
    ) -> None:
        self.user_id = user_of(config[AMQP_URI_CONFIG_KEY])
        listener = partial(AgencyReplyListener, user=self.user_id, passive=passive)
        super().__init__(config, context_data, timeout, reply_listener_cls=listener)
        self._proxy = IdentifiedClusterProxy(self._worker_ctx, self._reply_listener, self.user_id)


# --- the broker's side: what an agency's user may do ---------------------------------------

UUID_KEY = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
UUID_TEXT = UUID_KEY[1:-1]
LISTENING_QUEUE = "events.{user}.{name}"
"""The queues an agency may declare to listen to events: ``name`` of letters, digits, ``_``
and ``-`` (no dot, so a queue name tells its user: ``hall`` cannot declare ``hall.7``'s)."""
LISTENING_NAME = "[A-Za-z0-9_-]{1,64}"


def agency_broker_permissions(user: str, exchange: str = "nameko-rpc") -> dict[str, Any]:
    """The RabbitMQ permissions of an agency's user (docs/rpc-wire.md, docs/events.md).

    Its own queues only: reply queues ``rpc.reply-<user>-<UUID>`` and listening queues
    ``events.<user>.<name>`` (declare, bind, consume, delete); publishing to the RPC
    exchange, only to ``<service>.<method>``, and binding to it only UUID keys (so it cannot
    bind a queue to others' requests); binding to each ``<service>.events`` exchange of a
    relayed log, only the published event types as keys (no ``#``), and never publishing to
    it (no forged events). No exchange may be declared or deleted, no service's queue read.
    One topic permission per exchange: RabbitMQ keeps them by (user, vhost, exchange)."""
    mine = (
        rf"rpc\.reply-{re.escape(user)}-{UUID_TEXT}"
        rf"|{re.escape(LISTENING_QUEUE.format(user=user, name=''))}{LISTENING_NAME}"
    )
    sources = {source: types for source, types in PUBLISHED.items() if types}
    events = "|".join(re.escape(f"{source}.events") for source in sources)
    services = "|".join(authorization.METHODS)
    return {
        "permissions": {
            "configure": f"^({mine})$",
            "write": f"^({re.escape(exchange)}|{mine})$",
            "read": f"^({re.escape(exchange)}|{events}|{mine})$",
        },
        "topic_permissions": [
            {"exchange": exchange, "write": rf"^({services})\.[a-z_]+$", "read": UUID_KEY},
            *(listening(source, types) for source, types in sources.items()),
        ],
    }


def listening(source: str, types: Any) -> dict[str, str]:
    """The topic permission on ``<source>.events``: binding its published types, no other
    key; publishing nothing."""
    read = "|".join(re.escape(event_type) for event_type in sorted(types))
    return {"exchange": f"{source}.events", "write": "^$", "read": f"^({read})$"}
