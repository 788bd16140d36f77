"""How an operator sees a running service process: the ``Observability`` dependency every
service has (``dependency``: calls counted, lags sampled) and the process's one HTTP server
with ``/metrics``, ``/healthz`` and ``/readyz`` (``probes``).

May import: every other ``events`` package (it samples the relay, projections, consumers
and checkpoints), ``schemas``.
"""
