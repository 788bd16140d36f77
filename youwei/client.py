"""A client for agencies: youwei's RPC from Python, as the agency's own RabbitMQ user.

    from youwei.client import Client, Forbidden, RuleViolation

    with Client("amqp://org-department:SECRET@broker:5672/", person="张三") as youwei:
        unit = youwei.cadre_registry.register_unit({"name": "玉溪市"})["unit_id"]
        youwei.cadre_registry.get_unit({"unit_id": unit})

    with Client("amqp://service-hall:SECRET@broker:5672/", person="窗口评价器") as hall:
        answer = hall.evaluations.submit_ratings({"ratings": [   # up to 500 in one command
            {"cadre_id": cadre, "channel": "service_window", "period": "2026-03",
             "value": "satisfied", "rater_ref": ticket} for ticket in tickets]})
        [o["outcome"] for o in answer["outcomes"]]  # recorded / duplicate / refused, in order

- It connects as the user in the address and sends ``user_id`` (the broker checks it is that
  user's): the services know the agency from it (docs/rpc.md, "Identity and authorization").
- A command (``schemas.authorization.METHODS`` says which methods are) gets a fresh
  ``command_id`` unless it has one, and ``actor`` = ``{"agency": <agency>, "person":
  <person>}`` unless it has one (``agency`` defaults to the user name).
- Each call waits ``timeout`` seconds for its reply; a call that times out is sent again,
  the same (a command keeps its ``command_id``, so the service does it once), up to
  ``attempts`` times in all, then raises ``Timeout``.
- An error the service reports is raised as one of the classes below, each with
  ``exc_type``, ``value`` (as sent) and its structured details.

It uses nameko's standalone RPC proxy; under eventlet, monkey-patch first (as nameko does).
``python -m youwei.client AMQP_URI`` opens an interactive console with ``youwei`` (a client)
and ``n.rpc`` (the same, for the examples of docs/rpc.md).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from nameko.exceptions import (
    IncorrectSignature,
    MalformedRequest,
    MethodNotFound,
    RemoteError,
    RpcTimeout,
    UnknownService,
)

from events.identity.agency import IdentifiedClusterRpcProxy, user_of
from schemas.authorization import COMMAND, METHODS

# --- errors ---------------------------------------------------------------------------


class YouweiError(Exception):
    """An error a youwei service reported (or the call's failure). ``exc_type`` and ``value``
    are the reply's, as docs/rpc-wire.md describes; ``command_id`` is the command's, if the
    call was a command."""

    def __init__(self, exc_type: str, value: str, command_id: str | None = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.command_id = command_id
        super().__init__(f"{exc_type}: {value}")


class InvalidCommand(YouweiError):
    """The payload is not valid. ``errors``: field → list of reasons."""

    @property
    def errors(self) -> dict[str, Any]:
        return _json(self.value, {"_schema": [self.value]})


class NotFound(YouweiError):
    """What a query asks for does not exist."""


class Conflict(YouweiError):
    """A concurrent change won (send the command again with a new ``command_id`` after
    reading afresh), or the ``command_id`` was used for another command."""


class RuleViolation(YouweiError):
    """A domain rule refused the command. ``rule`` (e.g. ``registry.cadre_not_serving``) and
    ``reason``."""

    @property
    def rule(self) -> str:
        return self.value.partition(": ")[0]

    @property
    def reason(self) -> str:
        return self.value.partition(": ")[2]


class Forbidden(YouweiError):
    """The agency may not make this call. ``details``: ``reason``, ``agency``, ``method``,
    ``roles``, ``policy_version``, ``record_id`` (the refusal as recorded)."""

    @property
    def details(self) -> dict[str, Any]:
        return _json(self.value, {"reason": self.value})

    @property
    def reason(self) -> str:
        return self.details.get("reason", self.value)


class Timeout(YouweiError):
    """No reply after every attempt. A command may or may not have been done: send it again
    with the same ``command_id`` (``self.command_id``) to find out; it is done at most once."""


class ServiceUnavailable(YouweiError):
    """No service of that name is listening on the broker, or the service cannot reach its
    database (``Unavailable``): send the call again later (a command with its
    ``command_id``)."""


class BadCall(YouweiError):
    """The call itself is wrong: an unknown method, wrong arguments, a malformed request."""


class ServiceFailure(YouweiError):
    """The service failed on an error it does not document (a bug, or a dependency down)."""


ERRORS: dict[str, type[YouweiError]] = {
    "InvalidCommand": InvalidCommand,
    "NotFound": NotFound,
    "Conflict": Conflict,
    "RuleViolation": RuleViolation,
    "Forbidden": Forbidden,
    "Unavailable": ServiceUnavailable,
}


def _json(value: str, default: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        return default
    return parsed if isinstance(parsed, dict) else default


def from_remote(error: Exception, command_id: str | None = None) -> YouweiError:
    """The client's exception for what nameko's proxy raised."""
    if isinstance(error, RemoteError):
        return ERRORS.get(error.exc_type, ServiceFailure)(
            error.exc_type, str(error.value), command_id
        )
    if isinstance(error, MethodNotFound | IncorrectSignature | MalformedRequest):
        return BadCall(type(error).__name__, str(error), command_id)
    if isinstance(error, UnknownService):
        return ServiceUnavailable("UnknownService", str(error), command_id)
    return ServiceFailure(type(error).__name__, str(error), command_id)


# --- the client -------------------------------------------------------------------------


class Client:
    """RPC to youwei's services as one agency (see the module's documentation).

    ``amqp_uri``: the broker, with the agency's user and password (and vhost);
    ``person``: who acts in the agency (the ``actor`` of its commands); ``agency``: how the
    agency names itself in ``actor`` (default: the user); ``timeout``: seconds to wait for
    each reply; ``attempts``: sends of a call that times out, in all; ``exchange``: the RPC
    exchange (``nameko-rpc``); ``passive``: only check that the exchange exists (an agency's
    user is not allowed to declare it)."""

    def __init__(
        self,
        amqp_uri: str,
        person: str = "",
        agency: str | None = None,
        timeout: float = 30.0,
        attempts: int = 3,
        exchange: str | None = None,
        passive: bool = True,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.user = user_of(amqp_uri)
        self.actor = {"agency": agency or self.user, "person": person or self.user}
        self.timeout = timeout
        self.attempts = attempts
        self.config: dict[str, Any] = {"AMQP_URI": amqp_uri}
        if exchange:
            self.config["rpc_exchange"] = exchange
        self.passive = passive
        self._proxy: IdentifiedClusterRpcProxy | None = None
        self._cluster: Any = None

    # -- life cycle
    def start(self) -> Client:
        self._proxy = IdentifiedClusterRpcProxy(
            self.config, timeout=self.timeout, passive=self.passive
        )
        self._cluster = self._proxy.start()
        return self

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = self._cluster = None

    def __enter__(self) -> Client:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- calls
    def __getattr__(self, service: str) -> _Service:
        if service.startswith("_"):
            raise AttributeError(service)
        return _Service(self, service)

    def __getitem__(self, service: str) -> _Service:
        return _Service(self, service)

    def prepare(self, service: str, method: str, payload: dict[str, Any] | None) -> dict:
        """The payload as it will be sent: a command gets ``command_id`` and ``actor``."""
        payload = dict(payload or {})
        if METHODS.get(service, {}).get(method) == COMMAND:
            payload.setdefault("command_id", str(uuid.uuid4()))
            payload.setdefault("actor", dict(self.actor))
        return payload

    def call(self, service: str, method: str, payload: dict[str, Any] | None = None) -> Any:
        """``service.method(payload)``; see the class's documentation."""
        if self._cluster is None:
            raise RuntimeError("the client is not started: use `with Client(...)` or start()")
        payload = self.prepare(service, method, payload)
        command_id = payload.get("command_id")
        for attempt in range(1, self.attempts + 1):
            try:
                return getattr(self._cluster[service], method)(payload)
            except RpcTimeout:
                if attempt == self.attempts:
                    raise Timeout(
                        "Timeout",
                        f"{service}.{method}: no reply in {self.timeout} s, {attempt} attempts",
                        command_id,
                    ) from None
            except (
                RemoteError,
                MethodNotFound,
                IncorrectSignature,
                MalformedRequest,
                UnknownService,
            ) as error:
                raise from_remote(error, command_id) from error
        raise AssertionError("unreachable")  # pragma: no cover


class _Service:
    def __init__(self, client: Client, name: str) -> None:
        self._client = client
        self._name = name

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        return lambda payload=None: self._client.call(self._name, method, payload)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover (interactive)
    import code
    import sys
    from types import SimpleNamespace

    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print("usage: python -m youwei.client [AMQP_URI]\n\nAn interactive console with "
              "`youwei` (a Client as the URI's user; default\npyamqp://guest:guest@127.0.0.1"
              ":5672/) and `n.rpc` (the same, for docs/rpc.md's examples).")  # fmt: skip
        return
    uri = args[0] if args else "pyamqp://guest:guest@127.0.0.1:5672/"
    with Client(uri, passive=False) as youwei:
        banner = (
            f"youwei client as {youwei.user} on {uri.rpartition('@')[2]}\n"
            "youwei.cadre_registry.get_unit({...}); n.rpc is the same client"
        )
        code.interact(banner, local={"youwei": youwei, "n": SimpleNamespace(rpc=youwei)})


if __name__ == "__main__":  # pragma: no cover
    main()
