"""``PERSISTENCE_MODULE=events.mongodb``: the name deployments and applications configure
for youwei's MongoDB persistence (``events.log.mongodb``), kept stable across layouts."""

from events.log.mongodb import MongoDBFactory

__all__ = ["MongoDBFactory"]
