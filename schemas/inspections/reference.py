"""The inspections service's codes, each with its official Chinese label (DOMAIN.md).

The 16 situations of inaction (为官不为) fall in four categories (庸懒散混); a finding is
classified by exactly one situation, and its category follows from it. Codes keep their
meaning forever; a later catalogue adds, never redefines.
"""

from __future__ import annotations

CATALOGUE_VERSION = "2026.1"

CATEGORIES = {
    "mediocrity": ("庸", "mediocrity: lack of drive and ability (怠政)"),
    "laziness": ("懒", "laziness: low efficiency, absent from duty"),
    "laxity": ("散", "laxity: loose thinking and discipline"),
    "muddling": ("混", "muddling: pleasure-seeking, superficial"),
}

#: Situation → (Chinese wording of the source, English, category).
SITUATIONS = {
    "no_drive": ("不思进取、安于现状", "no drive, content with the status quo", "mediocrity"),
    "thoughtless_copying": ("不动脑筋、照搬照抄", "thoughtless copying", "mediocrity"),
    "weak_implementation": (
        "落实不力、漏洞迭出",
        "weak implementation, repeated lapses",
        "mediocrity",
    ),
    "unfit_for_post": (
        "领导力或执行力差，不胜任岗位职责",
        "poor leadership or execution, unfit for the post",
        "mediocrity",
    ),
    "passive_go_slow": ("做事漫不经心，消极怠工", "careless, passive go-slow", "laziness"),
    "merely_reacts": (
        "对工作不重视、不研究，被动应付",
        "neglects work and merely reacts",
        "laziness",
    ),
    "procrastination": ("漫不经心，工作拖拉", "careless procrastination", "laziness"),
    "ignores_orders": ("有令不行、有禁不止", "ignores orders and bans", "laxity"),
    "divided_leadership": (
        "政治生活不正常，民主集中制执行不好，班子不团结",
        "abnormal political life, democratic centralism poorly applied, divided leadership team",
        "laxity",
    ),
    "passes_the_buck": (
        "守土不尽责，对工作推三阻四",
        "shirks responsibility, passes the buck",
        "laxity",
    ),
    "talk_no_action": ("动口不动手、务虚不务实", "talks, does not act", "muddling"),
    "no_initiative": (
        "缺乏创新、创造、发挥主观能动性的意识",
        "no initiative or innovation",
        "muddling",
    ),
    "superficial": ("作风飘浮，不切实际", "superficial, unrealistic", "muddling"),
    "careerism": ("投机钻营，只琢磨人不琢磨事", "careerism: courts people, not work", "muddling"),
    "extravagance": ("公款吃喝、奢侈浪费", "feasting on public funds, extravagance", "muddling"),
    "absent_from_post": (
        "在编不在岗，履职不到位",
        "on the payroll but not at the post",
        "muddling",
    ),
}

#: The "six types" of cadres singled out for rectification (六型).
CADRE_TYPES = {
    "lukewarm": ("温吞型", "lukewarm"),
    "dozing": ("打盹型", "dozing"),
    "buck_passing": ("太极型", "buck-passing (tai chi)"),
    "puppet": ("木偶型", "puppet"),
    "going_through_the_motions": ("比划型", "going through the motions"),
    "all_talk": ("说唱型", "all talk"),
}

INSPECTION_KINDS = {
    "undercover_visit": ("暗访", "undercover visit"),
    "inspection_tour": ("巡视", "inspection tour"),
    "supervision_check": ("督查", "supervision check"),
    "responsibility_check": ("责任制检查", "responsibility-system check"),
}

TEAM_ROLES = {
    "commission": ("纪检监察", "discipline inspection and supervision commission"),
    "media": ("新闻媒体", "media"),
    "npc_deputy": ("人大代表", "people's congress deputy"),
    "cppcc_member": ("政协委员", "CPPCC member"),
    "conduct_supervisor": ("政风监督员", "conduct supervisor"),
    "special_supervisor": ("特邀监察员", "special supervisor"),
}

EXPOSURES = {
    "internal_circular": ("内部通报", "internal circular"),
    "undercover_film": ("暗访片/电教片", "undercover or educational film"),
    "media": ("媒体曝光", "media exposure"),
}


def category_of(situation: str) -> str:
    return SITUATIONS[situation][2]


#: Where a rectification letter stands (results and the ``list_rectification_letters`` filter).
LETTER_STATUSES = {
    "awaiting_report": ("待整改报告", "awaiting the unit's report"),
    "reported": ("已报告待审核", "reported, awaiting review"),
    "accepted": ("整改已验收", "rectification accepted"),
}
