"""The published record's transparency log (issue 26): a record's proof verifies with the
standard-library ``scripts/verify-record`` and the city's pinned key; a tampered record, a
tampered tree head, a head signed by another key, a rewritten history and a record left out
are each refused; a witness refuses to co-sign a head that does not extend the last it
co-signed; after an erasure the proof still verifies and the name can no longer be
confirmed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.errors import DuplicateKeyError

from events.audit import merkle
from events.audit.checkpoints import SignedHeads, key_id, new_private_key_pem
from events.audit.transparency import (
    HEADS,
    LEAVES,
    Conflict,
    TransparencyLog,
    TreeProblem,
    make_leaf,
)
from events.identity.personal import PersonalKeys, subject_of
from tests.events.support import FreshDatabase
from youwei.cli import main

VERIFY_RECORD = Path(__file__).resolve().parents[2] / "scripts" / "verify-record"
KINDS = ("record", "record_withdrawn")


def record(number: int, name: str | None = "王芳", summary: str | None = "未按时整改") -> dict:
    return {"record_id": f"r{number}", "published_on": f"2026-03-0{number % 9 + 1}",
            "cadre_name": name, "unit": "玉溪市某局", "post": "科长",
            "decision": {"code": "admonishment", "zh": "诫勉", "en": "admonishment"},
            "summary": summary}  # fmt: skip


def split(shown: dict) -> tuple[dict, dict]:
    personal = {k: shown[k] for k in ("cadre_name", "summary")}
    return {k: v for k, v in shown.items() if k not in personal}, personal


class TransparencyLogCase(FreshDatabase):
    def setUp(self) -> None:
        super().setUp()
        self.database = self.factory.datastore.database
        self.tree = TransparencyLog(self.database)
        self.city = Ed25519PrivateKey.generate()
        self.pin = key_id(self.city.public_key())
        self.personal = PersonalKeys(self.database)
        self.folder = Path(self.enterContext(_tempdir()))

    def publish(self, numbers, cadre: str = "cadre-1") -> dict:
        key = self.personal.key_to_seal(subject_of(cadre))
        for number in numbers:
            shown, personal = split(record(number))
            self.tree.append(make_leaf("record", f"r{number}", shown, personal, key),
                             {"log": "accountability_events", "position": number, "n": 0},
                             {"cadre_id": cadre})  # fmt: skip
        return self.tree.sign_head(self.city)

    def proof_file(self, name: str, number: int, shown: dict | None = None, **options) -> Path:
        proof = self.tree.proof(f"r{number}", KINDS, shown or record(number), **options)
        path = self.folder / name
        path.write_text(json.dumps(proof, ensure_ascii=False))
        return path

    def verify(self, proof: Path, *options: str, trust: str | None = None):
        done = subprocess.run(
            [sys.executable, str(VERIFY_RECORD), str(proof), "--trust", trust or self.pin,
             *options], capture_output=True, text=True, timeout=60)  # fmt: skip
        return done.returncode, done.stdout + done.stderr

    def edited(self, path: Path, change) -> Path:
        proof = json.loads(path.read_text())
        change(proof)
        edited = path.with_name("edited-" + path.name)
        edited.write_text(json.dumps(proof, ensure_ascii=False))
        return edited

    def rewrite_history(self) -> None:
        """What whoever holds the database and the city's key can do: change a published
        leaf, drop the heads, sign the rewritten tree."""
        shown, personal = split(record(2, summary="已整改"))
        key = self.personal.key(subject_of("cadre-1"))
        data = make_leaf("record", "r2", shown, personal, key)
        self.database[LEAVES].update_one(
            {"_id": 1},
            {
                "$set": {
                    "data": data,
                    "hash": merkle.leaf_hash(
                        json.dumps(
                            data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                        ).encode()
                    ).hex(),
                }
            },
        )
        self.database[HEADS].delete_many({})
        self.publish([5])

    # -- the record as published --------------------------------------------------------

    def test_a_record_as_shown_verifies_with_the_pinned_key(self) -> None:
        self.publish([1, 2, 3])
        code, out = self.verify(self.proof_file("r2.json", 2))
        assert code == 0, out
        assert "leaf 1 (record r2) is in that tree" in out
        assert "cadre_name: confirmed" in out and out.strip().endswith("verified")

    def test_a_tampered_record_is_refused(self) -> None:
        self.publish([1, 2, 3])
        path = self.proof_file("r2.json", 2)
        for field, value in (("unit", "另一个局"), ("cadre_name", "李四"), ("summary", "无")):
            code, out = self.verify(
                self.edited(path, lambda p, f=field, v=value: p["record"].update({f: v}))
            )
            assert code == 1 and f"REFUSED: the record shows {field}" in out, out

    def test_a_tampered_leaf_is_not_in_the_tree(self) -> None:
        self.publish([1, 2, 3])

        def change(proof: dict) -> None:
            proof["record"]["unit"] = proof["leaf"]["shown"]["unit"] = "另一个局"

        code, out = self.verify(self.edited(self.proof_file("r2.json", 2), change))
        assert code == 1 and "is not in the tree of 3 leaves" in out, out

    def test_a_tampered_tree_head_is_refused(self) -> None:
        self.publish([1, 2, 3])
        path = self.proof_file("r2.json", 2)
        for field, value in (("tree_size", 4), ("root_hash", "00" * 32)):
            code, out = self.verify(
                self.edited(path, lambda p, f=field, v=value: p["tree_head"].update({f: v}))
            )
            assert code == 1 and "the city's signature does not verify" in out, out

    def test_a_head_signed_by_a_key_not_pinned_is_refused(self) -> None:
        self.publish([1, 2, 3])
        code, out = self.verify(self.proof_file("r2.json", 2), trust="0123456789abcdef")
        assert code == 1 and "not by a key you trust (0123456789abcdef)" in out, out

    def test_a_rewritten_history_is_refused_against_a_head_held_before(self) -> None:
        self.publish([1, 2, 3])
        held = self.proof_file("held.json", 1)
        self.publish([4])
        code, out = self.verify(self.proof_file("r4.json", 4, since=(3,)), "--against", str(held))
        assert code == 0 and "the head of 4 extends the head of 3" in out, out
        self.rewrite_history()
        code, out = self.verify(self.proof_file("r5.json", 5, since=(3,)), "--against", str(held))
        assert code == 1 and "is not extended by the head of 5" in out, out
        code, out = self.verify(self.proof_file("r5b.json", 5), "--against", str(held))
        assert code == 1 and "fetch the proof with ?since=3" in out, out

    def test_a_record_left_out_of_the_log_is_refused(self) -> None:
        """The page shows r9, but the log has no leaf of it: a proof made of another
        leaf's path does not lead to the signed head; and a head that drops a record an
        earlier head had does not extend it."""
        self.publish([1, 2, 3])
        held = self.proof_file("held.json", 3)
        shown, personal = split(record(9))
        forged = self.edited(
            held,
            lambda p: p.update(
                record=record(9), leaf=make_leaf("record", "r9", shown, personal, None)
            ),
        )
        code, out = self.verify(forged)
        assert code == 1 and "was left out of the log" in out, out
        self.database[LEAVES].delete_one({"_id": 1})  # r2 left out of the tree from now on
        rest = list(self.database[LEAVES].find({"_id": {"$gt": 1}}).sort("_id", 1))
        self.database[LEAVES].delete_many({"_id": {"$gt": 1}})
        for index, document in enumerate(rest, start=1):
            self.database[LEAVES].insert_one({**document, "_id": index})
        self.database[HEADS].delete_many({})
        self.publish([6, 7])
        code, out = self.verify(self.proof_file("r6.json", 6, since=(3,)), "--against", str(held))
        assert code == 1 and "is not extended by the head of 4" in out, out

    def test_a_leaf_is_appended_once_per_source_whoever_races(self) -> None:
        self.publish([1, 2])
        source = {"log": "accountability_events", "position": 2, "n": 0}
        again = make_leaf("record", "r2", *split(record(2)), None)
        # a round redone after one died half-way: the leaf of that source is there already
        assert self.tree.append(again, source, {}) == 1 and self.tree.size() == 2
        late = TransparencyLog(self.database)  # a replica that read the size before
        late.size = lambda: 1
        with pytest.raises(Conflict):
            late.append(again, {**source, "position": 3}, {})
        with pytest.raises(DuplicateKeyError):  # the same source at another index
            self.database[LEAVES].insert_one(
                {"_id": 2, "data": again, "hash": "", "source": {**source, "position": 1}}
            )
        assert self.tree.size() == 2

    def test_a_cached_tree_reads_only_new_leaves_and_gives_the_same_proofs(self) -> None:
        self.publish([1, 2, 3])
        cached = TransparencyLog(self.database, merkle.Tree())
        assert cached.proof("r2", KINDS, record(2)) == self.tree.proof("r2", KINDS, record(2))
        self.publish([4, 5])
        assert cached.proof("r4", KINDS, record(4), since=(3,)) == self.tree.proof(
            "r4", KINDS, record(4), since=(3,)
        )
        assert len(cached.cache) == 5
        self.database[LEAVES].delete_many({})  # another tree under the same database name
        self.database[HEADS].delete_many({})
        self.publish([7])
        assert cached.proof("r7", KINDS, record(7)) == self.tree.proof("r7", KINDS, record(7))
        assert len(cached.cache) == 1

    def test_signing_refuses_leaves_that_no_longer_extend_the_last_head(self) -> None:
        self.publish([1, 2, 3])
        self.database[LEAVES].update_one({"_id": 0}, {"$set": {"hash": "00" * 32}})
        with pytest.raises(TreeProblem, match="no longer extend the head of 3"):
            self.publish([4])
        assert self.tree.latest_head()["tree_size"] == 3

    def test_the_signer_remembers_its_last_head_outside_the_database(self) -> None:
        remembered = SignedHeads(self.folder / "city.pem.signed-heads.json")
        self.publish([1, 2, 3])
        self.tree.sign_head(self.city, remembered)
        self.rewrite_history()  # the heads dropped: the database alone no longer knows
        source = {"log": "accountability_events", "position": 6, "n": 0}
        self.tree.append(make_leaf("record", "r6", *split(record(6)), None), source, {})
        with pytest.raises(TreeProblem, match="no longer extend the head of 3"):
            self.tree.sign_head(self.city, remembered)

    # -- witnesses ---------------------------------------------------------------------

    def test_a_witness_cosigns_a_head_extending_its_last_and_the_proof_shows_it(self) -> None:
        witness = Ed25519PrivateKey.generate()
        self.publish([1, 2])
        first, _ = self.tree.cosign(witness, None, self.pin)
        self.publish([3])
        second, cosignature = self.tree.cosign(witness, first, self.pin)
        assert (second["tree_size"], cosignature["witness"]) == (3, key_id(witness.public_key()))
        code, out = self.verify(self.proof_file("r3.json", 3), "--witness", cosignature["witness"])
        assert code == 0 and f"co-signed by witness {cosignature['witness']}" in out, out
        assert self.tree.latest_head(witnessed=True)["tree_size"] == 3

    def test_a_witness_refuses_a_head_that_does_not_extend_the_last_it_cosigned(self) -> None:
        witness = Ed25519PrivateKey.generate()
        self.publish([1, 2, 3])
        last, _ = self.tree.cosign(witness, None, self.pin)
        self.rewrite_history()
        with pytest.raises(TreeProblem, match="does not extend the head of 3"):
            self.tree.cosign(witness, last, self.pin)
        assert self.tree.latest_head()["witnesses"] == []
        code, out = self.verify(self.proof_file("r5.json", 5), "--witness",
                                key_id(witness.public_key()))  # fmt: skip
        assert code == 1 and "no co-signature of witness" in out, out

    def test_youwei_audit_witness_keeps_its_last_head_and_refuses_a_rewrite(self) -> None:
        key = self.folder / "witness.pem"
        key.write_bytes(new_private_key_pem())
        where = ["--trust", self.pin, "--uri", os.environ["MONGODB_URI"],
                 "--database", self.database_name]  # fmt: skip
        self.publish([1, 2, 3])
        done = CliRunner().invoke(main, ["audit", "witness", "--key", str(key), *where])
        assert done.exit_code == 0 and "co-signed the head of 3 leaves" in done.output, done.output
        state = Path(f"{key}.cosigned-head.json").read_text()
        self.rewrite_history()
        done = CliRunner().invoke(main, ["audit", "witness", "--key", str(key), *where])
        assert done.exit_code == 1 and "does not extend the head of 3" in done.output, done.output
        assert Path(f"{key}.cosigned-head.json").read_text() == state
        assert self.tree.latest_head()["witnesses"] == []

    def test_a_witness_refuses_a_head_not_signed_by_the_pinned_key(self) -> None:
        self.publish([1])
        with pytest.raises(TreeProblem, match="not signed by a trusted key"):
            self.tree.cosign(Ed25519PrivateKey.generate(), None, "0123456789abcdef")

    # -- erasure -----------------------------------------------------------------------

    def test_after_an_erasure_the_proof_verifies_and_the_name_cannot_be_confirmed(self) -> None:
        self.publish([1, 2, 3])
        before = json.loads(self.proof_file("before.json", 2).read_text())
        assert before["salts"]["cadre_name"]
        assert self.personal.mark(["cadre-1"], "Registry:erasure-1")
        self.personal.destroy("Registry:erasure-1")
        erased = record(2, name=None, summary=None)  # as the page shows it now
        after = self.proof_file("after.json", 2, shown=erased)
        proof = json.loads(after.read_text())
        assert proof["leaf"] == before["leaf"] and proof["audit_path"] == before["audit_path"]
        assert proof["salts"] == {"cadre_name": None, "summary": None}
        code, out = self.verify(after)
        assert code == 0 and "cadre_name: not shown (erased or withheld)" in out, out
        named = self.edited(after, lambda p: p["record"].update(cadre_name="王芳"))
        code, out = self.verify(named)
        assert code == 1 and "cadre_name: shown, but the proof gives no salt" in out, out

    def test_a_field_withheld_from_a_proof_is_reported_not_passed(self) -> None:
        """A proof with its summary removed ended verified with "ok: summary: not shown", as
        if a check had passed: a withheld field is reported as such; only the committed
        fields may be withheld, any other field left out is refused."""
        self.publish([1, 2])
        path = self.proof_file("proof.json", 2)
        withheld = self.edited(path, lambda p: p["record"].pop("summary"))
        code, out = self.verify(withheld)
        assert code == 0 and "WITHHELD: summary: not shown" in out, out
        assert "ok: summary" not in out
        shown = next(f for f in json.loads(path.read_text())["leaf"]["shown"] if f != "kind")
        code, out = self.verify(self.edited(path, lambda p: p["record"].pop(shown)))
        assert code == 1 and "REFUSED" in out, out

    def test_shown_compares_the_proofs_record_with_the_page(self) -> None:
        """verify-record checked the proof's own record against the leaf only: a page that
        showed something else still ended verified. --shown compares them."""
        self.publish([1, 2])
        path = self.proof_file("proof.json", 2)
        page = self.folder / "records.json"
        page.write_text(json.dumps({"records": [record(1), record(2)]}, ensure_ascii=False))
        code, out = self.verify(path, "--shown", str(page))
        assert code == 0 and f"ok: the proof's record is the one {page} shows" in out, out
        page.write_text(json.dumps({"records": [{**record(2), "unit": "某局"}]}))
        code, out = self.verify(path, "--shown", str(page))
        assert code == 1 and f"REFUSED: {page} shows unit = '某局'" in out, out
        page.write_text(json.dumps({"records": [record(1)]}))
        code, out = self.verify(path, "--shown", str(page))
        assert code == 1 and f"REFUSED: {page} shows no record r2" in out, out

    def test_verify_records_trust_help_does_not_send_the_citizen_to_the_page(self) -> None:
        done = subprocess.run([sys.executable, str(VERIFY_RECORD), "--help"],
                              capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        assert "does not control" in done.stdout and "not today's page" in done.stdout


def _tempdir():
    import tempfile

    return tempfile.TemporaryDirectory()
