"""The layout a newcomer relies on (issue 17): each shared package says what it holds and
what it may import, no source file outgrows a read, and the persistence module keeps the
name deployments configure. The import direction itself is lint (``lint-imports`` in
scripts/test, pyproject's ``[tool.importlinter]``)."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("events", "schemas", "services", "youwei", "tests", "bench", "scripts")
LONGEST = 600


def test_every_events_package_opens_with_what_it_holds_and_may_import() -> None:
    packages = sorted(p.parent for p in (ROOT / "events").glob("*/__init__.py"))
    assert {p.name for p in packages} >= {"runtime", "identity", "log", "bus", "readmodels",
                                           "audit", "observability"}  # fmt: skip
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text()))
        assert doc, f"{package.name} has no docstring"
        assert "May import" in doc, f"{package.name}'s docstring does not say what it may import"


def test_no_source_file_is_over_600_lines() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *SOURCES],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    if not tracked:
        pytest.skip("not a git checkout")
    long = {
        path: count
        for path in tracked
        if path.endswith(".py") and (ROOT / path).exists()
        and (count := len((ROOT / path).read_text().splitlines())) > LONGEST
    }  # fmt: skip
    assert long == {}


def test_the_configured_persistence_module_still_resolves() -> None:
    """``PERSISTENCE_MODULE=events.mongodb`` is what deployments set: it names one factory."""
    from eventsourcing.persistence import InfrastructureFactory

    import events.mongodb
    from events.log.mongodb import MongoDBFactory

    factories = [v for v in vars(events.mongodb).values()
                 if isinstance(v, type) and issubclass(v, InfrastructureFactory)]  # fmt: skip
    assert factories == [MongoDBFactory]


def test_framework_topics_are_where_stored_logs_say() -> None:
    """Stored events name their class by topic, under the hash chain: the framework's own
    aggregates keep the topics they were first stored with, wherever their code moved."""
    from eventsourcing.utils import get_topic, resolve_topic

    from events.identity.access import AccessDenied, PersonnelFileRead
    from events.log.commands import CommandRecord
    from events.log.published import RECORD_TOPIC

    expected = {
        CommandRecord.Recorded: "events.commands:CommandRecord.Recorded",
        AccessDenied.Recorded: "events.access:AccessDenied.Recorded",
        PersonnelFileRead.Recorded: "events.access:PersonnelFileRead.Recorded",
        CommandRecord: "events.commands:CommandRecord",
        AccessDenied: "events.access:AccessDenied",
        PersonnelFileRead: "events.access:PersonnelFileRead",
    }
    for cls, topic in expected.items():
        assert get_topic(cls) == topic
        assert resolve_topic(topic) is cls
    assert get_topic(CommandRecord.Recorded) == RECORD_TOPIC
