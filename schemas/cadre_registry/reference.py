"""The cadre registry's codes, each with its official Chinese label (DOMAIN.md).

Events store codes only. A code, once published, keeps its meaning: a later catalogue may add
codes or retire them, never reuse one; ``CATALOGUE_VERSION`` names the catalogue in force.
"""

from __future__ import annotations

CATALOGUE_VERSION = "2026.1"

#: Rank (级别), highest first: the order demotion is judged by.
RANKS = {
    "city_level": ("市级", "city level"),
    "county_division": ("县处级", "county / division level"),
    "township_section": ("乡科级", "township / section level"),
    "staff": ("科员及以下", "staff"),
}
RANK_ORDER = list(RANKS)

GENDERS = {
    "female": ("女", "female"),
    "male": ("男", "male"),
}

#: Post kind: a leadership post (领导职务) or a non-leadership one (非领导职务).
POST_KINDS = {
    "leadership": ("领导职务", "leadership post"),
    "non_leadership": ("非领导职务", "non-leadership post"),
}

STATUSES = {
    "in_post": ("在职在岗", "in post"),
    "off_post_training": ("离职培训", "off-post training"),
    "dismissed": ("免职", "dismissed"),
    "resigned": ("责令辞职", "resigned (ordered)"),
    # 辞退: out of the civil service, not only out of a post (免职)
    "dismissed_from_service": ("辞退", "dismissed from the civil service"),
}

#: Why a cadre holds the post they hold: the registry commands that change a post.
POST_CHANGES = {
    "registered": ("登记", "registered"),
    "appointed": ("任职", "appointed"),
    "transferred": ("转任", "transferred"),
    "changed_to_non_leadership": ("改任非领导职务", "moved to a non-leadership post"),
    "sent_to_off_post_training": ("离职培训", "sent to off-post training"),
    "dismissed": ("免职", "dismissed"),
    "ordered_to_resign": ("责令辞职", "ordered to resign"),
    "demoted": ("降职", "demoted"),
    "dismissed_from_service": ("辞退", "dismissed from the civil service"),
    "reinstated": ("恢复原职务", "reinstated: a handling revoked or changed on appeal"),
}

#: Responsibilities: a city-level leader's share of the "seven-in-one" key work, or a
#: county-level cadre's liaison task. Every task has exactly one owner (事有专人、人有专责).
TASK_KINDS = {
    "key_work_share": ("重点工作分工", "share of the key work"),
    "liaison_task": ("联系点任务", "liaison task"),
}
#: The rank a task's owner must hold.
TASK_OWNER_RANK = {"key_work_share": "city_level", "liaison_task": "county_division"}
