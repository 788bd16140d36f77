"""The service process's plumbing, for every nameko service: the city's clock and timers
(``clock``), the eventsourcing application as a dependency (``dependency``), checks of what
another service holds (``remote``), the boundary where a broker's bytes become a worker's
call (``inbox``), and the process's metrics (``metrics``).

May import: ``schemas`` and libraries only, no other ``events`` package.
"""
