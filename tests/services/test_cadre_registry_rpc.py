"""The cadre_registry service over real RabbitMQ, reading back what it recorded in SecantusDB."""

from __future__ import annotations

import pytest
from nameko.exceptions import RemoteError

from events.audit.verify import verify_log
from services.cadre_registry.service import CadreRegistryService
from tests.services.support import command, invalid_fields, running_service

pytestmark = pytest.mark.nameko
LOG = "cadreregistry_events"


@pytest.fixture
def registry(container_factory, rabbit_config, mongodb_uri):
    with running_service(
        CadreRegistryService, container_factory, rabbit_config, mongodb_uri
    ) as running:
        yield running


def new_cadre(rpc, unit_id: str, rank: str = "county_division", **fields) -> str:
    payload = {
        "name": "王芳",
        "gender": "female",
        "birth_date": "1978-09-12",
        "unit_id": unit_id,
        "post": "局长",
        "rank": rank,
        "post_kind": "leadership",
        "effective_date": "2026-01-05",
        **fields,
    }
    return rpc.register_cadre(command(**payload))["cadre_id"]


def test_every_post_change_is_recorded_and_read_back(registry) -> None:
    rpc, database = registry
    city = rpc.register_unit(command(name="玉溪市"))["unit_id"]
    bureau = rpc.register_unit(command(name="市发改委", parent_id=city))["unit_id"]
    office = rpc.register_unit(command(name="市政务服务中心", parent_id=city))["unit_id"]
    cadre = new_cadre(rpc, bureau)

    rpc.transfer(command(cadre_id=cadre, unit_id=office, post="主任", effective_date="2026-02-01"))
    rpc.appoint(
        command(cadre_id=cadre, unit_id=bureau, post="主任", rank="county_division",
                post_kind="leadership", effective_date="2026-03-01")
    )  # fmt: skip
    rpc.send_to_off_post_training(
        command(cadre_id=cadre, effective_date="2026-04-01", reason="离职培训三个月")
    )
    rpc.appoint(
        command(cadre_id=cadre, unit_id=bureau, post="副主任", rank="county_division",
                post_kind="leadership", effective_date="2026-07-01")
    )  # fmt: skip
    rpc.change_to_non_leadership(
        command(cadre_id=cadre, post="调研员", effective_date="2026-08-01", reason="调整")
    )
    rpc.demote(
        command(cadre_id=cadre, rank="township_section", post="科员", effective_date="2026-09-01",
                reason="年度考核不称职")
    )  # fmt: skip

    view = rpc.get_cadre({"cadre_id": cadre})
    changes = [h["change"]["code"] for h in view["history"]]
    assert changes == [
        "registered", "transferred", "appointed", "sent_to_off_post_training", "appointed",
        "changed_to_non_leadership", "demoted",
    ]  # fmt: skip
    assert view["rank"] == {
        "code": "township_section",
        "zh": "乡科级",
        "en": "township / section level",
    }
    assert view["post_kind"]["code"] == "non_leadership"
    assert view["status"]["zh"] == "在职在岗"
    assert view["history"][1]["unit_id"] == office

    in_bureau = rpc.list_cadres({"unit_id": bureau})
    assert [c["cadre_id"] for c in in_bureau["cadres"]] == [cadre]
    assert rpc.list_cadres({"unit_id": office})["total"] == 0
    assert rpc.get_unit({"unit_id": bureau}) == {
        "unit_id": bureau, "name": "市发改委", "parent_id": city, "cadres": 1,
    }  # fmt: skip

    stored = database[LOG].count_documents({})
    assert stored == database[LOG].find_one(sort=[("position", -1)])["position"]
    assert verify_log(database, LOG).ok


def test_dismissal_and_ordered_resignation_end_the_post(registry) -> None:
    rpc, _ = registry
    unit = rpc.register_unit(command(name="某县"))["unit_id"]
    first, second = new_cadre(rpc, unit), new_cadre(rpc, unit, name="赵强")
    rpc.dismiss(command(cadre_id=first, effective_date="2026-03-01", reason="为官不为"))
    rpc.order_resignation(command(cadre_id=second, effective_date="2026-03-02", reason="失职"))
    assert rpc.get_cadre({"cadre_id": first})["status"]["code"] == "dismissed"
    assert rpc.get_cadre({"cadre_id": second})["status"]["code"] == "resigned"
    assert rpc.list_cadres({"unit_id": unit})["total"] == 0
    with pytest.raises(RemoteError) as error:
        rpc.transfer(command(cadre_id=first, unit_id=unit, post="x", effective_date="2026-04-01"))
    assert error.value.exc_type == "RuleViolation"
    assert error.value.value.startswith("registry.cadre_not_serving")


