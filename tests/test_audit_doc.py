"""docs/audit.md's commands run as written: every block marked ```sh test``` runs, in
order, in one shell, from a folder laid out as the repository's (``.venv``, ``scripts``,
``.local/audit-signing-key.pem``) against a small city recorded in the test's database
(``MONGODB_URI`` and ``MONGODB_DATABASE``, as the guide says). The guide finds ``$CADRE``,
the liaison of docs/rpc.md's examples, from the public id of what was published. The
``curl`` of the public page is not run: it needs the records service's web server."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pymongo
import pytest

from events.audit.checkpoints import new_private_key_pem
from tests.events.audit_world import rpc_world

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "audit.md"


def test_the_guides_commands_run_as_written(mongodb_uri, tmp_path) -> None:
    blocks = re.findall(r"^```sh test\n(.*?)^```", GUIDE.read_text(), flags=re.M | re.S)
    assert len(blocks) >= 8, "the guide's tested blocks"
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / ".local").mkdir()
    (tmp_path / ".local" / "audit-signing-key.pem").write_bytes(new_private_key_pem())
    script = "set -euo pipefail\n" + "\n".join(
        f"echo '### block {n}'\n{block}" for n, block in enumerate(blocks, start=1)
    )
    with rpc_world(mongodb_uri) as (database, names):
        env = {**os.environ, "MONGODB_URI": mongodb_uri, "MONGODB_DATABASE": database,
               "YOUWEI_TIMEZONE": "Asia/Shanghai"}  # fmt: skip
        env.pop("AUDIT_SIGNING_KEY_FILE", None)
        env.pop("CADRE", None)
        try:
            result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=900,
                                    check=False)  # fmt: skip
        finally:
            with pymongo.MongoClient(mongodb_uri) as client:
                client.drop_database("youwei_replay")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"### block {len(blocks)}" in out
    assert "ok: cadre_name: confirmed" in out and out.count("verified\n") == 2
    assert "REFUSED: the record shows unit" in out
    assert "co-signed the head of" in out and "ok: co-signed by witness" in out
    key_id = out.split("### block 1\n", 1)[1].split("### block 2")[0].splitlines()[-1]
    assert re.fullmatch("[0-9a-f]{16}", key_id), out
    assert "accountability_events: ok" in out and "BROKEN" not in out
    assert f"manifest signed by the city's key {key_id}" in out
    assert "manifest signed by your key" in out and "manifest unsigned" in out
    assert out.count("clean\n") == 2
    assert f"\n{names['liaison']}\n" in out, "the guide found the liaison's id from its honour"
    assert "  against the export audit-export (exported " in out
    assert "  against the checkpoints held in my-export/checkpoints.jsonl: held " in out
    assert "陈刚 on 2026-05-25: NOT eligible for promotion" in out
    assert "rule: admonishment (rules " in out
    assert f"  not eligible: {names['liaison']} 陈刚" in out
