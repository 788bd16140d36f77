"""The image and what runs in it, checked offline: a security scan (checkov) of the rendered
manifests and of the Dockerfile with every skip explained; the Dockerfile's stages (slim,
pinned, non-root, no build tools); the image's lock against the project's dependencies;
the entrypoint; and the log format services/config.yaml selects."""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy import (
    OVERLAYS,
    SETS,
    rendered,
    run,
    tool,
)
from youwei import entrypoint
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

# --- checkov -----------------------------------------------------------------------------


def checkov(path: Path, framework: str) -> dict:
    result = run(
        tool("checkov"), "--file", str(path), "--framework", framework, "--skip-download",
        "--output", "json",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def assert_no_unexplained_findings(report: dict) -> list[str]:
    results = report.get("results", {})
    failed = [f"{c['check_id']} {c['resource']}" for c in results.get("failed_checks", [])]
    assert failed == [], failed
    assert report["summary"]["passed"] > 0, "checkov checked nothing"
    assert report["summary"]["parsing_errors"] == 0
    skips = []
    for check in results.get("skipped_checks", []):
        reason = (check.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 40, f"{check['check_id']} {check['resource']}: no reason given"
        skips.append(check["check_id"])
    return skips


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_finds_nothing_unexplained_in_the_manifests(overlay, tmp_path) -> None:
    manifests = tmp_path / f"{overlay}.yaml"
    manifests.write_text("---\n".join(rendered(overlay, part) for part in SETS))
    skips = assert_no_unexplained_findings(checkov(manifests, "kubernetes"))
    allowed = {"CKV_K8S_43", "CKV_K8S_35"} | ({"CKV_K8S_15"} if overlay == "dev" else set())
    assert set(skips) <= allowed, set(skips) - allowed


def test_checkov_finds_nothing_in_the_dockerfile_and_catches_a_root_image(tmp_path) -> None:
    dockerfile = PROJECT_ROOT / "Dockerfile"
    assert assert_no_unexplained_findings(checkov(dockerfile, "dockerfile")) == []
    rootful = tmp_path / "Dockerfile"
    rootful.write_text(re.sub(r"(?m)^USER .*$", "", dockerfile.read_text()))
    failed = checkov(rootful, "dockerfile")["results"]["failed_checks"]
    assert "CKV_DOCKER_3" in {c["check_id"] for c in failed}  # the scan would catch it


# --- the image ---------------------------------------------------------------------------


def stages() -> list[tuple[str, list[str]]]:
    """(FROM line, the stage's instructions) per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (PROJECT_ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    found: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            found.append((line, []))
        elif found:
            found[-1][1].append(line)
    return found


def test_the_image_is_slim_pinned_non_root_and_without_build_tools() -> None:
    built = stages()
    assert len(built) == 2, "a build stage and a runtime stage"
    bases = {re.match(r"FROM (\S+)", line).group(1) for line, _ in built}
    [base] = bases  # both stages on the same base
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    final_from, final = built[-1]
    assert final_from.endswith(" AS runtime")
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) >= 10000
    final_text = "\n".join(final)
    for tool_name in ("apt-get", "gcc", "g++", "make ", "build-essential", "python3-dev"):
        assert tool_name not in final_text, tool_name
    assert "pip uninstall --yes pip" in final_text  # no installer left in the image
    assert 'ENTRYPOINT ["python", "-m", "youwei.entrypoint"]' in final_text
    assert "COPY --from=build /wheels /wheels" in final_text
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*")] == "*", "the build context is only what is named"


def test_the_image_lock_satisfies_the_project_and_holds_its_closure() -> None:
    lock = {}
    for line in (PROJECT_ROOT / "deploy" / "image-requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            lock[canonicalize_name(name)] = version
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    for requirement in map(Requirement, project["dependencies"]):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is missing: run scripts/image-lock"
        assert requirement.specifier.contains(lock[name], prereleases=True), (name, lock[name])
        for extra in requirement.extras:  # eventsourcing[crypto]
            from importlib.metadata import distribution

            for sub in map(Requirement, distribution(requirement.name).requires or []):
                if sub.marker and sub.marker.evaluate({"extra": extra}):
                    assert canonicalize_name(sub.name) in lock, sub


def test_the_entrypoint_runs_services_by_name_or_the_youwei_command() -> None:
    environ = {"YOUWEI_CONFIG": "/app/services/config.yaml"}
    assert entrypoint.command(["records"], environ) == [
        "nameko", "run", "services.records.service", "--config", "/app/services/config.yaml",
    ]  # fmt: skip
    every = entrypoint.command(["all"], {})
    assert every[2:-2] == [f"services.{s}.service" for s in entrypoint.SERVICES]
    assert every[-1] == "services/config.yaml"
    assert entrypoint.command(["youwei", "audit", "verify"]) == ["youwei", "audit", "verify"]
    with pytest.raises(entrypoint.UsageError, match="not a service: relay"):
        entrypoint.command(["relay"])
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    shown = run(sys.executable, "-m", "youwei.entrypoint", "youwei", "db", "--help", env=env)
    assert shown.returncode == 0 and "init" in shown.stdout, shown.stderr
    refused = run(sys.executable, "-m", "youwei.entrypoint", "nosuch", env=env)
    assert refused.returncode == 2 and "not a service: nosuch" in refused.stderr


def healthcheck_command() -> list[str]:
    [line] = [line for _, stage in stages() for line in stage if line.startswith("HEALTHCHECK")]
    command = json.loads(line[line.index(" CMD ") + 5 :])
    return [sys.executable if word == "python" else word for word in command]


def test_the_healthcheck_probes_the_port_metrics_address_names() -> None:
    """A container run with METRICS_ADDRESS on another port than the image's 9100 (as
    scripts/image-check runs it with host networking) is healthy once that port's /readyz
    answers 200, and unhealthy while nothing answers there."""
    import threading

    from tests.browser import http_server
    from youwei.ports import free_port

    class Ready(http_server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/readyz" else 404)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    port = free_port()
    env = {**os.environ, "METRICS_ADDRESS": f"0.0.0.0:{port}"}
    assert run(*healthcheck_command(), env=env).returncode != 0  # nothing listens yet
    server = http_server.HTTPServer(("127.0.0.1", port), Ready)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run(*healthcheck_command(), env=env)
        assert result.returncode == 0, result.stderr
        elsewhere = {**env, "METRICS_ADDRESS": f"127.0.0.1:{free_port()}"}
        assert run(*healthcheck_command(), env=elsewhere).returncode != 0
    finally:
        server.shutdown()
        server.server_close()


def test_the_compose_file_names_the_engine_its_healthchecks_need() -> None:
    """start_interval (Docker Engine 25, API 1.44) is refused by older engines: the file
    says so, and the README, where it tells how to run the image without compose."""
    import yaml

    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"].values()
    if any("start_interval" in (s.get("healthcheck") or {}) for s in services):
        header = "".join(line for line in text.splitlines() if line.startswith("#"))
        assert "Engine 25" in header
        assert "Engine 25" in (PROJECT_ROOT / "README.md").read_text()


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_format_selects_json_or_text_logs(log_format) -> None:
    """nameko run applies services/config.yaml's LOGGING; LOG_FORMAT picks the formatter."""
    program = (
        "import logging.config, yaml\n"
        "from nameko.cli.main import setup_yaml_parser\n"
        "setup_yaml_parser()\n"
        "config = yaml.safe_load(open('services/config.yaml'))\n"
        "logging.config.dictConfig(config['LOGGING'])\n"
        "logging.getLogger('youwei.test').warning('relay %s lost its lease', 'inspections')\n"
    )
    env = {**os.environ, "LOG_FORMAT": log_format, "LOG_LEVEL": "INFO"}
    result = run(sys.executable, "-c", program, env=env, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    if log_format == "json":
        record = json.loads(line)
        assert record["message"] == "relay inspections lost its lease"
        assert record["level"] == "WARNING" and record["logger"] == "youwei.test"
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", record["time"])
    else:
        assert line.endswith("WARNING youwei.test: relay inspections lost its lease")
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
