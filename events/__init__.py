"""What every youwei service shares besides its contracts (``schemas``): the event log and
what is built on it, by concern. Each package says what it holds and what it may import; the
import direction runs one way (checked by ``lint-imports``, pyproject's ``importlinter``):

- ``events.runtime``: the process's plumbing (clock, the application dependency, message
  intake, metrics); imports no other package here.
- ``events.identity``: who is calling (the broker-vouched agency), the access record, and
  personal data that can be erased; imports ``runtime``.
- ``events.log``: the append-only, hash-chained log in MongoDB, commands that are safe to
  retry, and the log read as public events; imports ``identity`` and ``runtime``.
- ``events.bus``: the log's exchange over RabbitMQ (relay out, consumers in); imports ``log``.
- ``events.readmodels``: projections and views built from the logs; imports ``log``.
- ``events.audit``: chain verification, signed checkpoints, witnesses, exports, a cadre's
  history; imports ``log``, ``identity`` and ``runtime``.
- ``events.web``: what public web pages share (validators, a cache of rendered answers,
  compression, security headers, a guard on the query string); imports no other package.
- ``events.observability``: the process's metrics and probe server, sampling the lag of
  everything above; the only package that may import all the others.

``events.mongodb`` is the persistence module's configured name
(``PERSISTENCE_MODULE=events.mongodb``).
"""
