"""The process's Prometheus metrics: every counter, gauge and histogram youwei exposes
(``docs/operations.md`` lists them), in one registry of its own. Served at ``/metrics``
by ``events.observability``; counted wherever what they count happens."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

#: The process's metrics (not prometheus_client's global registry, so that nothing else
#: imported into the process adds to what youwei exposes).
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

CALLS = Counter(
    "youwei_calls",
    "Entrypoint calls (RPC commands and queries, HTTP requests, event handlers, timers) by "
    "outcome: ok, refused (an expected error: invalid, not found, rule, conflict), failed",
    ["service", "method", "outcome"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "youwei_errors",
    "Errors raised by entrypoints, by type (expected ones included)",
    ["service", "method", "error"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "youwei_handler_seconds",
    "Time an entrypoint's worker took, from its start to its result",
    ["service", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
RELAY_LAG = Gauge(
    "youwei_relay_lag_events",
    "Events in a service's log that its relay has not yet had confirmed by the broker",
    ["service", "log"],
    registry=REGISTRY,
)
PROJECTION_LAG = Gauge(
    "youwei_projection_lag_events",
    "Events of a source log that a projection's live generation has not yet applied",
    ["service", "projection", "source"],
    registry=REGISTRY,
)
SAMPLED = Gauge(
    "youwei_lag_sampled_timestamp_seconds",
    "When a service last sampled its relay and projection lag (Unix time)",
    ["service"],
    registry=REGISTRY,
)

CHECKPOINT_REFUSALS = Counter(
    "youwei_checkpoint_signing_refused",
    "Signing rounds refused by a service's checkpoint signer, by reason: not_extending (the "
    "head does not extend the last head it signed: the log was rewritten or cut short) or "
    "key (an unregistered or retired key)",
    ["service", "log", "reason"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "youwei_consumer_lag_events",
    "Events of the types a policy handles in its upstream log after the position it tracked "
    "(at most LAG_SCAN_LIMIT counted)",
    ["service", "policy", "source"],
    registry=REGISTRY,
)
CONSUMER_POSITION = Gauge(
    "youwei_consumer_position",
    "The position of its upstream log that a policy has tracked",
    ["service", "policy", "source"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "youwei_event_retries",
    "Event messages whose handler failed and that were sent to a retry queue",
    ["service", "queue"],
    registry=REGISTRY,
)
PARKS = Counter(
    "youwei_event_parks",
    "Event messages parked (<queue>.parked): malformed, or failed after every retry",
    ["service", "queue", "reason"],
    registry=REGISTRY,
)
CHECKPOINT_AGE = Gauge(
    "youwei_unsigned_event_age_seconds",
    "Seconds since the oldest event of the service's log that no signed checkpoint covers "
    "was appended (0 while the latest checkpoint covers the head, an empty log included); "
    "only while a signing key is configured",
    ["service", "log"],
    registry=REGISTRY,
)
ACCESS_REFUSED = Counter(
    "youwei_access_refused",
    "Calls refused by the authorization policy (Forbidden; recorded as AccessDenied)",
    ["service", "method"],
    registry=REGISTRY,
)
