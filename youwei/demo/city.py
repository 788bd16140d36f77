"""The city and its people: units, cadres and their posts, the city-level leaders' shares of
the key work and everyone's liaison task, then the year's ordinary personnel moves."""

from __future__ import annotations

from datetime import date

from .data import (
    BUREAUS,
    CITY,
    COUNTIES,
    KEY_WORK,
    LEADERS,
    LIAISON_SUBJECTS,
    OTHER_UNITS,
    PARTY_UNITS,
    TOP_UNITS,
    TOWNSHIPS,
    VILLAGES,
)
from .script import Cadre, Script, Unit, between, chinese_name, on
from .steps import YEAR, Ref

CITY_LEADERS = len(LEADERS)  # 46
COUNTY_CADRES = 628
SECTION_CADRES = 96


def build_city(plan: Script) -> None:
    scaled = plan.scale
    city = plan.unit("unit/city", CITY, "city", None)
    plan.top = {code: plan.unit(f"unit/{code}", name, "top", city)
                for code, (name, _) in TOP_UNITS.items()}  # fmt: skip
    party_codes = list(PARTY_UNITS)[: max(1, round(len(PARTY_UNITS) * scaled))]
    plan.party = {code: plan.unit(f"unit/{code}", PARTY_UNITS[code][0], "party",
                                  plan.top["市委"])
                  for code in party_codes}  # fmt: skip
    plan.bureaus = []
    for n, (name, _, deputy, _) in enumerate(BUREAUS[: max(2, round(31 * scaled))]):
        plan.bureaus.append(plan.unit(f"unit/bureau{n}", name, "bureau", plan.top["市政府"],
                                      deputy_title=deputy))  # fmt: skip
    plan.others = {}
    for code, name, _ in OTHER_UNITS[: max(1, round(len(OTHER_UNITS) * scaled))]:
        plan.others[code] = plan.unit(f"unit/{code}", name, "other", plan.top["市政府"])
    plan.counties = []
    for n, county in enumerate(COUNTIES[: max(1, round(9 * scaled))]):
        root = plan.unit(f"unit/county{n}", county, "county", city, county=county)
        district = county.endswith("区")
        bodies = {
            "委": plan.unit(f"unit/county{n}/party", f"中共{county}委员会", "county_body",
                           root, county=county),
            "政府": plan.unit(f"unit/county{n}/gov", f"{county}人民政府", "county_body",
                              root, county=county, deputy_title=f"副{county[-1]}长"),
            "人大": plan.unit(f"unit/county{n}/npc", f"{county}人大常委会", "county_body",
                              root, county=county),
            "政协": plan.unit(f"unit/county{n}/cppcc", f"政协{county}委员会", "county_body",
                              root, county=county),
            "法院": plan.unit(f"unit/county{n}/court", f"{county}人民法院", "county_body",
                              root, county=county),
            "检察院": plan.unit(f"unit/county{n}/procuratorate", f"{county}人民检察院",
                                "county_body", root, county=county),
        }  # fmt: skip
        townships = plan.rng.sample(TOWNSHIPS, 5)
        kept = townships[: 3 if scaled >= 0.5 else 2]
        towns = [plan.unit(f"unit/county{n}/town{t}", f"{county}{name}", "township", root,
                           county=county)
                 for t, name in enumerate(kept)]  # fmt: skip
        plan.counties.append({"root": root, "bodies": bodies, "towns": towns,
                              "townships": townships, "district": district})  # fmt: skip
    for unit in plan.units:
        fields = {"name": unit.name}
        if unit.parent is not None:
            fields["parent_id"] = Ref(unit.parent.key, "unit_id")
        plan.add(unit.key, "cadre_registry", "register_unit", "中共云岭市委组织部", **fields)


