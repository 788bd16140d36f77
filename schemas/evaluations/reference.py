"""The evaluations service's codes and scales, each with its official Chinese label.

Events store codes and raw values; a score is derived by the channel's scale, and each
assessment records the rules version it used. Codes keep their meaning forever; a later
catalogue or rules version adds, never redefines.
"""

from __future__ import annotations

from datetime import date

CATALOGUE_VERSION = "2026.1"

#: Channel → (label zh, label en, official or public evaluation).
CHANNELS = {
    "democratic_appraisal": ("民主评议", "democratic appraisal", "official"),
    "phone_spot_check": ("电话抽查", "telephone spot check", "public"),
    "questionnaire": ("问卷调查", "questionnaire", "public"),
    "online_satisfaction": ("网络满意度测评", "online satisfaction survey", "public"),
    "service_window": ("窗口直评", "service-window rating", "public"),
}
SOURCES = {"official": ("官评", "official evaluation"), "public": ("民评", "public evaluation")}

#: Each channel's scale: the values a rating may carry, and the score (0-100) of each.
#: ``questionnaire`` is a score from 0 to 100; ``online_satisfaction`` 1 to 5 stars.
SCALES: dict[str, dict[str, tuple[str, str, int]]] = {
    "democratic_appraisal": {
        "excellent": ("优秀", "excellent", 100),
        "competent": ("称职", "competent", 80),
        "basically_competent": ("基本称职", "basically competent", 60),
        "incompetent": ("不称职", "incompetent", 0),
    },
    "phone_spot_check": {
        "satisfied": ("满意", "satisfied", 100),
        "basically_satisfied": ("基本满意", "basically satisfied", 60),
        "dissatisfied": ("不满意", "dissatisfied", 0),
    },
    "service_window": {
        "very_satisfied": ("非常满意", "very satisfied", 100),
        "satisfied": ("满意", "satisfied", 80),
        "dissatisfied": ("不满意", "dissatisfied", 0),
    },
}
NUMERIC_SCALES = {"questionnaire": (0, 100), "online_satisfaction": (1, 5)}


def score(channel: str, value: str | int) -> float:
    """A rating's value on the channel's scale, as a score from 0 to 100."""
    if channel in SCALES:
        return float(SCALES[channel][value][2])
    low, high = NUMERIC_SCALES[channel]
    return 100.0 * (int(value) - low) / (high - low)


GRADES = {
    "excellent": ("优秀", "excellent"),
    "competent": ("称职", "competent"),
    "basically_competent": ("基本称职", "basically competent"),
    "incompetent": ("不称职", "incompetent"),
}
GRADE_ORDER = list(GRADES)  # best first

#: Annual assessment rules, by version. An assessment records the version it used.
ASSESSMENT_RULES: dict[str, dict] = {
    "2026.1": {
        # The final score: official and public evaluation, weighted.
        "weights": {"official": 0.5, "public": 0.5},
        # The lowest final score for each grade, best first; below the last: incompetent.
        "thresholds": {"excellent": 90.0, "competent": 70.0, "basically_competent": 60.0},
        # The fewest counted ratings needed, per source, for an assessment at all.
        "minimum_ratings": {"official": 5, "public": 20},
        # Vetoes: a share of 不称职 votes in democratic appraisal caps the grade.
        "vetoes": [
            {
                "rule": "incompetent_votes_third",
                "channel": "democratic_appraisal",
                "value": "incompetent",
                "share_at_least": 1 / 3,
                "grade_at_most": "incompetent",
            },
            {
                "rule": "incompetent_votes_tenth",
                "channel": "democratic_appraisal",
                "value": "incompetent",
                "share_at_least": 0.1,
                "grade_at_most": "competent",
            },
        ],
    }
}
ASSESSMENT_RULES["2026.2"] = {
    **ASSESSMENT_RULES["2026.1"],
    # 公务员考核规定: a civil servant admonished (诫勉) or held to account (问责) in a year is
    # not graded excellent that year. Measures revoked on appeal do not count.
    "measure_vetoes": [
        {
            "rule": "sanctioned_in_year",
            "measures": ["admonishment", "accountability"],
            "grade_at_most": "competent",
        }
    ],
}
ASSESSMENT_RULES["2026.3"] = {
    **ASSESSMENT_RULES["2026.2"],
    # 公务员考核规定: the annual assessment is made at the end of the year or early in the
    # next; a year may be assessed from this day of that year (MM-DD) on, never before.
    # Versions before 2026.3 named no period: an assessment by them keeps this one.
    "assessment_opens": "12-01",
}
CURRENT_RULES = "2026.3"


def assessment_opens(year: int, version: str) -> date:
    """The first day ``year`` may be assessed by the rules of ``version``."""
    rules = ASSESSMENT_RULES[version]
    opens = rules.get("assessment_opens") or ASSESSMENT_RULES["2026.3"]["assessment_opens"]
    return date.fromisoformat(f"{year}-{opens}")
