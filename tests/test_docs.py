"""docs/rpc.md's examples run as written, against the services' real entrypoints and
applications on SecantusDB (``n.rpc.<service>`` is the service's worker; no broker)."""

from __future__ import annotations

from tests.rpc_examples import documented_services, examples, run_example


def test_the_rpc_examples_run_as_documented(mongodb_uri) -> None:
    with documented_services(mongodb_uri) as (_, rpc, namespace):
        registry, evaluations, inspections = rpc.cadre_registry, rpc.evaluations, rpc.inspections
        accountability, records = rpc.accountability, rpc.records
        (registry_example, evaluations_example, inspections_example, chain_example,
         accountability_example, records_example) = examples()  # fmt: skip
        run_example(registry_example, namespace)
        last = registry.get_cadre({"cadre_id": namespace["cadre"]})["history"][-1]
        assert last["change"]["code"] == "dismissed"  # as the example's comment says
        run_example(evaluations_example, namespace)
        assessment = evaluations.get_assessment({"cadre_id": namespace["liaison"], "year": 2026})
        assert assessment["grade"]["zh"] == "称职" and assessment["rules_version"] == "2026.3"
        run_example(inspections_example, namespace)
        letter = inspections.get_rectification_letter({"letter_id": namespace["letter"]})
        assert letter["status"]["code"] == "accepted"
        found = inspections.list_findings({"unit_id": namespace["bureau"], "category": "muddling"})
        assert found["total"] == 1  # as the example's comment says
        run_example(chain_example, namespace)
        plan = inspections.get_task_plan({"task_id": namespace["task"]})
        assert (plan["targets"][0]["reached"], plan["milestones"][0]["met_on"]) == (
            490, "2026-04-25")  # fmt: skip
        assert plan["targets"][0]["target_value"] == 1200
        assert plan["reports"][0]["review"]["outcome"] == "disputed"
        run_example(accountability_example, namespace)
        case = accountability.get_case({"case_id": namespace["case"]})
        assert case["decisions"][0]["status"]["code"] == "revoked"
        assert case["publications"][0]["withdrawn_on"] == "2026-06-01"
        closed = accountability.list_cases({"cadre_id": namespace["liaison"], "status": "closed"})
        assert closed["total"] == 1
        listed = accountability.list_commendations({"cadre_id": namespace["liaison"]})
        assert listed["total"] == 1 and listed["commendations"][0]["published"]
        run_example(records_example, namespace)
        during = records.personnel_file({"cadre_id": namespace["liaison"], "as_of": "2026-05-25"})
        restriction = during["restrictions"][0]
        assert (restriction["rule"], restriction["ends"]) == ("admonishment", "2026-11-20")
        assert not during["eligible_for_promotion"]["eligible"]
        after = records.eligible_for_promotion(
            {"cadre_id": namespace["liaison"], "on": "2026-06-02"}
        )
        assert after["eligible"]
        assert records.public_records({"q": "陈刚"})["total"] == 0
        [honour] = records.honour_roll({"q": "陈刚"})["honours"]
        assert honour["kind"]["zh"] == "嘉奖" and "扎根窗口服务" in honour["citation"]
