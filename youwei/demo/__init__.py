"""``youwei demo``: a scripted year (2025) of a fictional city, 云岭市, loaded through the
services' RPC API and nothing else.

``plan_year(seed, scale)`` is pure: it writes the year as a list of steps (one RPC command
or query each), the same for the same seed and scale. At scale 1.0 the city has its units,
46 city-level leaders with their shares of the key work, 628 county-level cadres with a
liaison task each, and section-level cadres and staff; then the year's inspections
(undercover visits with mixed teams, inspection tours, supervision and responsibility
checks), findings in all 16 situations, rectification letters, ratings through the five
channels, annual assessments, accountability cases with their measures, handlings,
exemptions, appeals and publications, and commendations.

``Loader.load(plan)`` sends the steps over nameko RPC with a few workers, each step after
the steps it needs. Command ids derive from the seed, the scale and the step, so a re-run
returns the first results and records nothing (docs/rpc.md: retry with the same
``command_id``).

The accountability service opens a case by itself for every finding about a cadre and for
every ``incompetent`` grade (docs/events.md, policies): the plan never opens those, it
*finds* them (``list_cases``) and goes on from there. Such a case is dated by the service's
own "today", so the steps of its chain are planned from the day it would open and moved
later by as many days as it opened later (``CaseDay``), but never past the day it opened:
that was the services' today, and nothing is dated after it (docs/rpc.md). The year ends
before today, so nothing the demo loads is in the future; its annual assessments are
concluded on the services' today (the year's assessment period has begun). Rectification
letters left without an accepted report become overdue at the inspections service's next
deadline check (by its today); a letter that names a task then opens a case against the
task's owner.

The package: ``city.toml`` is the city as data (names, units and posts, the words of the
year), loaded by ``data``; ``steps`` holds the plan's vocabulary (``Step``, ``Plan``, the
placeholders ``Ref`` and ``CaseDay``); ``script`` the state the flows share; the flows of
the year are ``city``, ``inspections``, ``cases``, ``ratings``, ``assessments`` and
``commendations``, run in order by ``year.plan_year``; ``loader`` sends a plan (``Loader``,
``main``).
"""

from .data import CITY
from .loader import DEFAULT_AMQP_URI, SERVICES, DemoError, Loader, main, resolve, safe_uri
from .ratings import EVERYDAY_BULK, grade_of
from .script import Script
from .steps import NAMESPACE, PERSON, YEAR, CaseDay, Plan, Ref, Step, placeholders
from .year import FACT_LISTS, describe, plan_year

__all__ = [
    "CITY",
    "DEFAULT_AMQP_URI",
    "EVERYDAY_BULK",
    "FACT_LISTS",
    "NAMESPACE",
    "PERSON",
    "SERVICES",
    "YEAR",
    "CaseDay",
    "DemoError",
    "Loader",
    "Plan",
    "Ref",
    "Script",
    "Step",
    "describe",
    "grade_of",
    "main",
    "placeholders",
    "plan_year",
    "resolve",
    "safe_uri",
]
