"""A compressed body never inflates inside a service (issue 25, §1): kombu decompresses a body
whose ``compression`` header names a codec as it builds the message, before the 1 MiB limit
could be checked, so a zlib bomb of about 1 MB would become more memory than a service's
pod may use. A service as a process of its own (``nameko run``) gets such a bomb as an RPC
request and as an event; its peak resident memory (``VmHWM``) barely moves, the request is
answered ``MalformedRequest``, the event is parked, and the service answers the next
request."""

from __future__ import annotations

import struct
import time
import uuid
import zlib
from pathlib import Path

import pytest
import yaml
from kombu import Connection, Exchange, Producer

from events.bus.consumer import parked_queue
from events.runtime.inbox import MAX_BODY_BYTES
from tests.events.support import fresh_database_name
from tests.processes import ServiceProcess
from tests.services.test_rpc_wire import WireCaller
from youwei.stack import PROJECT_ROOT

pytestmark = pytest.mark.processes
MiB = 1024 * 1024


def pod_memory_limit(manifest: str = "k8s/base/accountability.yaml") -> int:
    """The memory a service's pod may use, in bytes (its container's ``limits.memory``)."""
    documents = yaml.safe_load_all((PROJECT_ROOT / manifest).read_text())
    deployment = next(d for d in documents if d and d["kind"] == "Deployment")
    limit = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    number, unit = limit["memory"][:-2], limit["memory"][-2:]
    return int(number) * {"Mi": MiB, "Gi": 1024 * MiB}[unit]


def zlib_bomb(size: int) -> bytes:
    """A zlib stream (kombu's ``application/x-gzip``) that inflates to ``size`` bytes of
    ``0``: one MiB deflated once and its block repeated, each block starting afresh (a full
    flush), with the whole's checksum; built in well under a second, where deflating
    ``size`` bytes takes a minute."""
    assert size % MiB == 0 and size >= 2 * MiB
    chunk = b"0" * MiB
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(chunk) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    checksum = 1
    for _ in range(size // MiB):
        checksum = zlib.adler32(chunk, checksum)
    return b"\x78\xda" + first + block * (size // MiB - 1) + end + struct.pack(">I", checksum)


@pytest.mark.plain
def test_the_bomb_inflates_to_its_size() -> None:
    bomb = zlib_bomb(5 * MiB)
    assert zlib.decompress(bomb) == b"0" * (5 * MiB)
    assert len(zlib_bomb(768 * MiB)) < 1 * MiB


def peak_memory(pid: int) -> int:
    """The process's peak resident memory so far, in bytes (``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
def accountability(rabbit_config_module, mongodb_uri, tmp_path):
    env = {"AMQP_URI": rabbit_config_module["AMQP_URI"], "MONGODB_URI": mongodb_uri,
           "MONGODB_DATABASE": fresh_database_name(), "EVENT_RETRY_DELAYS": "[0.2]"}  # fmt: skip
    process = ServiceProcess(name="accountability", module="services.accountability.service",
                             env=env, pid_file=tmp_path / "accountability.pid",
                             log_file=tmp_path / "accountability.log")  # fmt: skip
    process.start()
    yield process, env
    process.kill()


def parked(uri: str, queue: str, timeout: float = 30) -> tuple[bytes, dict]:
    with Connection(uri) as connection:
        channel = connection.channel()
        parked_queue(queue.removesuffix(".parked"))(channel).declare()  # the consumer's
        deadline = time.monotonic() + timeout
        while (message := channel.basic_get(queue, no_ack=True)) is None:
            assert time.monotonic() < deadline, f"nothing parked in {queue}"
            time.sleep(0.2)
        return message.body, message.properties.get("application_headers") or {}


def test_a_compressed_request_or_event_is_refused_before_it_inflates(accountability) -> None:
    process, env = accountability
    limit = pod_memory_limit()
    bomb = zlib_bomb(limit // MiB * MiB * 3 // 2)  # half as much again as the pod may use
    assert len(bomb) < MAX_BODY_BYTES
    pid = process.pid()
    assert pid is not None
    before = peak_memory(pid)
    caller = WireCaller(env["AMQP_URI"], "guest")
    try:
        correlation_id = str(uuid.uuid4())
        caller.producer.publish(
            bomb, routing_key="accountability.get_case", content_type="application/json",
            content_encoding="utf-8", headers={"compression": "application/x-gzip"},
            reply_to=caller.reply_key, correlation_id=correlation_id, user_id="guest",
        )  # fmt: skip
        answer = caller.reply(correlation_id)
        grown = peak_memory(pid) - before
        assert grown < 64 * MiB, f"the service's peak memory grew by {grown / MiB:.0f} MiB"
        assert answer["error"]["exc_type"] == "MalformedRequest", answer
        assert "compressed body is refused" in answer["error"]["value"]
        # the same bomb as an event to a consumer: parked as it came, never inflated
        with Connection(env["AMQP_URI"]) as connection:
            Producer(connection.channel()).publish(
                bomb, exchange=Exchange("inspections.events", type="topic", durable=True),
                routing_key="finding_recorded", content_type="application/json",
                content_encoding="utf-8", headers={"compression": "application/x-gzip"},
                declare=[Exchange("inspections.events", type="topic", durable=True)],
            )  # fmt: skip
        queue = "evt-inspections-finding_recorded--accountability.finding_recorded.parked"
        body, headers = parked(env["AMQP_URI"], queue)
        assert body == bomb and "compression" not in headers
        assert "compressed body is refused" in headers["youwei-error"]
        # and the service answers the next request
        answer = caller.call("accountability.get_case", {"case_id": str(uuid.uuid4())})
        assert answer["error"]["exc_type"] == "NotFound", answer
    finally:
        caller.close()
    grown = peak_memory(pid) - before
    assert grown < 64 * MiB, f"the service's peak memory grew by {grown / MiB:.0f} MiB"
    assert process.pid() == pid