def county_posts(plan: Script) -> list[tuple[Unit, str, str, int]]:
    """Every county-level post of the units kept: (unit, post, post kind, tier)."""
    posts: list[tuple[Unit, str, str, int]] = []

    def listed(unit: Unit, titles: list[str]) -> None:
        for n, title in enumerate(titles):
            posts.append((unit, title, "leadership", min(n, 2)))

    for code, (_, titles) in TOP_UNITS.items():
        listed(plan.top[code], titles)
    for code, unit in plan.party.items():
        listed(unit, PARTY_UNITS[code][1])
    for unit, (_, head, deputy, _) in zip(plan.bureaus, BUREAUS, strict=False):
        listed(
            unit,
            [
                f"党组书记、{head}",
                f"党组成员、{deputy}",
                deputy,
                deputy,
                deputy,
                "党组成员、总工程师",
            ],
        )
        posts += [(unit, "二级调研员", "non_leadership", 3),
                  (unit, "三级调研员", "non_leadership", 3)]  # fmt: skip
    for code, unit in plan.others.items():
        listed(unit, next(p for c, _, p in OTHER_UNITS if c == code))
    for county in plan.counties:
        bodies, head = county["bodies"], "区" if county["district"] else "县"
        party = f"{head}委"
        listed(bodies["委"], [f"{party}书记", f"{party}副书记",
                             f"{party}常委、纪委书记、监委主任",
                             f"{party}常委、组织部部长", f"{party}常委、宣传部部长",
                             f"{party}常委、政法委书记", f"{party}常委、统战部部长",
                             f"{party}常委、{party}办公室主任"])  # fmt: skip
        listed(bodies["政府"], [f"{party}副书记、{head}长", f"{party}常委、常务副{head}长",
                               *[f"副{head}长"] * 6])  # fmt: skip
        listed(bodies["人大"], [f"{head}人大常委会主任", *[f"{head}人大常委会副主任"] * 3])
        listed(bodies["政协"], [f"{head}政协主席", *[f"{head}政协副主席"] * 3])
        listed(bodies["法院"], ["院长", "副院长"])
        listed(bodies["检察院"], ["检察长"])
        posts += [(bodies["委"], "二级调研员", "non_leadership", 3),
                  (bodies["政府"], "三级调研员", "non_leadership", 3)]  # fmt: skip
    return posts


def section_posts(plan: Script) -> list[tuple[Unit, str, str, str, int]]:
    """Section-level posts and staff: (unit, post, rank, post kind, tier)."""
    posts = []
    for unit, (_, _, _, sections) in zip(plan.bureaus, BUREAUS, strict=False):
        posts += [(unit, title, "township_section", "leadership", 0 if n == 0 else 1)
                  for n, title in enumerate(sections)]  # fmt: skip
        posts.append((unit, "窗口工作人员", "staff", "non_leadership", 2))
    for county in plan.counties:
        for town in county["towns"]:
            head = (
                "镇长"
                if town.name.endswith("镇")
                else ("乡长" if town.name.endswith("乡") else "办事处主任")
            )
            posts += [(town, "党委书记" if not town.name.endswith("街道") else "党工委书记",
                       "township_section", "leadership", 0),
                      (town, head, "township_section", "leadership", 0),
                      (town, "党委副书记", "township_section", "leadership", 1),
                      (town, "便民服务中心主任", "township_section", "leadership", 1),
                      (town, "便民服务中心工作人员", "staff", "non_leadership", 2)]  # fmt: skip
    return posts


def register(plan: Script, unit: Unit, post: str, rank: str, post_kind: str, tier: int) -> Cadre:
    rng = plan.rng
    female_share = {"city_level": 0.2, "county_division": 0.3}.get(rank, 0.45)
    gender = "female" if rng.random() < female_share else "male"
    born = {"city_level": (1963, 1974), "county_division": (1965, 1988),
            "township_section": (1975, 1993), "staff": (1986, 2001)}[rank]  # fmt: skip
    cadre = Cadre(f"cadre/{len(plan.cadres) + 1:04d}", chinese_name(rng, gender, plan.names),
                  unit, post, rank, post_kind, tier, gender=gender,
                  birth=between(rng, date(born[0], 1, 1), date(born[1], 12, 31)),
                  since=between(rng, date(2019 if rank != "city_level" else 2021, 1, 1),
                                date(YEAR - 1, 12, 31)))  # fmt: skip
    plan.cadres.append(cadre)
    unit.cadres.append(cadre)
    plan.add(cadre.key, "cadre_registry", "register_cadre", "中共云岭市委组织部",
             name=cadre.name, gender=gender, birth_date=cadre.birth,
             unit_id=Ref(unit.key, "unit_id"), post=post, rank=rank, post_kind=post_kind,
             effective_date=cadre.since)  # fmt: skip
    return cadre


