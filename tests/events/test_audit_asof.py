"""``youwei audit replay --until DAY`` answers "eligible on that day, and why not" by the
dates events carry, for a year recorded in one afternoon; ``audit history`` shows each
event's kind, business dates, rule and zoned time, for an id in either form."""

from __future__ import annotations

import json
import uuid

import pymongo
import pytest
from click.testing import CliRunner

from events.audit.history import describe
from tests.events.audit_world import rpc_world
from youwei.cli import main


@pytest.fixture(scope="module")
def world(mongodb_uri):
    """docs/rpc.md's city, with a second cadre named 王芳 (names are not unique)."""
    with rpc_world(mongodb_uri) as (database, names):
        names["namesake"] = names["n"].rpc.cadre_registry.register_cadre(
            names["c"](name="王芳", gender="female", birth_date="1985-02-03",
                       unit_id=names["city"], post="副秘书长", rank="county_division",
                       post_kind="leadership", effective_date="2026-02-01")
        )["cadre_id"]  # fmt: skip
        yield database, names


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
    assert following[1].strip() == (f"case {names['case']}, decision {names['decision']}, "
                                    "decision_type measure, kind admonishment")  # fmt: skip
    assert following[2].strip() == "dates: decided_on 2026-05-20"
    assert following[3].strip().startswith("rule: admonishment (rules ")
    assert "2026-05-20 to 2026-11-20" in following[3]
    events = json.loads(
        runner.invoke(main, ["audit", "history", names["liaison"], "--json", *where]).stdout
    )
    [event] = [e for e in events if e["type"] == "case_decided"]
    assert event["business_dates"] == {"decided_on": "2026-05-20"}
    assert event["rules"][0]["rule"] == "admonishment"


def history_lines(mongodb_uri, database, cadre) -> list[str]:
    where = ["--uri", mongodb_uri, "--database", database, "--timezone", "Asia/Shanghai"]
    result = CliRunner().invoke(main, ["audit", "history", cadre, *where])
    assert result.exit_code == 0, result.stderr
    return [line.strip() for line in result.stdout.splitlines()]


def after(lines: list[str], kind: str, count: int = 2) -> list[str]:
    [at] = [n for n, line in enumerate(lines) if f" {kind} " in line]
    return lines[at : at + 1 + count]


def test_history_shows_what_an_auditor_asks_first(mongodb_uri, world) -> None:
    """Issue 26: an appeal's outcome, the case of a decision, an exposure, a letter's dates
    and deadline, and who read the file (not `guest / ?`)."""
    database, names = world
    lines = history_lines(mongodb_uri, database, names["liaison"])
    case, decision = names["case"], names["decision"]
    assert after(lines, "case_appeal_decided")[1:] == [
        f"case {case}, decision {decision}, outcome revoked",
        "dates: decided_on 2026-06-01",
    ]
    assert after(lines, "finding_exposed")[1:] == [
        f"finding {names['finding']}, kind undercover_film",
        "dates: on 2026-05-20",
    ]
    issued = after(lines, "rectification_letter_issued")[1:]
    assert issued == [f"letter {names['letter']}",
                      "dates: issued_on 2026-05-10, deadline 2026-06-10"]  # fmt: skip


@pytest.mark.plain
def test_history_shows_who_read_a_file_under_which_role_and_policy() -> None:
    """Issue 26: a read of a personnel file showed as `guest / ?`: the agency the broker
    vouched for, with its role and policy version, and what it read as of which day."""
    data = {"agency": "organization-department", "method": "records.personnel_file",
            "role": "organization_department", "policy_version": "2026.2",
            "cadre_id": "c", "day": "2026-05-25"}  # fmt: skip
    event = {"recorded_at": "2026-12-01T00:00:00+00:00", "source": "records", "position": 3,
             "type": "personnel_file_read_recorded", "event_id": "e", "originator_id": "o",
             "data": data, "agency": data["agency"], "person": None,
             "command": data["method"], "caller": {"agency": data["agency"]}}  # fmt: skip
    refused = {**event, "type": "access_denied_recorded", "position": 4, "person": "张三",
               "data": {"agency": "guest", "method": "records.personnel_file", "roles": [],
                        "reason": "no role may call it", "policy_version": "2026.2"}}  # fmt: skip
    lines = describe([event, refused], "UTC")
    assert lines[0].endswith("organization-department (role organization_department, policy "
                             "2026.2)  [records.personnel_file]")  # fmt: skip
    assert lines[1].strip() == "read records.personnel_file as of 2026-05-25"
    assert "guest / 张三 (role no role, policy 2026.2)" in lines[2]
    assert lines[3].strip() == "refused records.personnel_file: no role may call it"


