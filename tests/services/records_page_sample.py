"""Sample published records for the tests of the public page (``services.records.page``),
and a plain in-memory query over them that answers the way the records service will:
``page_for(query)`` takes a query string's parameters and gives ``render_page``'s four
arguments. Labels come from the catalogues (``schemas.*.reference``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from schemas.accountability.reference import (
    ACCOUNTABILITY_FORMS,
    DECISION_TYPES,
    HANDLINGS,
    MEASURES,
)
from schemas.inspections.reference import CATEGORIES, SITUATIONS

SCRIPT_NAME = "<script>alert('x')</script>王五"
SCRIPT_UNIT = '"><img src=x onerror=alert(1)>县水务局'


def label(table: dict, code: str | None) -> dict | None:
    if code is None:
        return None
    zh, en = table[code][:2]
    return {"code": code, "zh": zh, "en": en}


def record(number: int, name: str | None, unit: str | None, post: str | None,
           situation: str | None, decision_type: str, decision: str, decided_on: str,
           form: str | None = None, **extra: Any) -> dict:  # fmt: skip
    category = SITUATIONS[situation][2] if situation else None
    decisions = MEASURES if decision_type == "measure" else HANDLINGS
    # the published text; withheld (None) with the name of an erased cadre
    summary = f"对{unit}{post}{name}同志予以{decisions[decision][0]}" if name else None
    return {
        "record_id": f"r-{number:03d}",
        "published_on": decided_on[:8] + "28",
        "cadre_name": name,
        "unit": unit,
        "post": post,
        "category": label(CATEGORIES, category),
        "situation": label(SITUATIONS, situation),
        "decision_type": label(DECISION_TYPES, decision_type),
        "decision": label(decisions, decision),
        "form": label(ACCOUNTABILITY_FORMS, form),
        "decided_on": decided_on,
        "summary": summary,
        **extra,
    }


RECORDS = [
    record(1, "张三", "玉溪市红塔区住建局", "副局长", "procrastination", "measure", "talk",
           "2026-01-12"),
    record(2, "李四", "玉溪市江川区农业农村局", "科长", "ignores_orders", "measure",
           "admonishment", "2026-01-20"),
    record(3, SCRIPT_NAME, SCRIPT_UNIT, "股长", "passive_go_slow", "measure", "accountability",
           "2026-02-03", form="circulated_criticism"),
    record(4, "赵六", "澄江市市场监管局", "局长", "divided_leadership", "handling", "dismissal",
           "2026-02-17"),
    record(5, "钱七", "通海县政务服务中心", "窗口负责人", "absent_from_post", "handling",
           "post_adjustment", "2026-02-25"),
    record(6, "孙八", "华宁县教育体育局", "副局长", "talk_no_action", "measure",
           "written_inquiry", "2026-03-02"),
    record(7, None, "易门县林草局", None, "no_drive", "measure", "talk", "2026-03-09"),
    record(8, "周九", "峨山县交通运输局", "办公室主任", "extravagance", "handling", "demotion",
           "2026-03-16", reporter_name="举报人 甲", reporter_phone="13800000000",
           internal_note="内部 private note"),
    record(9, "吴十", "新平县自然资源局", "副局长", "weak_implementation", "measure",
           "admonishment", "2026-03-23"),
    record(10, "郑十一", "元江县卫生健康局", "科员", "merely_reacts", "measure", "talk",
           "2026-03-30"),
]  # fmt: skip

PRIVATE = ("举报人 甲", "13800000000", "内部 private note")


def options() -> dict:
    categories = [label(CATEGORIES, code) for code in CATEGORIES]
    decisions = [label(MEASURES, code) for code in MEASURES]
    decisions += [label(HANDLINGS, code) for code in HANDLINGS]
    months = sorted({r["decided_on"][:7] for r in RECORDS})
    return {"categories": categories, "decisions": decisions, "months": months}


def filters_from(query: dict[str, str]) -> dict:
    def text(key: str) -> str | None:
        return (query.get(key) or "").strip() or None

    return {
        "q": text("q"),
        "category": text("category"),
        "decision": text("decision"),
        "month": text("month"),
        "page": max(1, int(query.get("page") or 1)),
        "page_size": max(1, int(query.get("page_size") or 20)),
    }


def matching(records: list[dict], filters: dict) -> list[dict]:
    def keep(r: dict) -> bool:
        q = filters.get("q")
        if q and not any(q in (r[key] or "") for key in ("cadre_name", "unit", "post")):
            return False
        if filters.get("category") and (r["category"] or {}).get("code") != filters["category"]:
            return False
        if filters.get("decision") and r["decision"]["code"] != filters["decision"]:
            return False
        return not (filters.get("month") and not r["decided_on"].startswith(filters["month"]))

    return [r for r in records if keep(r)]


def charts_of(found: list[dict]) -> dict:
    """Counts by category and by decision (in catalogue order) and by month."""
    order = [*CATEGORIES, *MEASURES, *HANDLINGS]

    def counted(key: str) -> list[dict]:
        counts = Counter(r[key]["code"] for r in found if r[key])
        labels = {r[key]["code"]: r[key] for r in found if r[key]}
        return [{**labels[code], "count": counts[code]} for code in order if code in counts]

    months = Counter(r["decided_on"][:7] for r in found)
    return {
        "by_category": counted("category"),
        "by_decision": counted("decision"),
        "by_month": [{"month": m, "count": n} for m, n in sorted(months.items())],
    }


def page_for(query: dict[str, str], records: list[dict] = RECORDS) -> tuple[dict, ...]:
    """``render_page``'s arguments for a query: (answer, charts, filters, options)."""
    filters = filters_from(query)
    found = sorted(matching(records, filters), key=lambda r: r["decided_on"], reverse=True)
    start = (filters["page"] - 1) * filters["page_size"]
    answer = {
        "total": len(found),
        "page": filters["page"],
        "page_size": filters["page_size"],
        "records": found[start : start + filters["page_size"]],
    }
    return answer, charts_of(found), filters, options()
