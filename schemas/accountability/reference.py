"""The accountability service's codes, each with its official Chinese label (DOMAIN.md).

Codes keep their meaning forever; a later catalogue adds, never redefines.
"""

from __future__ import annotations

CATALOGUE_VERSION = "2026.2"  # 2026.2: commendations 记三等功 and 嘉奖

#: What a case rests on, and the field that names it.
BASES = {
    "finding": ("督查暗访发现问题", "a finding of an inspection"),
    "overdue_letter": ("整改逾期", "an overdue rectification letter"),
    "assessment": ("年度考核结果", "an annual assessment"),
    "report": ("群众举报", "a report from the public"),
}

#: Measures (问责方式), mildest first.
MEASURES = {
    "talk": ("约谈", "talk"),
    "written_inquiry": ("函询", "written inquiry"),
    "admonishment": ("诫勉谈话", "admonishment talk"),
    "accountability": ("问责", "accountability"),
}

#: The forms of the ``accountability`` measure for a leading cadre
#: (中国共产党问责条例 2019, 第八条).
ACCOUNTABILITY_FORMS = {
    "circulated_criticism": ("通报", "circulated criticism"),
    "admonishment": ("诫勉", "admonishment"),
    "organizational_handling": ("组织调整或者组织处理", "organizational adjustment or handling"),
    "disciplinary_sanction": ("纪律处分", "disciplinary sanction"),
}

#: Organizational handling (组织处理), from the cadre appointment regulations.
HANDLINGS = {
    "transfer": ("转任", "transfer"),
    "non_leadership": ("改非", "move to a non-leadership post"),
    "off_post_training": ("离职培训", "off-post training"),
    "post_adjustment": ("调整职务", "adjustment of post"),
    "dismissal": ("免职", "dismissal"),
    "ordered_resignation": ("责令辞职", "ordered resignation"),
    "demotion": ("降职", "demotion"),
    # 公务员辞退规定: the cadre leaves the civil service; not 免职 (dismissal from a post)
    "dismissal_from_service": ("辞退", "dismissal from the civil service"),
}

#: The handling that a consequence of annual grades proposes (the rules are
#: ``schemas.records.reference.CONSEQUENCE_RULES``, versioned): the case the accountability
#: service opens on an ``incompetent`` grade proposes it, citing the rule and its version.
CONSEQUENCE_HANDLINGS = {
    "incompetent_demotion": "demotion",
    "incompetent_twice_dismissal": "dismissal_from_service",
}

#: How tolerance for reform (容错免责) ends a case.
EXEMPTIONS = {
    "exempted": ("免责", "exempted: no sanction"),
    "mitigated": ("从轻减轻", "mitigated"),
}

APPEAL_OUTCOMES = {
    "upheld": ("维持", "upheld"),
    "changed": ("变更", "changed"),
    "revoked": ("撤销", "revoked"),
}

COMMENDATIONS = {
    "commendation": ("表彰奖励", "commendation"),
    "promotion_recommendation": ("提拔使用", "recommendation for promotion"),
    # 公务员奖励规定: the kind the rule excellent_three_years_merit proposes
    "third_class_merit": ("记三等功", "third-class merit"),
    "citation": ("嘉奖", "citation"),
}

#: The commendation that a consequence of annual grades proposes (the rules are
#: ``schemas.records.reference.CONSEQUENCE_RULES``, versioned): the accountability service
#: records it on the third ``excellent`` year running, citing the rule and its version.
CONSEQUENCE_COMMENDATIONS = {
    "excellent_three_years_merit": "third_class_merit",
}

RISK_LEVELS = {
    "low": ("低", "low"),
    "medium": ("中", "medium"),
    "high": ("高", "high"),
}

CASE_STATUSES = {
    "open": ("办理中", "open"),
    "closed": ("已办结", "closed"),
}

#: What kind of decision a case takes: a measure (问责方式) or organizational handling.
DECISION_TYPES = {
    "measure": ("问责方式", "measure"),
    "handling": ("组织处理", "organizational handling"),
}

#: Where a decision stands after any appeal.
DECISION_STATUSES = {
    "in_force": ("有效", "in force"),
    "changed": ("已变更", "changed on appeal"),
    "revoked": ("已撤销", "revoked on appeal"),
}
