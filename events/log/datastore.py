"""The MongoDB database the logs live in: one client, and transactions that are durable.

Acknowledged means durable: every transaction youwei runs (appends, tracking, projections,
views) commits with write concern ``{w: "majority", j: true}`` and reads with ``majority``
(or ``snapshot``) read concern, set on the transaction itself (``MongoDBDatastore.transaction``):
a transaction does not take the write concern of the ``Database`` object, and the cluster's
default may have been lowered. ``MONGODB_READ_CONCERN`` (``majority``, the default, or
``snapshot``) can only make reads stronger.

pymongo's errors are raised as eventsourcing's (PEP 249 names): ``database_errors``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pymongo
from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    OperationalError,
)
from pymongo.client_session import TransactionOptions
from pymongo.collection import Collection
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern
from pymongo.read_preferences import ReadPreference
from pymongo.write_concern import WriteConcern

DUPLICATE_KEY = 11000


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Raise eventsourcing's exception types (PEP 249 names) for pymongo's."""
    try:
        yield
    except DuplicateKeyError as error:
        raise IntegrityError(str(error)) from error
    except BulkWriteError as error:
        first = (error.details.get("writeErrors") or [{}])[0]
        if first.get("code") == DUPLICATE_KEY:
            raise IntegrityError(first.get("errmsg", str(error))) from error
        raise DatabaseError(str(error)) from error
    except ConnectionFailure as error:
        raise OperationalError(str(error)) from error
    except PyMongoError as error:
        raise DatabaseError(str(error)) from error


def commit_outcome_unknown(error: BaseException) -> bool:
    """Whether a transaction failed with its commit's outcome unknown (pymongo's
    ``UnknownTransactionCommitResult`` label): it may have committed."""
    cause = error.__cause__
    return isinstance(cause, PyMongoError) and cause.has_error_label(
        "UnknownTransactionCommitResult"
    )


def create_collection(collection: Collection) -> None:
    """Create explicitly, so that the first transactions need not create it concurrently."""
    with contextlib.suppress(CollectionInvalid, OperationFailure):
        collection.database.create_collection(collection.name)


DURABLE = WriteConcern("majority", j=True)
"""The write concern of everything this module writes: on a majority, journaled."""
READ_CONCERNS = ("majority", "snapshot")
"""The read concerns a transaction may use, weakest first (``local`` is not among them)."""


def transaction_options(read_concern: str = "majority") -> TransactionOptions:
    """The options of every transaction: durable commits, reads of committed data only."""
    if read_concern not in READ_CONCERNS:
        msg = f"MONGODB_READ_CONCERN is one of {READ_CONCERNS}, not {read_concern!r}"
        raise ValueError(msg)
    return TransactionOptions(
        read_concern=ReadConcern(read_concern),
        write_concern=DURABLE,
        read_preference=ReadPreference.PRIMARY,
    )


class MongoDBDatastore:
    """One MongoClient (thread- and greenlet-safe, pooled) and the database it writes.
    ``client_options`` go to the ``MongoClient`` (a test's command listener, say)."""

    def __init__(
        self, uri: str, database: str, read_concern: str = "majority", **client_options: Any
    ) -> None:
        self.options = transaction_options(read_concern)
        self.client: pymongo.MongoClient = pymongo.MongoClient(
            uri, uuidRepresentation="standard", tz_aware=True, appname="youwei-events",
            **client_options,
        )  # fmt: skip
        self.database = self.client.get_database(
            database, write_concern=DURABLE, read_concern=ReadConcern("majority")
        )

    def collection(self, name: str) -> Collection:
        return self.database.get_collection(name)

    def transaction(self, callback: Any) -> Any:
        """Run ``callback(session)`` in a transaction (``transaction_options``), retried on
        transient conflicts."""
        with database_errors(), self.client.start_session() as session:
            return session.with_transaction(
                callback,
                read_concern=self.options.read_concern,
                write_concern=self.options.write_concern,
                read_preference=self.options.read_preference,
            )

    def close(self) -> None:
        self.client.close()


def datastore_from_settings(setting: Callable[[str], str | None]) -> MongoDBDatastore:
    """The database ``MONGODB_URI``, ``MONGODB_DATABASE`` and ``MONGODB_READ_CONCERN`` name,
    each looked up with ``setting``, or the defaults (a local server, ``youwei``, majority)."""
    return MongoDBDatastore(
        setting("MONGODB_URI") or "mongodb://127.0.0.1:27017",
        setting("MONGODB_DATABASE") or "youwei",
        read_concern=setting("MONGODB_READ_CONCERN") or "majority",
    )


def datastore_from_config(config: dict[str, Any]) -> MongoDBDatastore:
    """The database a service's nameko config names (its ``EVENTSOURCING`` settings), for
    what runs beside the service's application."""
    return datastore_from_settings((config.get("EVENTSOURCING") or {}).get)
