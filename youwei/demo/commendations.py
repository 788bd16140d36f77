"""The year's commendations (``commend``) and the promotions some of them lead to
(``appoint``, with a new liaison task)."""

from __future__ import annotations

from datetime import timedelta

from .city import liaison_task
from .script import Script, on
from .steps import YEAR, Ref


def commendations(plan: Script) -> None:
    """Leaders commended for their key work at mid-year; cadres graded excellent at
    year end, and some section-level ones recommended for promotion and promoted."""
    rng = plan.rng
    cadres = {c.key: c for c in plan.cadres}
    excellent = [cadres[key] for key, year, grade in plan.facts["grades"]
                 if grade == "excellent" and year == YEAR]  # fmt: skip
    leaders = [c for c in plan.cadres if c.rank == "city_level" and c.key_work]
    rising = [c for c in excellent if c.rank == "township_section"][: plan.scaled(4, 1)]
    for n in range(plan.scaled(25, 2)):
        if (n % 3 == 0 and leaders) or not excellent:
            cadre = leaders[(n // 3) % len(leaders)]
            commend = plan.add(f"commend/{n:03d}", "accountability", "commend",
                               "中共云岭市委、云岭市人民政府", cadre_id=Ref(cadre.key, "cadre_id"),
                               kind="commendation",
                               reason=f"{cadre.name}同志牵头的重点工作推进有力、成效突出，"
                                      "予以通报表彰。", commended_on=on(7, 1))  # fmt: skip
            publish(
                plan, commend, f"{cadre.name}同志牵头重点工作成效突出，予以通报表彰。", on(7, 10)
            )
            continue
        cadre = rising.pop() if rising and n % 2 else excellent[n % len(excellent)]
        promote = cadre.rank == "township_section" and "promoted" not in cadre.roles
        kind = "promotion_recommendation" if promote else "commendation"
        reason = (f"{cadre.name}同志{YEAR}年度考核优秀，敬业有功，"
                  + ("建议提拔使用。" if promote else "予以嘉奖。"))  # fmt: skip
        commend = plan.add(f"commend/{n:03d}", "accountability", "commend",
                           "中共云岭市委组织部", cadre_id=Ref(cadre.key, "cadre_id"),
                           kind=kind, reason=reason,
                           commended_on=on(12, 28) - timedelta(days=rng.randint(0, 5)),
                           after=(f"assessment/{cadre.key}/{YEAR}",))  # fmt: skip
        publish(plan, commend, f"{cadre.name}同志{YEAR}年度考核优秀，敬业有功。", on(12, 31))
        if promote:
            cadre.roles.add("promoted")
            unit = cadre.unit if cadre.unit.group == "bureau" else rng.choice(plan.bureaus)
            appointed = plan.add(f"promote/{cadre.key}", "cadre_registry", "appoint",
                                 "中共云岭市委组织部", after=(commend,),
                                 cadre_id=Ref(cadre.key, "cadre_id"),
                                 unit_id=Ref(unit.key, "unit_id"), post=unit.deputy_title,
                                 rank="county_division", post_kind="leadership",
                                 effective_date=on(12, 31))  # fmt: skip
            plan.facts["promoted"].append(cadre.key)
            liaison_task(plan, cadre, on(12, 31), after=(appointed,))


def publish(plan: Script, commend: str, citation: str, day) -> None:
    """A commendation on the public honour roll (宣传先进事迹), with a citation for the
    public: never the commendation's private reason."""
    plan.add(f"{commend}/published", "accountability", "publish_commendation",
             "中共云岭市委组织部", commendation_id=Ref(commend, "commendation_id"),
             citation=citation, published_on=day)  # fmt: skip
