"""An erasure's marks on personal keys: decided, the keys are marked and nothing new is sealed
under them; recorded, the keys are destroyed; never recorded (the process died between the
decision and the record, and nobody retried), the marks come off after an hour and the keys
are kept, since the personal data was never erased."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from events.identity.personal import Erased, PersonalKeys, subject_of
from tests.events.support import FreshDatabase


class PersonalKeysMarks(FreshDatabase):
    def setUp(self) -> None:
        super().setUp()
        self.keys = PersonalKeys(self.factory.datastore.database)
        self.subjects = [subject_of(person) for person in ("张三", "李四")]
        self.sealed = {s: self.keys.key_to_seal(s) for s in self.subjects}
        self.erasure = "Registry:0f3c5a8e-0000-4000-8000-000000000001"
        assert self.keys.mark(["张三", "李四"], self.erasure) == self.subjects

    def marked_since(self, when: datetime) -> None:
        self.keys.keys.update_many({"erasing": self.erasure}, {"$set": {"erasing_since": when}})

    def test_a_marked_key_seals_nothing_new_and_is_not_marked_twice(self) -> None:
        for subject in self.subjects:
            with pytest.raises(Erased, match="is being erased"):
                self.keys.key_to_seal(subject)
        assert self.keys.mark(["张三"], self.erasure) == []
        assert set(self.keys.pending("Registry")) == {self.erasure}
        assert self.keys.pending("Evaluations") == {}

    def test_a_recorded_erasure_is_finished_by_destroying_its_keys(self) -> None:
        assert self.keys.finish("Registry", lambda erasure: erasure == self.erasure) == 2
        assert all(self.keys.key(s) is None for s in self.subjects)
        assert self.keys.pending("Registry") == {}

    def test_an_unrecorded_erasure_keeps_its_marks_for_an_hour(self) -> None:
        self.marked_since(datetime.now(UTC) - timedelta(minutes=59))
        assert self.keys.finish("Registry", lambda erasure: False) == 0
        assert set(self.keys.pending("Registry")) == {self.erasure}
        assert all(self.keys.key(s) == self.sealed[s] for s in self.subjects)

    def test_an_unrecorded_erasure_older_than_an_hour_is_abandoned_and_keeps_the_keys(
        self,
    ) -> None:
        self.marked_since(datetime.now(UTC) - timedelta(minutes=61))
        assert self.keys.finish("Registry", lambda erasure: False) == 0
        assert self.keys.pending("Registry") == {}
        for subject in self.subjects:
            assert self.keys.key(subject) == self.sealed[subject]
            assert self.keys.key_to_seal(subject) == self.sealed[subject]