def build_cadres(plan: Script) -> None:
    units = {**plan.top, **plan.party, **plan.others}
    for code, post, post_kind in LEADERS[: plan.scaled(CITY_LEADERS, 3)]:
        unit = units.get(code) or plan.top["市委"]
        register(plan, unit, post, "city_level", post_kind, 0)
    posts = county_posts(plan)
    order = {unit: n for n, unit in enumerate(dict.fromkeys(u for u, *_ in posts))}
    posts.sort(key=lambda p: (p[3], order[p[0]]))
    wanted = plan.scaled(COUNTY_CADRES, 8)
    chosen = posts[:wanted]
    padding = [u for u in order if u.group in ("bureau", "county_body")] or list(order)
    for n in range(wanted - len(chosen)):  # the kept units have fewer posts than wanted
        chosen.append((padding[n % len(padding)], "四级调研员", "non_leadership", 3))
    chosen.sort(key=lambda p: (order[p[0]], p[3]))
    for unit, post, post_kind, tier in chosen:
        register(plan, unit, post, "county_division", post_kind, tier)
    sections = sorted(section_posts(plan), key=lambda p: p[4])
    wanted = plan.scaled(SECTION_CADRES, 4)
    staff = [p for p in sections if p[2] == "staff"][: wanted // 5]
    chosen = [p for p in sections if p[2] != "staff"][: wanted - len(staff)] + staff
    for unit, post, rank, post_kind, tier in chosen:
        register(plan, unit, post, rank, post_kind, tier)


def assign_tasks(plan: Script) -> None:
    rng = plan.rng
    leaders = [c for c in plan.cadres if c.rank == "city_level"]
    shares = [f"{area}：{item}" for area, items in KEY_WORK.items() for item in items]
    rng.shuffle(shares)
    roles = ("牵头", "协调推进", "督促落实")
    pool = iter(f"{share}（{role}）" for role in roles for share in shares)
    for n, leader in enumerate(leaders):
        count = 3 if n < 14 else (2 if leader.post in ("副市长", "市政府党组成员") else 1)
        for k in range(count):
            title = next(pool)
            key = plan.add(f"task/keywork/{leader.key}/{k}", "cadre_registry",
                           "assign_responsibility", "中共云岭市委、云岭市人民政府",
                           kind="key_work_share", title=title,
                           owner_id=Ref(leader.key, "cadre_id"),
                           effective_date=on(1, 8))  # fmt: skip
            leader.key_work.append(key)
    for cadre in plan.cadres:
        if cadre.rank == "county_division":
            liaison_task(plan, cadre, on(1, 15))


def liaison_task(plan: Script, cadre: Cadre, day: date, after: tuple = ()) -> None:
    rng = plan.rng
    county = rng.choice(plan.counties)
    if rng.random() < 0.55:
        title = (f"挂钩联系{county['root'].name}{rng.choice(county['townships'])}"
                 f"{rng.choice(VILLAGES)}村乡村振兴工作")  # fmt: skip
    else:
        title = f"联系服务{county['root'].name}{rng.choice(LIAISON_SUBJECTS)}"
    cadre.task = plan.add(f"task/liaison/{cadre.key}/{day}", "cadre_registry",
                          "assign_responsibility", "中共云岭市委组织部", after=after,
                          kind="liaison_task", title=title,
                          owner_id=Ref(cadre.key, "cadre_id"),
                          effective_date=day)  # fmt: skip


def personnel_moves(plan: Script) -> None:
    """Ordinary moves of the year: exchanges of posts between departments, and a
    vice-mayor elected to the people's congress, whose key work passes on."""
    rng = plan.rng
    deputies = [c for c in plan.cadres if c.rank == "county_division"
                and c.unit.group == "bureau" and c.tier == 2]  # fmt: skip
    for n, cadre in enumerate(rng.sample(deputies, min(len(deputies),
                                                       plan.scaled(6, 1)))):  # fmt: skip
        target = rng.choice([b for b in plan.bureaus if b is not cadre.unit])
        cadre.roles.add("moved")
        plan.add(f"move/{cadre.key}", "cadre_registry", "transfer", "中共云岭市委组织部",
                 cadre_id=Ref(cadre.key, "cadre_id"), unit_id=Ref(target.key, "unit_id"),
                 post=target.deputy_title, effective_date=on(3 + n % 6, 1))  # fmt: skip
    vice_mayors = [c for c in plan.cadres if c.post == "副市长"]
    if len(vice_mayors) >= 2 and "市人大" in plan.top:
        leaving, taking = vice_mayors[-1], vice_mayors[0]
        leaving.roles.add("moved")
        plan.add(f"move/{leaving.key}", "cadre_registry", "transfer", "中共云岭市委组织部",
                 cadre_id=Ref(leaving.key, "cadre_id"),
                 unit_id=Ref(plan.top["市人大"].key, "unit_id"),
                 post="市人大常委会副主任", effective_date=on(6, 30))  # fmt: skip
        for task in leaving.key_work:
            plan.add(f"{task}/handover", "cadre_registry", "assign_responsibility",
                     "中共云岭市委、云岭市人民政府", task_id=Ref(task, "task_id"),
                     owner_id=Ref(taking.key, "cadre_id"),
                     effective_date=on(6, 30))  # fmt: skip
        plan.facts["key_work_handed_over"] = len(leaving.key_work)
