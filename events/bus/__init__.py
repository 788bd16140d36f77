"""The log's exchange over RabbitMQ: the relay that publishes a log's public events with
confirms (``relay``), and the consumers that apply another service's events exactly once,
retrying and parking (``consumer``).

May import: ``events.log``, ``events.identity``, ``events.runtime``, ``schemas``.
"""
