"""Who may call, what they did, and what is personal: the agency of each RPC request from
the broker's validated ``user_id`` (``agency``), the access record of refusals and reads
(``access``), and personal fields sealed under keys that can be destroyed (``personal``).

May import: ``events.runtime``, ``schemas``.
"""
