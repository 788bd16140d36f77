"""Time for services whose rules depend on "today" (deadlines), given as nameko
extensions so that tests and demos can fix the date exactly.

- ``Clock``: a dependency whose ``today()`` is the date in the city's time zone
  (config ``YOUWEI_TIMEZONE``, default ``Asia/Shanghai``), or the fixed date of config
  ``YOUWEI_TODAY`` (ISO) when set. Tests replace it with their own clock.
- ``every``: a timer entrypoint whose interval in seconds comes from a config key, so a
  deployment (or a test) chooses how often a deadline check runs.
- ``not_after_today``: the rule that every fact happens on a day no later than the city's
  today (DOMAIN.md). There is no slack: a fact dated tomorrow in the city's time zone is
  refused, whatever the caller's own clock says.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from schemas.errors import RuleViolation


class CityClock:
    def __init__(self, timezone: str, fixed: date | None = None) -> None:
        self.zone = ZoneInfo(timezone)
        self.fixed = fixed

    def today(self) -> date:
        return self.fixed or datetime.now(self.zone).date()


def not_after_today(
    today: date, payload: dict[str, Any], fields: tuple[str, ...], rule: str
) -> None:
    """Refuse (``RuleViolation`` ``rule``) a command that dates a fact after ``today``:
    ``fields`` are the payload's dates of what happened."""
    for name in fields:
        day = payload.get(name)
        if day is not None and day > today:
            raise RuleViolation(rule, f"{name} {day} is after the city's today ({today})")


class Clock(DependencyProvider):
    def setup(self) -> None:
        config = self.container.config
        fixed = config.get("YOUWEI_TODAY")
        try:
            self.clock = CityClock(
                config.get("YOUWEI_TIMEZONE") or "Asia/Shanghai",
                date.fromisoformat(str(fixed)) if fixed else None,
            )
        except (ValueError, KeyError) as error:
            msg = f"YOUWEI_TIMEZONE or YOUWEI_TODAY is not valid: {error}"
            raise OSError(msg) from None

    def get_dependency(self, worker_ctx: object) -> CityClock:
        return self.clock


class ConfiguredTimer(Timer):
    def __init__(self, config_key: str, default_seconds: float, **kwargs: object) -> None:
        super().__init__(interval=default_seconds, **kwargs)
        self.config_key = config_key

    def setup(self) -> None:
        value = self.container.config.get(self.config_key)
        if value is not None:
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                seconds = 0
            if seconds <= 0:
                msg = f"{self.config_key} must be a positive number of seconds, not {value!r}"
                raise OSError(msg)
            self.interval = seconds


every = ConfiguredTimer.decorator
