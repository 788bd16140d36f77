"""The MongoDB tools' command lines that docs/operations.md and the backup CronJob give, held
to the tools' own option rules, where the tools cannot run (no Debian package or PyPI
distribution ships them; SecantusDB would not replay an oplog). The rules are transcribed
from mongo-tools at commit 8fa3cfc8263b9cead37912d7b0447766143c3e3a (2026-08-21):
``mongorestore/mongorestore.go`` ``ParseAndValidateOptions`` (lines 176-256, 315) and
``Restore`` (542: no oplog in the dump), ``mongodump/mongodump.go`` ``ValidateOptions``
(110, 117-120), ``mongorestore/options.go`` and ``mongodump/options.go`` (which options
take a value). tests/test_restore_drill.py runs the restore's other steps for real."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml

from tests.deploy import rendered
from youwei.backup import restore
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.plain

#: Options that take a value (the rest are flags), from the tools' options.go.
VALUED = {"uri", "sslCAFile", "archive", "nsInclude", "nsExclude", "nsFrom", "nsTo", "db", "d",
          "collection", "c", "oplogLimit", "oplogFile", "excludeCollection",
          "excludeCollectionsWithPrefix", "out", "o", "query", "q", "host", "port",
          "username", "password", "authenticationDatabase"}  # fmt: skip
FLAGS = {"drop", "oplogReplay", "gzip", "oplog", "preserveUUID", "restoreDbUsersAndRoles",
         "dumpDbUsersAndRoles", "ssl", "tls", "noIndexRestore", "stopOnError"}  # fmt: skip


def options(words: list[str]) -> dict[str, list[str]]:
    """``--name=value``, ``--name value`` and ``--flag`` into name → values; an option the
    tools do not have fails, as go-flags fails it."""
    found: dict[str, list[str]] = {}
    words = list(words)
    while words:
        word = words.pop(0)
        assert word.startswith("-"), f"not an option: {word}"
        name, equals, value = word.lstrip("-").partition("=")
        if name in VALUED:
            found.setdefault(name, []).append(value if equals else words.pop(0))
        else:
            assert name in FLAGS and not equals, f"not an option of the tools: {word}"
            found.setdefault(name, []).append("")
    return found


def mongorestore_refusal(given: dict[str, list[str]]) -> str | None:
    """mongorestore.go ParseAndValidateOptions: the refusals these options can meet."""
    db = (given.get("db") or given.get("d") or [""])[0]
    collection = (given.get("collection") or given.get("c") or [""])[0]
    replay = "oplogReplay" in given
    if not db and collection:  # 176
        return "cannot restore a collection without a specified database"
    if "restoreDbUsersAndRoles" in given and not db:  # 190
        return "cannot use --restoreDbUsersAndRoles without a specified database"
    if "oplogLimit" in given and not replay:  # 208
        return "cannot use --oplogLimit without --oplogReplay enabled"
    if "oplogFile" in given and not replay:  # 217
        return "cannot use --oplogFile without --oplogReplay enabled"
    if "oplogFile" in given and "archive" in given:  # 221
        return "cannot use --oplogFile with --archive specified"
    if replay and ("nsInclude" in given or db):  # 245-248
        return "cannot use --oplogReplay with includes specified"
    excludes = ("nsExclude", "excludeCollection", "excludeCollectionsWithPrefix")
    if replay and any(name in given for name in excludes):  # 249-252
        return "cannot use --oplogReplay with excludes specified"
    if replay and "nsFrom" in given:  # 253-255
        return "cannot use --oplogReplay with namespace renames specified"
    if "preserveUUID" in given and "drop" not in given:  # 315
        return "cannot specify --preserveUUID without --drop"
    return None


def mongodump_refusal(given: dict[str, list[str]]) -> str | None:
    """mongodump.go ValidateOptions: the refusals these options can meet."""
    db = (given.get("db") or given.get("d") or [""])[0]
    if "oplog" in given and db:  # 110
        return "--oplog mode only supported on full dumps"
    if ("excludeCollection" in given or "excludeCollectionsWithPrefix" in given) and not db:
        return "--db is required when --excludeCollection is specified"  # 117-120
    if "out" in given and "archive" in given:
        return "--out not allowed when --archive is specified"
    return None


def command_lines(text: str, program: str) -> list[list[str]]:
    """Every command line running ``program`` in ``text`` (continuations joined), as the
    words after the program's name; shell variables stand as they are."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        if re.match(rf"\s*{program}\s", line):
            words = shlex.split(re.sub(r"<[^>]*>", "X", line.split(";")[0]), comments=True)
            found.append([w for w in words[1:] if not w.startswith("$")])
    return found


