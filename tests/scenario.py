"""The end-to-end scenario of a deployment, shared by the docker-compose suite
(``tests/compose``) and its local-stack twin (``tests/test_end_to_end.py``): a unit and a
cadre are registered, an inspection records a finding, the accountability service opens a
case by itself (relay → RabbitMQ → policy), an admonishment is imposed and published, and
the public page's JSON (``/records.json`` of the records service over HTTP) shows it."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import uuid4

from tests.services.support import command

TEAM = [{"name": "李纪检", "role": "commission"}, {"name": "王记者", "role": "media"}]


def wait_for(condition: Callable[[], Any], seconds: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"not in {seconds:.0f}s: {what}"
        time.sleep(0.2)
    return result


def http_json(url: str, timeout: float = 10.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def end_to_end(rpc, page_url: str, today: date) -> dict[str, Any]:
    """Run the scenario through ``rpc`` (a nameko ``ClusterRpcProxy``) and the public page
    at ``page_url`` (``http://host:port/``); return the published record."""
    marker = uuid4().hex[:8]  # the scenario's own names, whatever else the database holds
    day = today.isoformat()
    unit = rpc.cadre_registry.register_unit(command(name=f"市政务服务中心 {marker}"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(
            name=f"测试干部{marker}",
            gender="female",
            birth_date="1980-05-06",
            unit_id=unit,
            post="副主任",
            rank="county_division",
            post_kind="leadership",
            effective_date="2025-01-01",
        )
    )["cadre_id"]
    inspection = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title=f"窗口暗访 {marker}", started_on=day, team=TEAM)
    )["inspection_id"]
    finding = rpc.inspections.record_finding(
        command(
            inspection_id=inspection,
            unit_id=unit,
            cadre_id=cadre,
            situation="absent_from_post",
            description="上班时间窗口无人",
            found_on=day,
        )
    )["finding_id"]

    cases = wait_for(
        lambda: rpc.accountability.list_cases({"cadre_id": cadre})["cases"],
        what="the accountability service opens a case for the finding",
    )
    assert [basis["finding_id"] for basis in cases[0]["basis"]] == [finding]
    case = cases[0]["case_id"]
    rpc.accountability.impose_measure(
        command(case_id=case, measure="admonishment", reason="上班时间离岗", decided_on=day)
    )
    rpc.accountability.publish_result(command(case_id=case, summary="诫勉谈话", published_on=day))

    def published() -> list[dict[str, Any]]:
        status, answer = http_json(f"{page_url.rstrip('/')}/records.json?q={marker}")
        assert status == 200, answer
        return answer["records"]

    [record] = wait_for(published, what="the published decision on the public page's JSON")
    assert record["cadre_name"] == f"测试干部{marker}"
    assert record["published_on"] == day and record["decision"]["code"] == "admonishment"
    assert cadre not in json.dumps(record) and case not in json.dumps(record)  # public fields only
    return record
