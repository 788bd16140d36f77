"""docker-compose.yml end to end: the whole stack (real MongoDB as a replica set, RabbitMQ,
the index creation, the five services from the image) brought up by pytest-docker, then the
deployment's scenario (tests/scenario.py) through RabbitMQ's published port and the public
page's. Skipped, with the reason, where no Docker engine is reachable; the same scenario runs
against the local stack in tests/test_end_to_end.py."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.compose.conftest import docker_unavailable
from tests.scenario import end_to_end, http_json

pytestmark = [
    pytest.mark.skipif(docker_unavailable() is not None, reason=str(docker_unavailable())),
    # containers of its own, like the fault test's processes: once, in the plain pass
    pytest.mark.processes,
]


def test_the_compose_stack_runs_the_scenario_against_real_mongodb(
    docker_services, compose_ports
) -> None:
    from events.identity.agency import IdentifiedClusterRpcProxy

    page = f"http://127.0.0.1:{compose_ports['YOUWEI_PAGE_PORT']}/"

    def page_answers() -> bool:
        try:
            return http_json(f"{page}records.json", timeout=5)[0] == 200
        except OSError:
            return False

    docker_services.wait_until_responsive(check=page_answers, timeout=300, pause=2)
    amqp = f"pyamqp://youwei:local-evaluation-only@127.0.0.1:{compose_ports['YOUWEI_AMQP_PORT']}/"
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the services' own "today"
    with IdentifiedClusterRpcProxy({"AMQP_URI": amqp}, timeout=60) as rpc:
        record = end_to_end(rpc, page, today)
    assert record["decision"]["code"] == "admonishment"
