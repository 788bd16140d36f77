"""The registry's rules, on the aggregates alone: no broker, no database."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from schemas.errors import RuleViolation
from services.cadre_registry.domain import Cadre, Responsibility, Unit

pytestmark = pytest.mark.plain  # once, in the plain pass (tests/conftest.py)

D = date(2026, 3, 1)


def cadre(rank: str = "county_division", post_kind: str = "leadership") -> Cadre:
    return Cadre("李明", "male", date(1975, 5, 4), uuid4(), "局长", rank, post_kind, D)


def rule_of(error: pytest.ExceptionInfo) -> str:
    return error.value.rule


def test_a_registered_cadre_is_in_post_with_one_history_entry() -> None:
    c = cadre()
    assert c.status == "in_post"
    assert [h["change"] for h in c.history] == ["registered"]


def test_transfer_keeps_rank_and_moves_unit() -> None:
    c = cadre()
    unit = uuid4()
    c.transfer(unit, "副局长", date(2026, 4, 1))
    assert (c.unit_id, c.post, c.rank) == (unit, "副局长", "county_division")


def test_changes_must_be_in_date_order() -> None:
    c = cadre()
    with pytest.raises(RuleViolation) as error:
        c.transfer(uuid4(), "x", date(2026, 2, 1))
    assert rule_of(error) == "registry.effective_date_in_order"
    assert len(c.history) == 1


def test_a_dismissed_cadre_cannot_be_transferred_or_appointed() -> None:
    c = cadre()
    c.dismiss(date(2026, 4, 1), "不作为")
    assert c.status == "dismissed" and c.unit_id is None
    for command in (
        lambda: c.transfer(uuid4(), "x", date(2026, 5, 1)),
        lambda: c.appoint(uuid4(), "x", "staff", "leadership", date(2026, 5, 1)),
    ):
        with pytest.raises(RuleViolation) as error:
            command()
        assert rule_of(error) == "registry.cadre_not_serving"


def test_off_post_training_can_end_in_an_appointment_but_not_a_transfer() -> None:
    c = cadre()
    c.send_to_off_post_training(date(2026, 4, 1), "培训")
    with pytest.raises(RuleViolation):
        c.transfer(uuid4(), "x", date(2026, 5, 1))
    c.appoint(uuid4(), "科长", "township_section", "leadership", date(2026, 6, 1))
    assert c.status == "in_post"


def test_demotion_must_lower_the_rank() -> None:
    c = cadre("county_division")
    for rank in ("county_division", "city_level"):
        with pytest.raises(RuleViolation) as error:
            c.demote(rank, "x", date(2026, 4, 1), "r")
        assert rule_of(error) == "registry.demotion_lowers_rank"
    c.demote("township_section", "科长", date(2026, 4, 1), "不称职")
    assert c.rank == "township_section"


def test_only_a_leadership_post_changes_to_non_leadership() -> None:
    c = cadre(post_kind="non_leadership")
    with pytest.raises(RuleViolation) as error:
        c.change_to_non_leadership("调研员", date(2026, 4, 1), "r")
    assert rule_of(error) == "registry.holds_leadership_post"


@pytest.mark.parametrize(
    ("kind", "rank", "allowed"),
    [
        ("key_work_share", "city_level", True),
        ("key_work_share", "county_division", False),
        ("liaison_task", "county_division", True),
        ("liaison_task", "city_level", False),
    ],
)
def test_a_task_is_owned_by_a_cadre_of_its_rank(kind, rank, allowed) -> None:
    c = cadre(rank)
    task = uuid4()
    if allowed:
        c.take_task(task, kind)
        assert c.tasks == [task]
    else:
        with pytest.raises(RuleViolation) as error:
            c.take_task(task, kind)
        assert rule_of(error) == "registry.task_owner_rank"


def test_a_task_has_one_owner_at_a_time() -> None:
    first, second = uuid4(), uuid4()
    task = Responsibility("liaison_task", "联系某镇", first, D)
    task.reassign(second, date(2026, 4, 1))
    assert task.owner_id == second
    assert [o["owner_id"] for o in task.owners] == [first, second]


def test_unit_membership_has_no_duplicates() -> None:
    unit = Unit("市发改委", None)
    member = uuid4()
    unit.admit(member)
    unit.admit(member)
    assert unit.members == [member]
    unit.release(member)
    assert unit.members == []


def test_dismissal_from_the_service_ends_the_service_not_only_the_post() -> None:
    c = cadre()
    c.dismiss(date(2026, 4, 1), "免职")
    c.dismiss_from_service(date(2026, 12, 15), "连续两年考核不称职")
    assert (c.status, c.unit_id, c.post) == ("dismissed_from_service", None, "")
    assert c.history[-1]["change"] == "dismissed_from_service"
    for again in (lambda: c.dismiss_from_service(date(2026, 12, 16), "x"),
                  lambda: c.appoint(uuid4(), "局长", "county_division", "leadership",
                                    date(2026, 12, 16))):  # fmt: skip
        with pytest.raises(RuleViolation) as error:
            again()
        assert rule_of(error) == "registry.cadre_not_serving"


def test_who_leaves_the_post_and_a_task_that_needs_an_owner() -> None:
    c = cadre()
    held = dict(c.history[-1])
    c.change_to_non_leadership("调研员", date(2026, 4, 1), "调整")
    assert not c.left_post(held)  # same unit, same rank
    c.transfer(uuid4(), "副局长", date(2026, 5, 1))
    assert c.left_post(held)  # another unit
    other = cadre()
    other.send_to_off_post_training(date(2026, 4, 1), "培训")
    assert other.left_post(held)

    owner, successor = uuid4(), uuid4()
    task = Responsibility("liaison_task", "联系大营街镇", owner, D)
    task.owner_left("dismissed", date(2026, 4, 1), "为官不为")
    task.owner_left("dismissed", date(2026, 4, 2), "again")  # once
    assert task.vacant == {"owner_id": owner, "change": "dismissed", "since": date(2026, 4, 1),
                           "reason": "为官不为"}  # fmt: skip
    task.reassign(owner, date(2026, 6, 1))  # the same cadre again, back in post
    assert task.vacant is None and len(task.owners) == 2
    task.reassign(successor, date(2026, 7, 1))
    assert task.owner_id == successor
