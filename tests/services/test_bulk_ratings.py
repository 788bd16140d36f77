"""``evaluations.submit_ratings`` over real RabbitMQ and SecantusDB, with the production
policy and agencies as their own users: each rating is decided on its own (the policy per
rating, duplicates, an unknown cadre, a rater being erased) in one command and one append;
a retry answers the same outcomes; a command refused as a whole changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

import pytest

from events.audit.verify import verify_log
from events.identity.personal import subject_of
from schemas.evaluations import MAX_RATINGS
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from tests.services.agencies import agency_stack
from tests.services.support import RATER_KEY
from youwei import client as youwei
from youwei.client import Client

pytestmark = pytest.mark.nameko
LOG = "evaluations_events"
RECORD = "events.commands:CommandRecord.Recorded"
RATED = "services.evaluations.domain:CadreRatings.Rated"


@pytest.fixture(scope="module")
def stack(rabbit_manager, rabbit_config_module, container_factory_module, mongodb_uri):
    with agency_stack(
        [CadreRegistryService, EvaluationsService], rabbit_manager, rabbit_config_module,
        container_factory_module, mongodb_uri,
    ) as running:  # fmt: skip
        yield running


def agency(stack, who: str) -> Client:
    return Client(stack.uri(who), person=f"{who} tester", timeout=30.0)


@pytest.fixture(scope="module")
def cadres(stack) -> list[str]:
    with agency(stack, "org") as org:
        unit = org.cadre_registry.register_unit({"name": "市政务服务中心"})["unit_id"]
        return [
            org.cadre_registry.register_cadre(
                {"name": name, "gender": "female", "birth_date": "1982-02-02", "unit_id": unit,
                 "post": "科长", "rank": "township_section", "post_kind": "leadership",
                 "effective_date": "2025-01-01"}
            )["cadre_id"]
            for name in ("窗口一", "窗口二")
        ]  # fmt: skip


def window(cadre: str, ticket: str, value: str = "satisfied", channel="service_window") -> dict:
    return {"cadre_id": cadre, "channel": channel, "period": "2026-03", "value": value,
            "rater_ref": ticket}  # fmt: skip


def counts(database) -> tuple[int, int]:
    return database[LOG].count_documents({}), database[LOG].count_documents({"topic": RATED})


def test_each_rating_is_decided_on_its_own_in_one_append(stack, cadres) -> None:
    first, second = cadres
    unknown = str(uuid.uuid4())
    ratings = [
        window(first, "ticket-1"),
        window(first, "ticket-1", "dissatisfied"),  # the same rater again: a duplicate
        window(first, "13900001234", channel="phone_spot_check"),  # not the hall's channel
        window(second, "ticket-2", "very_satisfied"),
        window(unknown, "ticket-3"),  # no such cadre
        window(second, "ticket-1"),  # the same ticket about another cadre counts
    ]
    before, rated_before = counts(stack.database)
    with agency(stack, "hall") as hall:
        answer = hall.evaluations.submit_ratings({"ratings": ratings})
    outcomes = [o["outcome"] for o in answer["outcomes"]]
    assert outcomes == ["recorded", "duplicate", "refused", "recorded", "refused", "recorded"]
    assert (answer["recorded"], answer["duplicate"], answer["refused"]) == (3, 1, 2)
    assert "only with channel one of service_window" in answer["outcomes"][2]["reason"]
    assert answer["outcomes"][4]["reason"] == f"cadre_id: no cadre with id {unknown}"

    # one append: four ratings (the duplicate kept, not counted), two aggregates opened, the
    # command's record; contiguous positions ending with the record
    after, rated_after = counts(stack.database)
    assert rated_after - rated_before == 4
    appended = list(stack.database[LOG].find({"position": {"$gt": before}}, sort=[("position", 1)]))
    assert len(appended) == after - before == 4 + 2 + 1 and appended[-1]["topic"] == RECORD
    stored = b"".join(d["state"] for d in appended)
    assert b"ticket-1" not in stored and b"13900001234" not in stored
    assert verify_log(stack.database, LOG).ok

    with agency(stack, "hall") as hall:  # a rater of an earlier command: a repeat
        again = hall.evaluations.submit_ratings(
            {"ratings": [window(first, "ticket-1"), window(first, "ticket-new")]}
        )
    assert [o["outcome"] for o in again["outcomes"]] == ["duplicate", "recorded"]

    with agency(stack, "org") as org:
        summary = org.evaluations.ratings_summary({"cadre_id": first, "period": "2026-03"})
    hall_window = summary["channels"]["service_window"]
    assert (hall_window["received"], hall_window["counted"], hall_window["duplicates"]) == (4, 2, 2)
    assert "phone_spot_check" not in summary["channels"]


def test_a_command_whose_every_rating_is_refused_answers_each_and_records_only_itself(
    stack, cadres
) -> None:
    """Found by the fuzz: with no rating left to seal, the raters' keys were asked of an
    empty list and the command failed."""
    first, _ = cadres
    ratings = [window(first, "13900005678", channel="phone_spot_check"),
               window(str(uuid.uuid4()), "ticket-9")]  # fmt: skip
    before, rated_before = counts(stack.database)
    with agency(stack, "hall") as hall:
        answer = hall.evaluations.submit_ratings({"ratings": ratings})
    assert [o["outcome"] for o in answer["outcomes"]] == ["refused", "refused"]
    after, rated_after = counts(stack.database)
    assert rated_after == rated_before and after == before + 1  # the command's record alone


def test_a_retry_answers_the_same_and_records_nothing(stack, cadres) -> None:
    ratings = [window(cadres[0], "ticket-retry-1"), window(cadres[1], "ticket-9")]
    command = {"command_id": str(uuid.uuid4()), "ratings": ratings}
    with agency(stack, "hall") as hall:
        answer = hall.evaluations.submit_ratings(command)
        stored = counts(stack.database)
        assert hall.evaluations.submit_ratings(command) == answer
        assert counts(stack.database) == stored
        with pytest.raises(youwei.Conflict):  # the same command_id, other ratings
            hall.evaluations.submit_ratings({**command, "ratings": command["ratings"][:1]})
    assert [o["outcome"] for o in answer["outcomes"]] == ["recorded", "recorded"]
    assert counts(stack.database) == stored


def test_a_command_refused_as_a_whole_changes_nothing(stack, cadres) -> None:
    stored = counts(stack.database)
    good = window(cadres[0], "ticket-whole")
    with agency(stack, "hall") as hall:
        with pytest.raises(youwei.InvalidCommand) as too_many:
            hall.evaluations.submit_ratings(
                {"ratings": [window(cadres[0], f"t-{n}") for n in range(MAX_RATINGS + 1)]}
            )
        with pytest.raises(youwei.InvalidCommand) as bad_value:
            hall.evaluations.submit_ratings({"ratings": [good, {**good, "value": 7}]})
        with pytest.raises(youwei.InvalidCommand) as empty:
            hall.evaluations.submit_ratings({"ratings": []})
        with pytest.raises(youwei.InvalidCommand) as not_a_list:
            hall.evaluations.submit_ratings({"ratings": good})
    assert too_many.value.errors["ratings"] == [f"from 1 to {MAX_RATINGS} ratings in one command"]
    assert "value" in bad_value.value.errors["ratings"]["1"]
    assert "ratings" in empty.value.errors and "ratings" in not_a_list.value.errors
    with agency(stack, "auditor") as auditor, pytest.raises(youwei.Forbidden) as refused:
        auditor.evaluations.submit_ratings({"ratings": [good]})
    assert refused.value.details["method"] == "evaluations.submit_ratings"
    assert counts(stack.database)[1] == stored[1]  # no rating; the auditor's refusal recorded
    assert counts(stack.database)[0] == stored[0] + 1


def test_a_rater_being_erased_is_refused_beside_the_others(stack, cadres) -> None:
    """A rater whose key is marked (an erasure decided, its keys not yet destroyed) is
    refused for that rating only, as ``submit_rating`` refuses it."""
    rater_hash = hmac.new(RATER_KEY.encode(), b"service_window:ticket-erasing",
                          hashlib.sha256).hexdigest()  # fmt: skip
    keys = stack.database["personal_keys"]
    keys.insert_one({"_id": subject_of(rater_hash), "key": b"k" * 32,
                     "erasing": f"Evaluations:{uuid.uuid4()}",  # decided, not yet recorded
                     "erasing_since": datetime.now(UTC)})  # fmt: skip
    with agency(stack, "hall") as hall:
        answer = hall.evaluations.submit_ratings(
            {"ratings": [window(cadres[0], "ticket-erasing"), window(cadres[0], "ticket-ok")]}
        )
    assert answer["outcomes"] == [
        {"outcome": "refused", "reason": "an erasure of this rater is under way: retry later"},
        {"outcome": "recorded"},
    ]