def restore_section() -> str:
    text = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    return text[text.index("## Back up and restore") : text.index("## Rotate keys")]


def backup_cronjob_command(overlay: str) -> list[list[str]]:
    for document in yaml.safe_load_all(rendered(overlay)):
        if document and document["kind"] == "CronJob" and "backup" in document["metadata"]["name"]:
            container = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
            env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
            script = container["args"][0].replace("$MONGODUMP_OPTIONS", env["MONGODUMP_OPTIONS"])
            return command_lines(script.replace(";", ";\n"), "mongodump")
    raise AssertionError(f"{overlay}: no backup CronJob")


def test_the_transcribed_rules_refuse_what_the_tool_refuses() -> None:
    """The issue's case (the restore documented before 2026-12-08) and its near variants."""
    base = ["--drop", "--oplogReplay", "--gzip", "--archive=a.gz"]
    assert mongorestore_refusal(options([*base, "--nsInclude", "youwei.*"])) == (
        "cannot use --oplogReplay with includes specified"
    )
    assert "excludes" in mongorestore_refusal(options([*base, "--nsExclude", "youwei_e*.*"]))
    assert "renames" in mongorestore_refusal(options([*base, "--nsFrom", "a.*", "--nsTo", "b.*"]))
    assert mongorestore_refusal(options(base)) is None
    assert mongodump_refusal(options(["--oplog", "--db", "youwei"])) is not None
    with pytest.raises(AssertionError, match="not an option"):
        options(["--oplogReplayy"])


def test_the_documented_restore_is_one_the_tool_accepts_and_is_point_in_time() -> None:
    [restore_line] = command_lines(restore_section(), "mongorestore")
    given = options(restore_line)
    assert mongorestore_refusal(given) is None
    # point in time: the oplog captured during the dump replayed (a dump taken with --oplog,
    # or mongorestore.go:542 refuses: "no oplog file to replay"); every collection of the
    # dump replaced, not merged into
    assert {"oplogReplay", "drop", "gzip", "archive"} <= set(given), given
    [dump_line] = command_lines(restore_section(), "mongodump")
    assert mongodump_refusal(options(dump_line)) is None and "oplog" in options(dump_line)


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_backup_cronjob_takes_a_dump_the_documented_restore_can_replay(overlay) -> None:
    [dump_line] = backup_cronjob_command(overlay)
    given = options(dump_line)
    assert mongodump_refusal(given) is None
    assert {"oplog", "gzip", "archive"} <= set(given), given


def test_the_documented_youwei_restore_steps_parse(tmp_path, monkeypatch) -> None:
    """Each documented ``youwei restore`` line has the options the command requires (finish
    needs the folder prepare kept: the ledger copied aside before the restore)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dump-1").mkdir()  # the drill's dump, which restore all reads
    lines = command_lines(restore_section().replace("`", "\n"), "youwei")
    steps = {words[1]: words[2:] for words in lines if words[0] == "restore" and words[2:]}
    assert set(steps) >= {"prepare", "finish", "all"}, steps
    for step, arguments in steps.items():
        restore.commands[step].make_context(step, list(arguments))
    assert "--work" in steps["finish"]


@pytest.mark.parametrize("overlay", ["dev", "prod", "prod-external-mongodb"])
def test_the_restore_job_loads_as_the_docs_say_and_its_youwei_steps_parse(overlay) -> None:
    """The Job template of steps 2-4 (k8s/base/restore-cronjob.yaml): its mongorestore line
    is one the tool accepts, point in time as the documented one, and its youwei lines have
    the options the commands require."""
    [job] = [d for d in yaml.safe_load_all(rendered(overlay))
             if d and d["metadata"]["name"] == "youwei-restore"]  # fmt: skip
    spec = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    prepare, load = spec["initContainers"]
    [finish] = spec["containers"]
    env = {e["name"]: e.get("value", "") for e in load["env"]}
    script = load["args"][0].replace("$MONGORESTORE_OPTIONS", env["MONGORESTORE_OPTIONS"])
    [line] = command_lines(script.replace(";", ";\n"), "mongorestore")
    given = options(line)
    assert mongorestore_refusal(given) is None
    assert {"oplogReplay", "drop", "gzip", "archive"} <= set(given), given
    steps = {}
    for container in (prepare, finish):
        script = container["args"][0].replace('"$work"', "/work/20261128T010000Z")
        script = script.replace('"$DUMPED_AT"', "20261128T010000Z")
        for words in command_lines(script.replace(";", ";\n"), "youwei"):
            steps[words[1]] = words[2:]
    assert set(steps) == {"prepare", "finish"}
    for step, arguments in steps.items():
        restore.commands[step].make_context(step, list(arguments))
