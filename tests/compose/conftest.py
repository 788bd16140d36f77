"""pytest-docker for docker-compose.yml: the project's compose file, host ports of the run's
own (so that the machine's RabbitMQ or another stack on 5672 or 8000 does not clash), and
``up --build --wait`` so that the tests start once every health check passes. Everything
here needs a Docker engine: test_compose_stack.py is skipped, before any fixture runs, where
none is reachable."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache

import pytest

from youwei.ports import free_port
from youwei.stack import PROJECT_ROOT


@cache
def docker_unavailable() -> str | None:
    """Why docker-compose.yml cannot be brought up here, or None if it can."""
    if shutil.which("docker") is None:
        return "no Docker engine reachable: the docker command is not installed"
    for command in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return f"no Docker engine reachable: `{' '.join(command)}` did not answer in 30 s"
        if result.returncode != 0:
            reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
            return f"no Docker engine reachable: `{' '.join(command)}` failed: {reason[0]}"
    return None


@pytest.fixture(scope="session")
def compose_ports() -> dict[str, int]:
    return {"YOUWEI_PAGE_PORT": free_port(), "YOUWEI_AMQP_PORT": free_port(),
            "YOUWEI_RABBITMQ_UI_PORT": free_port()}  # fmt: skip


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(PROJECT_ROOT / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"youwei-test-{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup(compose_ports):
    os.environ.update({key: str(port) for key, port in compose_ports.items()})
    return ["up --build --wait --wait-timeout 600 -d"]


@pytest.fixture(scope="session")
def docker_cleanup():
    return ["down -v --remove-orphans"]
