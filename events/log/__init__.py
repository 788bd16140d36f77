"""The append-only log: events stored in MongoDB with positions and a hash chain
(``datastore``, ``recorders``, ``mongodb``, ``chain``, ``groupcommit``, ``transcoding``),
commands that are safe to retry and recorded with their outcome (``commands``), and a log
read as public events (``published``).

May import: ``events.identity``, ``events.runtime``, ``schemas``.
"""
