"""The ``evaluations`` service's contracts: one schema per RPC method (docs/rpc.md)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import TEXT, Command, Day, Strict, codes, matches
from schemas.evaluations.reference import (
    ASSESSMENT_RULES,
    CHANNELS,
    NUMERIC_SCALES,
    SCALES,
)

MONTH = matches("[0-9]{4}-(0[1-9]|1[0-2])", "must be a month, YYYY-MM")
MONTH_OR_YEAR = matches("[0-9]{4}(-(0[1-9]|1[0-2]))?", "must be a month (YYYY-MM) or a year (YYYY)")
YEAR = validate.Range(min=2000, max=2099)  # the years whose days are all within Day's range


class SubmitRating(Command):
    """One rating of a cadre through one channel. ``rater_ref`` is the channel's own
    reference for the rater (a phone number, a ticket, a survey response id): it is never
    stored, only a keyed hash of it, so repeated ratings are counted once."""

    cadre_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=codes(CHANNELS))
    period = fields.String(required=True, validate=MONTH)
    value = fields.Raw(required=True)
    rater_ref = fields.String(required=True, validate=validate.Length(min=1, max=200))

    @validates_schema
    def _value_on_the_channels_scale(self, data: dict, **kwargs: object) -> None:
        check_scale(data)


def check_scale(data: dict) -> None:
    """A rating's ``value`` is on its ``channel``'s scale."""
    channel, value = data.get("channel"), data.get("value")
    if channel in SCALES and (not isinstance(value, str) or value not in SCALES[channel]):
        allowed = ", ".join(SCALES[channel])
        raise ValidationError({"value": [f"on the {channel} scale, one of: {allowed}"]})
    if channel in NUMERIC_SCALES:
        low, high = NUMERIC_SCALES[channel]
        if type(value) is not int or not low <= value <= high:
            raise ValidationError(
                {"value": [f"on the {channel} scale, an integer from {low} to {high}"]}
            )


MAX_RATINGS = 500
"""The most ratings one ``submit_ratings`` command carries."""


class Rating(Strict):
    """One rating of ``submit_ratings``: the fields of ``submit_rating`` without the
    command's own."""

    cadre_id = fields.UUID(required=True)
    channel = fields.String(required=True, validate=codes(CHANNELS))
    period = fields.String(required=True, validate=MONTH)
    value = fields.Raw(required=True)
    rater_ref = fields.String(required=True, validate=validate.Length(min=1, max=200))

    @validates_schema
    def _value_on_the_channels_scale(self, data: dict, **kwargs: object) -> None:
        check_scale(data)


class SubmitRatings(Command):
    """Up to ``MAX_RATINGS`` ratings in one command: each is decided on its own (recorded,
    a duplicate, or refused with its reason), all in one append; a retry with the same
    ``command_id`` answers the same outcomes."""

    ratings = fields.List(
        fields.Nested(Rating),
        required=True,
        validate=validate.Length(
            min=1, max=MAX_RATINGS, error=f"from 1 to {MAX_RATINGS} ratings in one command"
        ),
    )


class RatingsSummary(Strict):
    cadre_id = fields.UUID(required=True)
    period = fields.String(required=True, validate=MONTH_OR_YEAR)


class ConcludeAnnualAssessment(Command):
    """``concluded_on``: the day the assessment was concluded (default: the city's today),
    no later than today and within the year's assessment period (docs/rpc.md)."""

    cadre_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=YEAR)
    rules_version = fields.String(load_default=None, validate=codes(ASSESSMENT_RULES))
    concluded_on = Day()


class GetAssessment(Strict):
    cadre_id = fields.UUID(required=True)
    year = fields.Integer(required=True, strict=True, validate=YEAR)


class EraseRater(Command):
    """Erase a rater: the keys of ``rater_ref``'s hashes on every channel are destroyed, so
    their ratings still count but no log, export or rebuild says who gave them."""

    rater_ref = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=TEXT)
    erased_on = Day(required=True)