def test_responsibilities_have_one_owner_each(registry) -> None:
    rpc, _ = registry
    county = rpc.register_unit(command(name="红塔区"))["unit_id"]
    first, second = new_cadre(rpc, county), new_cadre(rpc, county, name="陈刚")
    leader = new_cadre(rpc, county, rank="city_level", name="市领导")

    task = rpc.assign_responsibility(
        command(
            kind="liaison_task", title="联系大营街镇", owner_id=first, effective_date="2026-02-01"
        )
    )["task_id"]
    share = rpc.assign_responsibility(
        command(kind="key_work_share", title="七位一体重点工作：项目建设", owner_id=leader,
                effective_date="2026-02-01")
    )["task_id"]  # fmt: skip
    assert [t["task_id"] for t in rpc.responsibilities_of({"cadre_id": leader})["tasks"]] == [share]

    rpc.assign_responsibility(command(task_id=task, owner_id=second, effective_date="2026-03-01"))
    owner = rpc.owner_of({"task_id": task})
    assert owner["owner"]["cadre_id"] == second
    assert [o["owner_id"] for o in owner["owners"]] == [first, second]
    assert rpc.responsibilities_of({"cadre_id": first})["tasks"] == []

    with pytest.raises(RemoteError) as error:
        rpc.assign_responsibility(
            command(kind="key_work_share", title="x", owner_id=first, effective_date="2026-02-01")
        )
    assert (
        error.value.exc_type == "RuleViolation" and "registry.task_owner_rank" in error.value.value
    )


def test_list_cadres_pages(registry) -> None:
    rpc, _ = registry
    unit = rpc.register_unit(command(name="市场监管局"))["unit_id"]
    cadres = [new_cadre(rpc, unit, name=f"干部{n}") for n in range(5)]
    pages = [rpc.list_cadres({"unit_id": unit, "page": p, "page_size": 2}) for p in (1, 2, 3)]
    assert [[c["cadre_id"] for c in page["cadres"]] for page in pages] == [
        cadres[0:2], cadres[2:4], cadres[4:5],
    ]  # fmt: skip
    assert all(page["total"] == 5 for page in pages)


def test_a_retried_command_returns_the_first_result_and_records_nothing(registry) -> None:
    rpc, database = registry
    register = command(name="市教育局")
    first = rpc.register_unit(register)
    stored = database[LOG].count_documents({})
    assert rpc.register_unit(register) == first
    assert database[LOG].count_documents({}) == stored

    with pytest.raises(RemoteError) as error:
        rpc.register_unit({**register, "name": "another name"})
    assert error.value.exc_type == "Conflict"
    assert database[LOG].count_documents({}) == stored


def test_bad_input_is_refused_naming_the_field_and_changes_nothing(registry) -> None:
    rpc, database = registry
    unit = rpc.register_unit(command(name="市卫健委"))["unit_id"]
    stored = database[LOG].count_documents({})
    cases = {
        "gender": {"gender": "other"},
        "rank": {"rank": "emperor"},
        "birth_date": {"birth_date": "1978-13-40"},
        "name": {"name": "很" * 101},
        "unit_id": {"unit_id": "8a5e0000-0000-4000-8000-000000000000"},
        "colour": {"colour": "red"},
    }
    for field, change in cases.items():
        payload = command(
            name="王芳", gender="female", birth_date="1978-09-12", unit_id=unit, post="局长",
            rank="county_division", post_kind="leadership", effective_date="2026-01-05",
        )  # fmt: skip
        with pytest.raises(RemoteError) as error:
            rpc.register_cadre({**payload, **change})
        assert field in invalid_fields(error.value), (field, error.value.value)
    with pytest.raises(RemoteError) as error:
        rpc.register_cadre({"command_id": "not-a-uuid"})
    assert {"command_id", "actor", "name"} <= set(invalid_fields(error.value))
    with pytest.raises(RemoteError) as error:
        rpc.get_cadre({"cadre_id": "8a5e0000-0000-4000-8000-000000000000"})
    assert error.value.exc_type == "NotFound"
    with pytest.raises(RemoteError) as error:
        rpc.get_unit({"unit_id": "8a5e0000-0000-4000-8000-000000000000"})
    assert error.value.exc_type == "NotFound"
    assert database[LOG].count_documents({}) == stored


def test_concurrent_appointments_leave_a_consistent_history(registry) -> None:
    rpc, database = registry
    unit = rpc.register_unit(command(name="市住建局"))["unit_id"]
    cadre = new_cadre(rpc, unit)
    calls = [
        rpc.appoint.call_async(
            command(
                cadre_id=cadre,
                unit_id=unit,
                post=f"职务{n}",
                rank="county_division",
                post_kind="leadership",
                effective_date="2026-02-01",
            )
        )
        for n in range(20)
    ]
    succeeded, conflicts = [], 0
    for call in calls:
        try:
            succeeded.append(call.result())
        except RemoteError as error:
            assert error.exc_type == "Conflict", error
            conflicts += 1
    assert len(succeeded) + conflicts == 20 and succeeded
    print(f"20 concurrent appointments: {len(succeeded)} succeeded, {conflicts} told Conflict")
    view = rpc.get_cadre({"cadre_id": cadre})
    appointed = [h for h in view["history"] if h["change"]["code"] == "appointed"]
    assert len(appointed) == len(succeeded)
    assert sorted(r["version"] for r in succeeded) == list(range(2, 2 + len(succeeded)))
    assert len({h["post"] for h in appointed}) == len(appointed)
    assert verify_log(database, LOG).ok
