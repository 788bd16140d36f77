"""Every service signs its own log with the one audit key and registers it at start-up (trust
on first use). A signer that read the registry before another registered the key refused it,
"signing key X is not registered; key X is in service", 235 ms after it was registered, on a
fresh install (the operator walk-through of 2026-12-08): a critical alert. Over SecantusDB."""

from __future__ import annotations

import threading

import pytest

from events.audit.checkpoints import (
    CHECKPOINTS,
    Keys,
    SigningKeyError,
    key_id,
    load_private_key,
    new_private_key_pem,
    sign_head,
)
from tests.events.test_audit import LOG, database, key_file

__all__ = ["database", "key_file"]  # the fixtures, imported
pytestmark = pytest.mark.plain


def test_a_key_registered_between_a_signers_two_reads_is_not_refused(database, key_file):
    """The interleaving of the incident, made to happen: signer A finds no such key, signer
    B registers it, A reads the key in service."""
    private = load_private_key(key_file)
    a, b = Keys(database), Keys(database)
    real_current = Keys.current

    def b_registers_first(self):
        Keys.current = real_current
        b.ensure(private)
        return real_current(self)

    Keys.current = b_registers_first
    try:
        assert a.ensure(private) == key_id(private.public_key())
    finally:
        Keys.current = real_current
    assert [k["_id"] for k in Keys(database).all()] == [key_id(private.public_key())]


def test_signers_starting_together_sign_and_none_is_refused(database, key_file):
    private = load_private_key(key_file)
    start = threading.Barrier(8)
    refusals: list[str] = []

    def signer() -> None:
        start.wait()
        try:
            sign_head(database, private, LOG)
        except SigningKeyError as refused:
            refusals.append(str(refused))

    threads = [threading.Thread(target=signer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refusals == []
    assert {c["key_id"] for c in database[CHECKPOINTS].find({"log": LOG})} == {
        key_id(private.public_key())
    }
    assert len(Keys(database).all()) == 1


def test_another_key_is_still_refused_and_the_message_names_both(database, key_file, tmp_path):
    kept = load_private_key(key_file)
    Keys(database).ensure(kept)
    other_file = tmp_path / "other.pem"
    other_file.write_bytes(new_private_key_pem())
    other = load_private_key(other_file)
    with pytest.raises(SigningKeyError) as refused:
        Keys(database).ensure(other)
    message = str(refused.value)
    other_id, kept_id = key_id(other.public_key()), key_id(kept.public_key())
    assert f"signing key {other_id} is not registered" in message
    assert f"the key in service is {kept_id}" in message and other_id != kept_id
