"""Ratings through the five channels: one rating step (alone or in an agency's bulk), the
raters' references, the everyday ratings of the year, and the ratings that make a grade by
the current assessment rules."""

from __future__ import annotations

from typing import Any

from schemas.evaluations.reference import ASSESSMENT_RULES, CURRENT_RULES, GRADE_ORDER, score

from .script import Cadre, Script
from .steps import YEAR, Ref

EVERYDAY_BULK = 100  # everyday ratings an agency sends in one submit_ratings


def rating(
    plan: Script,
    cadre: Cadre,
    channel: str,
    period: str,
    value: Any,
    rater: str,
    bulk: str | None = None,
) -> str:
    """A rating step; with ``bulk``, sent in one ``submit_ratings`` with the other
    ratings of that key (those of one agency), which orders them itself."""
    agency = {"democratic_appraisal": "中共云岭市委组织部 民主评议",
              "phone_spot_check": "云岭市12345政务服务便民热线",
              "questionnaire": "云岭市社情民意调查中心",
              "online_satisfaction": "云岭市网上政务服务满意度测评平台",
              "service_window": "云岭市政务服务中心 窗口评价器"}[channel]  # fmt: skip
    n = plan.ratings_of[cadre.key] = plan.ratings_of.get(cadre.key, 0) + 1
    # ratings of one cadre in one month change one record: one at a time, or in one bulk
    lane = None if bulk else f"ratings/{cadre.key}/{period}"
    key = plan.add(f"rating/{cadre.key}/{n:03d}", "evaluations", "submit_rating", agency,
                   lane=lane, cadre_id=Ref(cadre.key, "cadre_id"),
                   channel=channel, period=period, value=value, rater_ref=rater)  # fmt: skip
    if bulk:
        plan.index[key].bulk = f"bulk/{agency}/{bulk}"
    return key


def everyday_bulk(plan: Script, channel: str) -> str:
    """The bulk of the channel's agency that everyday ratings go into: one of up to
    ``EVERYDAY_BULK`` ratings, then the next."""
    n = plan.bulk_sizes[channel] = plan.bulk_sizes.get(channel, 0) + 1
    return f"everyday/{(n - 1) // EVERYDAY_BULK:03d}"


def rater_ref(plan: Script, channel: str) -> str:
    """The channel's own reference for a rater: a different one each time."""
    n = next(plan.counter)
    return {
        "democratic_appraisal": f"民主测评票 {YEAR}-{n:06d}",
        "phone_spot_check": f"1{'3589'[n % 4]}{n % 10}{n * 7919 % 10**8:08d}",
        "questionnaire": f"WJ{YEAR}{n:07d}",
        "online_satisfaction": f"WEB-{n * 2654435761 % 2**32:08x}",
        "service_window": f"CK-{'ABCDEFGH'[n % 8]}{n:06d}",
    }[channel]  # fmt: skip


def public_value(plan: Script, channel: str, level: float) -> Any:
    """A public rating around ``level`` (0 poor … 1 excellent)."""
    x = min(1.0, max(0.0, plan.rng.gauss(level, 0.12)))
    if channel == "phone_spot_check":
        return "satisfied" if x > 0.75 else ("basically_satisfied" if x > 0.35 else
                                             "dissatisfied")  # fmt: skip
    if channel == "service_window":
        return "very_satisfied" if x > 0.85 else ("satisfied" if x > 0.35 else "dissatisfied")
    if channel == "online_satisfaction":
        return 1 + round(x * 4)
    return round(x * 100)


def everyday_ratings(plan: Script) -> None:
    """A few ratings of every cadre through the channels, over the year."""
    rng = plan.rng
    public = ["phone_spot_check", "questionnaire", "online_satisfaction", "service_window"]
    for cadre in plan.cadres:
        if "assessed" in cadre.roles:
            continue
        level = rng.uniform(0.55, 0.95)
        repeat = None
        for _ in range(rng.randint(1, 3) if cadre.rank != "city_level" else 1):
            channel = rng.choice(public if cadre.rank != "city_level"
                                 else ["online_satisfaction", "questionnaire"])  # fmt: skip
            period = f"{YEAR}-{rng.randint(1, 11):02d}"
            rater = rater_ref(plan, channel)
            rating(plan, cadre, channel, period, public_value(plan, channel, level), rater,
                   everyday_bulk(plan, channel))  # fmt: skip
            repeat = (channel, period, rater)
        if repeat and rng.random() < 0.05:  # the same rater again: recorded, counted once
            channel, period, rater = repeat
            rating(plan, cadre, channel, period, public_value(plan, channel, level), rater,
                   everyday_bulk(plan, channel))  # fmt: skip
            plan.facts["repeated_ratings"].append(cadre.key)


def grade_ratings(plan: Script, target: str) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Ballots and public ratings for a year graded ``target`` (rules CURRENT_RULES)."""
    rng = plan.rng
    public = ["phone_spot_check", "questionnaire", "online_satisfaction", "service_window"]
    official_mix = {
        "excellent": (["excellent"] * 8 + ["competent"] * 2, 0.93),
        "competent": (["excellent"] * 2 + ["competent"] * 7 + ["basically_competent"], 0.75),
        "basically_competent": (["competent"] * 4 + ["basically_competent"] * 6, 0.55),
        "incompetent": (["incompetent"] * 5 + ["basically_competent"] * 4 + ["competent"],
                        0.3),
    }[target]  # fmt: skip
    for _ in range(500):
        ballots = [("democratic_appraisal", rng.choice(official_mix[0]))
                   for _ in range(rng.randint(5, 6))]  # fmt: skip
        ratings = []
        for _ in range(rng.randint(20, 22)):
            channel = rng.choice(public)
            ratings.append((channel, public_value(plan, channel, official_mix[1])))
        if grade_of(ballots + ratings) == target:
            return ballots, ratings
    msg = f"no ratings found for the grade {target}"  # pragma: no cover
    raise AssertionError(msg)


def grade_of(ratings: list[tuple[str, Any]], measures: tuple[str, ...] = ()) -> str:
    """The grade a year of counted ratings gets by the current assessment rules, as the
    evaluations service computes it (docs/rpc.md): the demo plans its grades with it."""
    rules = ASSESSMENT_RULES[CURRENT_RULES]
    official = [score(c, v) for c, v in ratings if c == "democratic_appraisal"]
    public = [score(c, v) for c, v in ratings if c != "democratic_appraisal"]
    means = {"official": sum(official) / len(official), "public": sum(public) / len(public)}
    final = sum(weight * means[source] for source, weight in rules["weights"].items())
    grade = next((g for g, lowest in rules["thresholds"].items() if final >= lowest),
                 "incompetent")  # fmt: skip
    for veto in rules["vetoes"]:
        votes = [v for c, v in ratings if c == veto["channel"]]
        share = sum(v == veto["value"] for v in votes) / len(votes)
        if share >= veto["share_at_least"] and GRADE_ORDER.index(
            veto["grade_at_most"]
        ) > GRADE_ORDER.index(grade):
            grade = veto["grade_at_most"]
    for veto in rules.get("measure_vetoes", []):
        if set(measures) & set(veto["measures"]) and GRADE_ORDER.index(
            veto["grade_at_most"]
        ) > GRADE_ORDER.index(grade):
            grade = veto["grade_at_most"]
    return grade
