"""What an auditor uses to rebuild and verify history: the chain's verification
(``verify``), signed checkpoints (``checkpoints``), held checkpoints and exports as witnesses
(``witness``), exports verified offline (``export``), and a cadre's history across every log
(``history``).

May import: ``events.log``, ``events.identity``, ``events.runtime``, ``schemas``.
"""
