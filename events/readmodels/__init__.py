"""Read models built from logs: projections of several services' public events
(``projections``) and views of a service's own log (``views``), each applied exactly once
and rebuilt from the logs.

May import: ``events.log``, ``events.identity``, ``events.runtime``, ``schemas``.
"""
