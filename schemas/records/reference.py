"""What personnel decisions must respect (DOMAIN.md): the restrictions that follow a measure,
a handling or an assessment grade, as versioned, cited data. A personnel file cites the rule
and the version that produced each restriction, so an auditor can see why a cadre was or was
not eligible on any day. A later version adds or changes rules; a version never changes.
"""

from __future__ import annotations

from schemas.cadre_registry.reference import POST_CHANGES

RESTRICTION_RULES: dict[str, dict[str, dict]] = {
    "2026.1": {
        "admonishment": {
            "when": {"measure": ["admonishment"], "form": ["admonishment"]},
            "restricts": "promotion_and_important_use",
            "months": 6,
            "source": "关于对党员领导干部进行诫勉的规定 / 党政领导干部选拔任用工作条例",
        },
        "post_adjustment": {
            "when": {"handling": ["post_adjustment"]},
            "restricts": "promotion",
            "months": 12,
            "source": "推进领导干部能上能下规定 (2022)",
        },
        "dismissal_no_leading_post": {
            "when": {"handling": ["dismissal", "ordered_resignation"]},
            "restricts": "leading_post",
            "months": 12,
            "source": "党政领导干部选拔任用工作条例 / 推进领导干部能上能下规定",
        },
        "dismissal_not_above_former_level": {
            "when": {"handling": ["dismissal", "ordered_resignation"]},
            "restricts": "post_above_former_level",
            "months": 24,
            "source": "党政领导干部选拔任用工作条例 / 推进领导干部能上能下规定",
        },
        "demotion": {
            "when": {"handling": ["demotion"]},
            "restricts": "promotion",
            "months": 24,
            "source": "推进领导干部能上能下规定 (2022)",
        },
        "basically_competent": {
            "when": {"grade": ["basically_competent"]},
            "restricts": "promotion",
            "following_year": True,
            "source": "公务员考核规定",
        },
    }
}
CURRENT_RESTRICTION_RULES = "2026.1"

#: What each kind of restriction forbids, with its Chinese label.
RESTRICTIONS = {
    "promotion_and_important_use": ("不得提拔或者重用", "no promotion or important use"),
    "promotion": ("不得提拔", "no promotion"),
    "leading_post": ("不得担任领导职务", "no leading post"),
    "post_above_former_level": ("不得担任高于原任职务层次的职务", "no post above the former level"),
}
#: Restrictions that bar a promotion.
BAR_PROMOTION = ("promotion_and_important_use", "promotion", "post_above_former_level")

#: What annual grades lead to (DOMAIN.md), as versioned, cited data. These are consequences
#: the organization department acts on (through a case or a commendation), not restrictions.
CONSEQUENCE_RULES: dict[str, dict[str, dict]] = {
    "2026.1": {
        "incompetent_demotion": {
            "grade": "incompetent",
            "years_running": 1,
            "consequence": ("降低一个职务或者职级层次任职", "demotion by one level"),
            "source": "公务员考核规定",
        },
        "incompetent_twice_dismissal": {
            "grade": "incompetent",
            "years_running": 2,
            "consequence": ("予以辞退", "dismissal from the service"),
            "source": "公务员考核规定",
        },
        "excellent_three_years_merit": {
            "grade": "excellent",
            "years_running": 3,
            "consequence": ("记三等功", "third-class merit"),
            "source": "公务员奖励规定",
        },
    }
}

#: The changes a personnel file lists under ``posts``: the registry's post changes, and the
#: erasure of the cadre's personal data.
FILE_POST_CHANGES = {
    **POST_CHANGES,
    "personal_data_erased": ("个人信息已删除", "personal data erased"),
}

#: How a task changed for the cadre whose file lists it (``responsibilities``).
RESPONSIBILITY_CHANGES = {
    "assigned": ("分配任务", "assigned"),
    "reassigned": ("调整责任人", "reassigned"),
    "owner_left": ("责任人离岗，待明确新责任人", "the owner left the post: a new owner is needed"),
}
