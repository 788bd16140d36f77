"""Tolerance for reform (容错免责) in ``test_refusals``: the small city's exempted case, with
the major decision that started its reform effort; and a refusal for each condition of the
exemption rules (issue 27 item 6), sent on a second case of the effort that no exemption
has reached (the first refuses every later one as ``accountability.one_exemption``)."""

from __future__ import annotations

from collections.abc import Callable

STATED = {
    "no_personal_gain": {"holds": True, "basis": "经查未谋取私利"},
    "no_prohibition_broken": {"holds": True, "basis": "未违反明令禁止的规定"},
}
FOLLOWED = [
    {"step": "risk_assessment", "done_on": "2025-12-20"},
    {"step": "legality_review", "done_on": "2025-12-24"},
    {"step": "collective_deliberation", "done_on": "2025-12-28"},
]


def send_exemption(c, ids: dict[str, str]) -> None:
    acc, insp, report = "accountability", "inspections", [{"kind": "report", "reference": "举报"}]

    def decision(**fields) -> str:
        fields = {"decided_on": "2025-12-30", "procedure": FOLLOWED,
                  "reform_effort_ids": [ids["effort"]], "task_ids": [], **fields}  # fmt: skip
        return c.send("org", insp, "record_major_decision", title="关于审批改革的决定",
                      record=False, **fields)["decision_id"]  # fmt: skip

    ids["reform_decision"] = decision()
    ids["skipped_decision"] = decision(procedure=FOLLOWED[2:])
    ids["unrelated_decision"] = decision(reform_effort_ids=[])
    ids["late_decision"] = decision(decided_on="2026-03-02")
    for case in ("case3", "case4"):
        ids[case] = c.send("commission", acc, "open_case", cadre_id=ids["p3"], basis=report,
                           summary="试错", occurred_on="2026-03-01", opened_on="2026-03-05",
                           record=False)["case_id"]  # fmt: skip
    c.send("commission", acc, "grant_exemption", case_id=ids["case3"],
           reform_effort_id=ids["effort"], outcome="exempted", reasons="改革探索",
           granted_on="2026-03-06", decision_id=ids["reform_decision"], **STATED)  # fmt: skip


#: Method → each (fields breaking a condition, the rule that names it) beside ``RULES``.
MORE_RULES: dict[str, Callable[[dict], list[tuple[dict, str]]]] = {
    "grant_exemption": lambda i: [
        ({"case_id": i["case4"], "decision_id": None},
         "accountability.exemption_decision_started_effort"),
        ({"case_id": i["case4"], "decision_id": i["unrelated_decision"]},
         "accountability.exemption_decision_started_effort"),
        ({"case_id": i["case4"], "decision_id": i["late_decision"]},
         "accountability.exemption_decision_before_mistake"),
        ({"case_id": i["case4"], "decision_id": i["skipped_decision"]},
         "accountability.exemption_procedure_followed"),
        ({"case_id": i["case4"], "no_personal_gain": None},
         "accountability.exemption_no_personal_gain"),
        ({"case_id": i["case4"], "no_prohibition_broken": {"holds": False, "basis": "违规"}},
         "accountability.exemption_no_prohibition_broken"),
    ],
}  # fmt: skip
