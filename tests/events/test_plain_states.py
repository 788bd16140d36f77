"""``LogReader`` decodes a stored state straight into its plain form (``plain_state``): for
every state the transcoder stores, that is what decoding it into objects and then making
those plain gives; a state with a sealed field is left to the transcoder and the sealer.
An event's id is written as text the same way, without the ``UUID`` in between."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.identity.personal import Sealed
from events.log.published import event_id, event_id_text, plain, plain_state
from events.log.transcoding import transcoder

pytestmark = pytest.mark.plain

CODER = transcoder()
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(),
    st.uuids(),
    st.dates(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])),
    st.decimals(allow_nan=False, allow_infinity=False),
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), values, max_size=6))
def test_a_state_decoded_plain_is_the_transcoders_made_plain(state) -> None:
    stored = CODER.encode(state)
    assert plain_state(stored) == plain(CODER.decode(stored))


def test_the_forms_of_each_kind_of_value() -> None:
    cadre = uuid4()
    stored = CODER.encode({"cadre_id": cadre, "on": date(2026, 3, 2), "score": Decimal("4.5"),
                           "at": datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
                           "basis": [{"finding_id": cadre}]})  # fmt: skip
    assert plain_state(stored) == {
        "cadre_id": str(cadre),
        "on": "2026-03-02",
        "score": Decimal("4.5"),
        "at": "2026-03-02T08:30:00+00:00",
        "basis": [{"finding_id": str(cadre)}],
    }


def test_a_sealed_state_is_left_to_the_sealer() -> None:
    stored = CODER.encode({"name": Sealed("subject", b"nonce", b"ct"), "unit_id": uuid4()})
    assert plain_state(stored) is None


@given(st.sampled_from(["inspections_events", "accountability_events"]), st.integers(1, 10**9))
def test_an_event_id_as_text_is_its_uuid_as_text(log: str, position: int) -> None:
    assert event_id_text(log, position) == str(event_id(log, position))
