"""Metrics and probes (events.observability) over the real stack: services in nameko
containers on a RabbitMQ vhost of the module's own, and a SecantusDB server of this
module's own that the readiness test stops and starts again (never the session's)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from events.observability.probes import SERVER, _ProcessServer
from services.cadre_registry.service import CadreRegistryService
from services.records.service import RecordsService
from tests.scenario import wait_for
from tests.services.support import command, running_services
from youwei.ports import free_port
from youwei.stack import SecantusServer

pytestmark = pytest.mark.nameko


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    directory = tmp_path_factory.mktemp("observed")
    server = SecantusServer.in_folder(directory)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def observed(container_factory_module, rabbit_config_module, database, web_port):
    """cadre_registry (a relay) and records (projections) in one process, like ``youwei
    up``, with the process's metrics and probe server on a port of the module's own."""
    address = f"127.0.0.1:{free_port()}"
    with running_services(
        [CadreRegistryService, RecordsService],
        container_factory_module,
        rabbit_config_module,
        database.uri,
        METRICS_ADDRESS=address,
        METRICS_SAMPLE_SECONDS=0.2,
        PROJECTIONS_POLL_SECONDS=0.2,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{web_port}",
    ) as (rpc, db):
        yield rpc, f"http://{address}", db


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(base: str) -> dict[tuple[str, tuple], float]:
    status, text = get(f"{base}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_commands_count_by_outcome_with_their_latency(observed) -> None:
    rpc, base, _ = observed
    calls = {"service": "cadre_registry", "method": "register_unit"}
    before = samples(base)
    rpc.cadre_registry.register_unit(command(name="市统计局"))
    with pytest.raises(Exception, match="InvalidCommand"):
        rpc.cadre_registry.register_unit(command(name=""))
    latency = "youwei_handler_seconds_count"

    def counted() -> dict | None:
        """nameko sends the reply before its dependencies' ``worker_result`` (which counts
        the call): a call's count may come a moment after its answer."""
        found = samples(base)
        done = all(
            value(found, "youwei_calls_total", **calls, outcome=outcome)
            >= value(before, "youwei_calls_total", **calls, outcome=outcome) + 1
            for outcome in ("ok", "refused")
        )
        return found if done else None

    after = wait_for(counted, 10, "both calls are counted")
    for outcome in ("ok", "refused"):
        name = "youwei_calls_total"
        assert value(after, name, **calls, outcome=outcome) == (
            value(before, name, **calls, outcome=outcome) + 1
        ), outcome
    assert value(after, "youwei_calls_total", **calls, outcome="failed") == value(
        before, "youwei_calls_total", **calls, outcome="failed"
    )
    errors = {**calls, "error": "InvalidCommand"}
    assert value(after, "youwei_errors_total", **errors) == (
        value(before, "youwei_errors_total", **errors) + 1
    )
    assert value(after, latency, **calls) == value(before, latency, **calls) + 2
    assert value(after, "youwei_handler_seconds_sum", **calls) > value(
        before, "youwei_handler_seconds_sum", **calls
    )


def test_relay_and_projection_lag_gauges_appear_and_settle(observed) -> None:
    rpc, base, _ = observed
    rpc.cadre_registry.register_unit(command(name="市审计局"))
    relay = {"service": "cadre_registry", "log": "cadreregistry_events"}
    projection = {"service": "records", "projection": "public", "source": "cadre_registry"}

    def settled() -> dict | None:
        found = samples(base)
        keys = [("youwei_relay_lag_events", relay), ("youwei_projection_lag_events", projection)]
        present = all((n, tuple(sorted(labels.items()))) in found for n, labels in keys)
        return found if present and all(value(found, n, **lb) == 0 for n, lb in keys) else None

    found = wait_for(settled, 30, "the lag gauges appear and reach 0")
    for source in ("evaluations", "inspections", "accountability"):
        labels = {"service": "records", "projection": "personnel", "source": source}
        assert ("youwei_projection_lag_events", tuple(sorted(labels.items()))) in found
    assert value(found, "youwei_lag_sampled_timestamp_seconds", service="records") > 0


def test_ready_only_while_the_database_answers(observed, database) -> None:
    _, base, _ = observed
    status, body = get(f"{base}/readyz")
    assert status == 200, body
    report = json.loads(body)
    assert report["ok"] and set(report["services"]) == {"cadre_registry", "records"}
    assert all(s["mongodb"] == s["rabbitmq"] == "ok" for s in report["services"].values())
    assert all(s["consuming"] for s in report["services"].values())  # not only "started"

    database.stop()
    try:
        status, body = get(f"{base}/readyz")
        assert status == 503, body
        report = json.loads(body)["services"]["records"]
        assert not report["ready"] and report["mongodb"] != "ok" and report["rabbitmq"] == "ok"
        live, body = get(f"{base}/healthz")  # alive: a restart would not bring the database
        assert live == 200 and json.loads(body)["ok"], body
    finally:
        database.start()
    wait_for(lambda: get(f"{base}/readyz")[0] == 200, 30, "ready again with the database back")


@pytest.mark.parametrize("service", ["cadre_registry", "records"])
def test_not_ready_while_the_broker_is_unreachable_but_records_is(observed, service) -> None:
    """The probe opens an AMQP connection: a broker URI that refuses makes a service not
    ready (the services themselves keep theirs; a provider's URI is swapped for the check),
    except records, whose public page is served from MongoDB alone."""
    _, base, _ = observed
    [provider] = [p for p in SERVER.providers if p.container.service_name == service]
    kept, provider.amqp_uri = provider.amqp_uri, f"pyamqp://guest:guest@127.0.0.1:{free_port()}/"
    try:
        status, body = get(f"{base}/readyz")
        report = json.loads(body)["services"]
        assert report[service]["rabbitmq"] != "ok"
        assert report[service]["ready"] is (service == "records"), body
        assert status == (200 if service == "records" else 503), body
    finally:
        provider.amqp_uri = kept
    assert get(f"{base}/readyz")[0] == 200


def test_an_unknown_path_is_404(observed) -> None:
    _, base, _ = observed
    status, body = get(f"{base}/nothing")
    assert status == 404 and "/readyz" in body


class _Died:
    def ready(self) -> bool:
        return False


class _Container:
    def __init__(self, name: str) -> None:
        self.service_name, self.started, self._being_killed, self._died = name, True, False, _Died()


class _Provider:
    def __init__(self, name: str) -> None:
        self.container = _Container(name)


def test_one_server_per_process_opened_by_the_first_closed_by_the_last() -> None:
    server = _ProcessServer()
    first, second = _Provider("a"), _Provider("b")
    address = f"127.0.0.1:{free_port()}"
    server.join(first, address)
    server.join(second, f"127.0.0.1:{free_port()}")  # another address: this process has one
    try:
        status, body = get(f"http://{address}/healthz")
        assert status == 200 and set(json.loads(body)["services"]) == {"a", "b"}
        second.container._being_killed = True
        assert get(f"http://{address}/healthz")[0] == 503
        server.leave(first)
        assert get(f"http://{address}/healthz")[0] == 503  # still open for "b"
    finally:
        server.leave(second)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{address}/healthz", timeout=5)
    assert server.address is None
