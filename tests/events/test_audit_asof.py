"""``youwei audit replay --until DAY`` answers "eligible on that day, and why not" by the
dates events carry, for a year recorded in one afternoon; ``audit history`` shows each
event's kind, business dates, rule and zoned time, for an id in either form."""

from __future__ import annotations

import json
import uuid

import pymongo
import pytest
from click.testing import CliRunner

from tests.events.audit_world import rpc_world
from youwei.cli import main


@pytest.fixture(scope="module")
def world(mongodb_uri):
    with rpc_world(mongodb_uri) as made:
        yield made


def replay(mongodb_uri, database, *args):
    scratch = f"{database}_replay"
    result = CliRunner().invoke(
        main, ["audit", "replay", *args, "--into", scratch, "--uri", mongodb_uri,
               "--database", database],
    )  # fmt: skip
    return result, scratch


def test_eligible_on_a_day_and_why_not_from_the_replay_alone(mongodb_uri, world) -> None:
    database, names = world
    liaison = names["liaison"]
    during, scratch = replay(mongodb_uri, database, "--until", "2026-05-25", "--cadre", liaison)
    assert during.exit_code == 0, during.output + during.stderr
    assert "陈刚 on 2026-05-25: NOT eligible for promotion" in during.output
    assert "because admonishment (rules " in during.output and "until 2026-11-20" in during.output
    standing = json.loads(during.stdout[during.stdout.index("\n{") :])
    [admonished] = [r for r in standing["restrictions"] if r["in_force"]]
    assert admonished["rule"] == "admonishment" and admonished["rules_version"]
    with pymongo.MongoClient(mongodb_uri) as client:
        stored = client[scratch]["personnel_files"].find_one({"_id": liaison})
        [decided] = (
            client[database]["accountability_events"]
            .find({"topic": {"$regex": "Decided$"}}, {"position": 1})
            .limit(1)
        )
        client.drop_database(scratch)
    from events.log.published import event_id

    assert admonished["caused_by"] == [str(event_id("accountability_events", decided["position"]))]
    assert stored["eligible_for_promotion"]["eligible"] is False

    after, _ = replay(mongodb_uri, database, "--until", "2026-06-02", "--cadre", liaison)
    assert after.exit_code == 0, after.output + after.stderr
    assert "陈刚 on 2026-06-02: eligible for promotion" in after.output
    lifted = json.loads(after.stdout[after.stdout.index("\n{") :])["restrictions"]
    assert lifted[0]["lifted_on"] == "2026-06-01" and not lifted[0]["in_force"]


def test_the_public_records_as_they_stood_on_a_day(mongodb_uri, world) -> None:
    """Published 2026-05-21, withdrawn 2026-06-01: on the record in between."""
    database, _ = world
    for day, shown in (("2026-05-25", 1), ("2026-06-02", 0)):
        result, scratch = replay(mongodb_uri, database, "--until", day)
        assert result.exit_code == 0, result.output + result.stderr
        with pymongo.MongoClient(mongodb_uri) as client:
            live = client[scratch]["projections"].find_one({"_id": "public"})["generation"]
            records = client[scratch][f"public_g{live}_records"]
            assert records.count_documents({"cadre_name": "陈刚"}) == shown, day
            client.drop_database(scratch)


def test_an_empty_replay_says_so_and_fails(mongodb_uri, world) -> None:
    database, _ = world
    result, scratch = replay(mongodb_uri, database, "--until", "2025-06-30")
    with pymongo.MongoClient(mongodb_uri) as client:
        client.drop_database(scratch)
    assert result.exit_code == 1
    assert "nothing in the logs took effect by 2025-06-30: the replay is empty" in result.stderr
    by_recording, _ = replay(mongodb_uri, database, "--until", "2026-05-25", "--compare")
    assert by_recording.exit_code == 2 and "--recorded-until" in by_recording.stderr


def test_history_shows_kind_dates_rule_and_zone_for_either_form_of_id(mongodb_uri, world) -> None:
    database, names = world
    runner = CliRunner()
    where = ["--uri", mongodb_uri, "--database", database, "--timezone", "Asia/Shanghai"]
    hex_id = uuid.UUID(names["liaison"]).hex
    lines = runner.invoke(main, ["audit", "history", hex_id, *where])
    assert lines.exit_code == 0, lines.stderr
    assert lines.stdout.startswith("times in Asia/Shanghai")
    [decided] = [line for line in lines.stdout.splitlines() if " case_decided " in line]
    assert decided[19:25] == "+08:00"
    following = lines.stdout.split(decided, 1)[1].splitlines()
    assert following[1].strip() == "dates: decided_on 2026-05-20"
    assert following[2].strip().startswith("rule: admonishment (rules ")
    assert "2026-05-20 to 2026-11-20" in following[2]
    events = json.loads(
        runner.invoke(main, ["audit", "history", names["liaison"], "--json", *where]).stdout
    )
    [event] = [e for e in events if e["type"] == "case_decided"]
    assert event["business_dates"] == {"decided_on": "2026-05-20"}
    assert event["rules"][0]["rule"] == "admonishment"
