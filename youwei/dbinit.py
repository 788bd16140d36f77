"""``youwei db init``: create every collection and index the services use, before they start.

The services create what they need when they start (``CREATE_TABLE=yes``, the default),
idempotently; this does the same once, from one place: for a deployment's first start, and
before an upgrade whose new version adds an index, so that the index is built (which takes
a while on a large log) before the new version serves. Nothing here writes an event.
"""

from __future__ import annotations

import os

from events.log.datastore import MongoDBDatastore
from events.readmodels.projections import Projector
from services.accountability.application import Accountability
from services.cadre_registry.application import CadreRegistry
from services.evaluations.application import Evaluations
from services.inspections.application import Inspections
from services.records.application import RecordsLog
from services.records.projections import PROJECTIONS

APPLICATIONS = (CadreRegistry, Evaluations, Inspections, Accountability, RecordsLog)


def initialise(uri: str, database: str) -> list[str]:
    """Create the logs (events, heads, tracking, read views) of the five services and the
    live generation of each records projection; return the collections the database has."""
    env = {
        "PERSISTENCE_MODULE": "events.mongodb",
        "MONGODB_URI": uri,
        "MONGODB_DATABASE": database,
        "CREATE_TABLE": "yes",
        # Evaluations refuses to start without a key; creating collections hashes nothing.
        "EVALUATIONS_RATER_KEY": os.environ.get("EVALUATIONS_RATER_KEY") or "db-init",
    }
    for application_class in APPLICATIONS:
        application_class(env=env).close()
    datastore = MongoDBDatastore(uri, database)
    try:
        for projection in (cls() for cls in PROJECTIONS):
            Projector(datastore, projection).live()
        return sorted(datastore.database.list_collection_names())
    finally:
        datastore.close()