def test_history_refuses_a_name_and_lists_the_cadres_so_named(mongodb_uri, world) -> None:
    """Issue 26: `audit history 王芳` merged every 王芳 into one timeline."""
    database, names = world
    result = CliRunner().invoke(
        main, ["audit", "history", "王芳", "--uri", mongodb_uri, "--database", database]
    )
    assert result.exit_code == 2
    assert "'王芳' is not a cadre's id" in result.stderr
    assert "2 cadre(s) registered under that name" in result.stderr
    listed = {line.split()[0]: line for line in result.stdout.splitlines()}
    [first] = set(listed) - {names["namesake"]}  # docs/rpc.md's 王芳 (its `cadre`, reused)
    # unit and post now (the first was transferred, demoted, then dismissed), and when
    # registered: the list showed only the latter
    assert "王芳  玉溪市  (dismissed)  registered 2026-01-05 as 市发改委 局长" in listed[first]
    assert ("王芳  玉溪市  副秘书长  registered 2026-02-01 as 玉溪市 副秘书长"
            in listed[names["namesake"]])  # fmt: skip
    assert history_lines(mongodb_uri, database, first)  # each id gives its own timeline


def test_history_goes_from_a_published_records_id_to_its_cadre(mongodb_uri, world) -> None:
    """The page's record_id (an honour's id) led nowhere: `audit history --record ID` finds
    the cadre it names, and history shows each publication's public id."""
    database, names = world
    [honour] = names["n"].rpc.records.honour_roll({"q": "陈刚"})["honours"]
    where = ["--uri", mongodb_uri, "--database", database]
    result = CliRunner().invoke(main, ["audit", "history", "--record", honour["honour_id"],
                                       *where])  # fmt: skip
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"record {honour['honour_id']}: commendation_published at "
                            "accountability_events:")  # fmt: skip
    assert first.endswith(f", cadre {names['liaison']}")
    assert f"public id {honour['honour_id']}" in result.stdout
    unknown = CliRunner().invoke(main, ["audit", "history", "--record", str(uuid.uuid4()),
                                        *where])  # fmt: skip
    assert unknown.exit_code == 1 and "no publication" in unknown.stderr
    both = CliRunner().invoke(main, ["audit", "history", names["liaison"], "--record",
                                     honour["honour_id"], *where])  # fmt: skip
    assert both.exit_code == 2


def test_replay_cites_causes_by_log_and_position_as_history_does(mongodb_uri, world) -> None:
    database, names = world
    during, scratch = replay(mongodb_uri, database, "--until", "2026-05-25", "--cadre",
                             names["liaison"])  # fmt: skip
    with pymongo.MongoClient(mongodb_uri) as client:
        client.drop_database(scratch)
    [cause] = [line for line in during.stdout.splitlines() if ", caused by " in line]
    [decided] = [line for line in history_lines(mongodb_uri, database, names["liaison"])
                 if " case_decided " in line]  # fmt: skip
    cited = decided.split()[1]  # accountability:N, as history shows it
    assert cause.split(", caused by ")[1].startswith(f"{cited} ("), (cause, decided)


def test_replay_and_history_show_a_tasks_chain_by_its_days(mongodb_uri, world) -> None:
    """docs/rpc.md's chain of the liaison's task: a report of 500 on 04-20 disputed on
    04-22, one of 490 on 04-25 verified on 04-26."""
    database, names = world
    days = {}
    for day in ("2026-04-22", "2026-05-25"):
        result, scratch = replay(mongodb_uri, database, "--until", day, "--cadre",
                                 names["liaison"])  # fmt: skip
        assert result.exit_code == 0, result.output + result.stderr
        shown = json.loads(result.stdout[result.stdout.index("\n{") :])
        [chain] = [c for c in shown["task_chains"] if c["task_id"] == names["task"]]
        days[day] = [(s["type"], s["on"]) for s in chain["steps"]]
    with pymongo.MongoClient(mongodb_uri) as client:
        client.drop_database(scratch)
    reports = [on for kind, on in days["2026-05-25"] if kind == "task_plan_progress_reported"]
    assert reports == ["2026-04-20", "2026-04-25"], days
    assert days["2026-04-22"] == [step for step in days["2026-05-25"] if step[1] <= "2026-04-22"]
    assert days["2026-04-22"][-1] == ("task_plan_report_reviewed", "2026-04-22")
    assert ("major_decision_recorded", "2026-02-25") in days["2026-04-22"]
    lines = history_lines(mongodb_uri, database, names["liaison"])
    reported = next(n for n, line in enumerate(lines) if " task_plan_progress_reported " in line)
    assert "reported_on 2026-04-20" in " ".join(lines[reported : reported + 4])
