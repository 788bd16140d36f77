"""Personal data that can be erased (crypto-shredding) over the real stack: a cadre's name,
gender and birth date are stored sealed under their own key; after the key is destroyed no
log, export, projection or rebuild shows them, every log still verifies, and so does the
proof of their published record, which can no longer confirm their name."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import bson
import pytest
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions
from nameko.exceptions import RemoteError

from events.audit.checkpoints import key_id, load_private_key, new_private_key_pem
from events.audit.export import export
from events.audit.verify import logs, verify_log
from events.log.datastore import MongoDBDatastore
from events.log.published import LogReader
from events.readmodels.projections import Projector
from schemas.events import LOGS
from services.accountability.service import AccountabilityService
from services.cadre_registry.service import CadreRegistryService
from services.evaluations.service import EvaluationsService
from services.inspections.service import InspectionsService
from services.records.projections import PROJECTIONS, PublicRecords
from services.records.service import RecordsService
from services.records.transparency import Leaves
from tests.services.support import RATER_KEY, FixedClock, command, running_services
from tests.services.test_inspections_rpc import TEAM, wait_for

pytestmark = pytest.mark.nameko
NAME, BIRTH = "欧阳娜娜", "1981-07-15"
RATED = "services.evaluations.domain:CadreRatings.Rated"
CODEC = CodecOptions(uuid_representation=UuidRepresentation.STANDARD)
VERIFY_RECORD = Path(__file__).resolve().parents[2] / "scripts" / "verify-record"
SERVICES = [CadreRegistryService, EvaluationsService, InspectionsService, AccountabilityService,
            RecordsService]  # fmt: skip


@pytest.fixture
def cluster(container_factory, rabbit_config, mongodb_uri):
    with running_services(
        SERVICES, container_factory, rabbit_config, mongodb_uri,
        clock=FixedClock(date(2026, 4, 1)), EVENT_RETRY_DELAYS=[0.2, 0.5],
        PROJECTIONS_POLL_SECONDS=0.2, REGISTRY_RETENTION_CHECK_SECONDS=0.2,
    ) as running:  # fmt: skip
        yield running


def published_record_proof(uri: str, name: str, key: Path, into: Path) -> str:
    """The tree's head signed now, the one public record's proof saved ``into``, and what
    scripts/verify-record says of it (which must verify)."""
    datastore = MongoDBDatastore(uri, name)
    try:
        leaves = Leaves(Projector(datastore, PublicRecords()))
        leaves.publish(load_private_key(key), catch_up=True)
        [record] = leaves.projector.live().db["records"].find()
        into.write_text(json.dumps(leaves.proof(record["_id"], honour=False), ensure_ascii=False))
    finally:
        datastore.close()
    pin = key_id(load_private_key(key).public_key())
    done = subprocess.run([sys.executable, str(VERIFY_RECORD), str(into), "--trust", pin],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def mentions(database, *words: str) -> list[str]:
    """Every collection (and document) of the database whose BSON holds one of ``words``."""
    found = []
    needles = [w.encode() for w in words]
    for name in database.list_collection_names():
        for document in database[name].find():
            raw = bson.encode(document, codec_options=CODEC)
            if any(n in raw for n in needles):
                found.append(f"{name} {document.get('_id')}")
    return found


def test_an_erased_cadre_is_gone_from_logs_projections_exports_and_rebuilds(
    cluster, mongodb_uri, tmp_path
) -> None:
    rpc, database = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市住房和城乡建设局"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(name=NAME, gender="female", birth_date=BIRTH, unit_id=unit, post="副局长",
                rank="county_division", post_kind="leadership", effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    visit = rpc.inspections.open_inspection(
        command(kind="undercover_visit", title="暗访", started_on="2026-03-02", team=TEAM)
    )["inspection_id"]
    rpc.inspections.record_finding(
        command(inspection_id=visit, unit_id=unit, cadre_id=cadre, situation="absent_from_post",
                description="窗口无人", found_on="2026-03-02")
    )  # fmt: skip
    [case] = wait_for(lambda: rpc.accountability.list_cases({"cadre_id": cadre})["cases"])
    rpc.accountability.impose_measure(command(case_id=case["case_id"], measure="talk",
                                              reason="离岗", decided_on="2026-04-01"))  # fmt: skip
    rpc.accountability.publish_result(command(case_id=case["case_id"], summary="约谈",
                                              published_on="2026-04-01"))  # fmt: skip
    wait_for(lambda: rpc.records.public_records({})["total"] == 1)

    # Sealed at rest: the logs hold no plaintext of the personal fields, the answers do.
    in_clear = mentions(database, NAME, BIRTH)
    assert in_clear and not [f for f in in_clear if f.startswith("cadreregistry_events")]
    assert rpc.cadre_registry.get_cadre({"cadre_id": cadre})["name"] == NAME
    assert rpc.records.personnel_file({"cadre_id": cadre})["name"] == NAME
    assert rpc.records.public_records({})["records"][0]["cadre_name"] == NAME
    assert rpc.records.public_records({})["records"][0]["summary"] == "约谈"
    signing = tmp_path / "signing.pem"  # the city's key: it signs the export below too
    signing.write_bytes(new_private_key_pem())
    before = published_record_proof(mongodb_uri, database.name, signing, tmp_path / "before.json")
    assert "ok: cadre_name: confirmed" in before

    erased = rpc.cadre_registry.erase_personal_data(
        command(cadre_id=cadre, reason="本人申请，依法删除", erased_on="2026-04-01")
    )  # fmt: skip
    assert erased == {"cadre_id": cadre, "personal_data_erased": True}
    view = rpc.cadre_registry.get_cadre({"cadre_id": cadre})
    assert (view["name"], view["gender"], view["birth_date"]) == (None, None, None)
    assert view["personal_data_erased"] and view["post"] == "副局长"  # the record stays
    file = wait_for(lambda: (f := rpc.records.personnel_file({"cadre_id": cadre}))
                    ["personal_data_erased"] and f)  # fmt: skip
    assert file["name"] is None and file["decisions"][0]["kind"]["code"] == "talk"
    record = wait_for(lambda: (r := rpc.records.public_records({})["records"][0])
                      ["cadre_name"] is None and r)  # fmt: skip
    assert record["unit"] == "市住房和城乡建设局"
    assert record["summary"] is None  # the published text may name the cadre: withheld too
    # the record's proof still verifies; nothing can confirm the name against its leaf now
    after = published_record_proof(mongodb_uri, database.name, signing, tmp_path / "after.json")
    assert "WITHHELD: cadre_name: not shown (erased or withheld)" in after
    proof = json.loads((tmp_path / "after.json").read_text())
    assert proof["leaf"] == json.loads((tmp_path / "before.json").read_text())["leaf"]
    assert proof["salts"] == {"cadre_name": None, "summary": None}
    keywork = lambda: rpc.records.projections_status({})["keywork"]["logs"].values()  # noqa: E731
    wait_for(lambda: all(log["lag"] == 0 for log in keywork()))  # the key work's page too

    assert mentions(database, NAME, BIRTH) == []  # every log, view, projection, key store
    datastore = MongoDBDatastore(mongodb_uri, database.name)
    try:
        for projection in (cls() for cls in PROJECTIONS):
            Projector(datastore, projection).rebuild()
        assert mentions(database, NAME, BIRTH) == []
        assert rpc.records.personnel_file({"cadre_id": cadre})["name"] is None
        for log in logs(database):
            assert verify_log(database, log).ok, log
        export(database, tmp_path / "export", load_private_key(signing))
        for path in (tmp_path / "export").rglob("*"):
            if path.is_file():
                assert NAME.encode() not in path.read_bytes() and BIRTH.encode() not in (
                    path.read_bytes()), path  # fmt: skip
    finally:
        datastore.close()

    again = command(cadre_id=cadre, reason="再次", erased_on="2026-04-01")
    with pytest.raises(RemoteError) as refused:
        rpc.cadre_registry.erase_personal_data(again)
    assert refused.value.exc_type == "RuleViolation" and "registry.already_erased" in str(
        refused.value)  # fmt: skip


def test_retention_erases_when_its_day_has_passed(cluster) -> None:
    rpc, database = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市审计局"))["unit_id"]

    def register(name: str) -> str:
        return rpc.cadre_registry.register_cadre(
            command(name=name, gender="male", birth_date="1970-01-02", unit_id=unit, post="科员",
                    rank="staff", post_kind="non_leadership", effective_date="2020-01-01")
        )["cadre_id"]  # fmt: skip

    leaving, staying = register("司马光"), register("诸葛亮")
    for cadre, until in ((leaving, "2026-03-31"), (staying, "2026-04-01")):
        answer = rpc.cadre_registry.set_personal_data_retention(
            command(cadre_id=cadre, keep_until=until, basis="离职满五年")
        )  # fmt: skip
        assert answer == {"cadre_id": cadre, "keep_until": until}
    gone = wait_for(lambda: (c := rpc.cadre_registry.get_cadre({"cadre_id": leaving}))
                    ["personal_data_erased"] and c)  # fmt: skip
    assert gone["name"] is None and gone["keep_personal_data_until"] == "2026-03-31"
    kept = rpc.cadre_registry.get_cadre({"cadre_id": staying})  # today is 2026-04-01
    assert kept["name"] == "诸葛亮" and not kept["personal_data_erased"]
    assert rpc.records.personnel_file({"cadre_id": staying})["name"] == "诸葛亮"  # caught up
    assert rpc.records.personnel_file({"cadre_id": leaving})["name"] is None
    wait_for(lambda: mentions(database, "司马光") == [])  # the public projection too
    assert mentions(database, "诸葛亮")


def test_an_erased_rater_is_nobody_in_the_log_and_their_ratings_still_count(
    cluster, mongodb_uri
) -> None:
    rpc, database = cluster
    unit = rpc.cadre_registry.register_unit(command(name="市政务服务中心"))["unit_id"]
    cadre = rpc.cadre_registry.register_cadre(
        command(name="窗口负责人", gender="male", birth_date="1985-05-05", unit_id=unit,
                post="主任", rank="township_section", post_kind="leadership",
                effective_date="2025-01-01")
    )["cadre_id"]  # fmt: skip
    phone = "13900001111"
    for channel, value in (("phone_spot_check", "dissatisfied"), ("service_window", "satisfied")):
        rpc.evaluations.submit_rating(command(cadre_id=cadre, channel=channel, period="2026-03",
                                              value=value, rater_ref=phone))  # fmt: skip
    hashes = {hmac.new(RATER_KEY.encode(), f"{c}:{phone}".encode(), hashlib.sha256).hexdigest()
              for c in ("phone_spot_check", "service_window")}  # fmt: skip
    datastore = MongoDBDatastore(mongodb_uri, database.name)
    try:
        reader = LogReader(datastore, "evaluations")

        def raters() -> set:
            """Who each stored rating says gave it, opened as a reader of the log would."""
            found = set()
            for document in database[LOGS["evaluations"]].find({"topic": RATED}):
                state = reader.sealer.open(reader.transcoder.decode(document["state"]))
                found.add(state["rater_hash"])
            return found

        assert raters() == hashes and mentions(database, *hashes) == []  # sealed at rest
        answer = rpc.evaluations.erase_rater(
            command(rater_ref=phone, reason="本人申请删除", erased_on="2026-04-01")
        )  # fmt: skip
        assert set(answer) == {"erasure_id"}
        assert raters() == {None}
        assert mentions(database, phone) == []
        again = rpc.evaluations.submit_rating(
            command(cadre_id=cadre, channel="phone_spot_check", period="2026-03",
                    value="satisfied", rater_ref=phone)
        )  # fmt: skip
        assert again["counted"]  # who rated before is forgotten
        phone_hash = hmac.new(RATER_KEY.encode(), f"phone_spot_check:{phone}".encode(),
                              hashlib.sha256).hexdigest()  # fmt: skip
        assert raters() == {None, phone_hash}  # a new key; the old ratings stay unreadable
        for log in logs(database):
            assert verify_log(database, log).ok, log
    finally:
        datastore.close()
