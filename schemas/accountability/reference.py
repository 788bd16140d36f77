"""The accountability service's codes, each with its official Chinese label (DOMAIN.md).

Codes keep their meaning forever; a later catalogue adds, never redefines.
"""

from __future__ import annotations

CATALOGUE_VERSION = "2026.3"  # 2026.2: commendations 记三等功 and 嘉奖; 2026.3: overdue milestone

#: What a case rests on, and the field that names it.
BASES = {
    "finding": ("督查暗访发现问题", "a finding of an inspection"),
    "overdue_letter": ("整改逾期", "an overdue rectification letter"),
    "assessment": ("年度考核结果", "an annual assessment"),
    "report": ("群众举报", "a report from the public"),
    # only the inspections service's deadline check opens a case on it (not open_case)
    "overdue_milestone": ("任务节点逾期", "an overdue milestone of a task"),
}
#: What an agency's ``open_case`` may rest on.
OPENABLE_BASES = {kind: names for kind, names in BASES.items() if kind != "overdue_milestone"}

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

#: What tolerance for reform (容错免责, DOMAIN.md) requires, as versioned, cited data: each
#: condition is the rule a refusal names. An exemption keeps the version it was granted
#: under (those granted before 2026.2 needed only the reform effort); a new one is granted
#: under ``CURRENT_EXEMPTION_RULES``.
EXEMPTION_RULES: dict[str, dict[str, object]] = {
    "2026.1": {
        "conditions": ("reform_registered_in_advance", "exemption_within_reform"),
        "source": "玉溪市 允许试错、宽容失误 (a mistake in a registered reform effort)",
    },
    "2026.2": {
        "conditions": (
            "reform_registered_in_advance",
            "exemption_within_reform",
            # the three distinctions (三个区分开来)
            "exemption_decision_started_effort",
            "exemption_decision_before_mistake",
            "exemption_procedure_followed",
            "exemption_no_personal_gain",
            "exemption_no_prohibition_broken",
        ),
        "source": "关于进一步激励广大干部新时代新担当新作为的意见 (2018) 三个区分开来; "
        "玉溪市 允许试错、宽容失误",
    },
}
CURRENT_EXEMPTION_RULES = "2026.2"

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

#: The implementation chain's consequences (落实链条: 敬业有功、怠业必惩, DOMAIN.md), as
#: versioned, cited data: a milestone overdue and unmet opens a case against the task's
#: owner; a task whose every target was met on time proposes a commendation of its owner,
#: which the organization department decides (publishes, or not).
CHAIN_RULES: dict[str, dict[str, dict[str, str]]] = {
    "2026.1": {
        "milestone_overdue_case": {
            "consequence": "任务节点逾期未完成，追究责任人责任 (a milestone overdue: the owner "
            "is called to account)",
            "source": "中国共产党问责条例 (2019) 第七条; 玉溪市 落实链条 (怠业必惩)",
        },
        "targets_met_on_time_commendation": {
            "kind": "commendation",
            "consequence": "任务目标全部按期完成，提请表彰 (every target met on time: a "
            "commendation proposed)",
            "source": "关于进一步激励广大干部新时代新担当新作为的意见 (2018); 玉溪市 落实链条 "
            "(敬业有功)",
        },
    }
}
CURRENT_CHAIN_RULES = "2026.1"

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
