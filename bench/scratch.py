"""A SecantusDB server of a benchmark's own, on a free port, with its data in a temporary
folder, and the datastore of its database ``bench``: both gone when the benchmark ends."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from events.log.datastore import MongoDBDatastore
from youwei.stack import SecantusServer


@contextlib.contextmanager
def scratch_datastore() -> Iterator[tuple[MongoDBDatastore, Path]]:
    """Yield the datastore and the temporary folder (for a benchmark's other files)."""
    with tempfile.TemporaryDirectory(prefix="youwei-bench-") as name:
        folder = Path(name)
        server = SecantusServer.in_folder(folder)
        server.start()
        datastore = MongoDBDatastore(server.uri, "bench")
        try:
            yield datastore, folder
        finally:
            datastore.close()
            server.stop()
