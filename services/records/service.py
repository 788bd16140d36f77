"""The ``records`` nameko service: personnel decisions and public accountability records,
projected from the four services' logs (``services.records.projections``).

RPC: ``personnel_file``, ``eligible_for_promotion``, ``public_records``, ``honour_roll``,
``projections_status`` (docs/rpc.md). HTTP (nameko's ``@http``, on ``WEB_SERVER_ADDRESS``):
the public page at ``/`` and the same records as JSON at ``/records.json``; both take the
filters of ``public_records`` as query parameters and show only public fields. The honour
roll at ``/honours`` and ``/honours.json``, with the filters of ``honour_roll``; the key
work's progress at ``/keywork`` and ``/keywork.json`` (``q``, ``page``, ``page_size``).
"""

from __future__ import annotations

import json
from typing import Any

from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from events.audit.checkpoints import CheckpointSigner
from events.identity.agency import Access, rpc
from events.observability.dependency import Observability
from events.readmodels.projections import ProjectionsRunner
from events.runtime.clock import CityClock, Clock
from events.runtime.dependency import ApplicationDependency
from schemas import records as contract
from schemas.common import load
from schemas.errors import EXPECTED, InvalidCommand
from services.records.application import Records, RecordsLog
from services.records.keywork_page import render_key_work
from services.records.page import render_honour_roll, render_page
from services.records.projections import PROJECTIONS

FILTERS = ("q", "category", "situation", "decision", "month")
HONOUR_FILTERS = ("q", "kind", "month")


class RecordsService:
    name = "records"
    observability = Observability()
    access = Access()
    log: RecordsLog = ApplicationDependency(RecordsLog)  # the access record
    checkpoints = CheckpointSigner()
    projections = ProjectionsRunner(*PROJECTIONS)
    clock: CityClock = Clock()

    @property
    def records(self) -> Records:
        return Records(self.projections)

    @rpc(expected_exceptions=EXPECTED)
    def personnel_file(self, query: Any) -> dict[str, Any]:
        return self.records.personnel_file(load(contract.PersonnelFile, query), self.clock.today())

    @rpc(expected_exceptions=EXPECTED)
    def eligible_for_promotion(self, query: Any) -> dict[str, Any]:
        return self.records.eligible_for_promotion(load(contract.EligibleForPromotion, query))

    @rpc(expected_exceptions=EXPECTED)
    def public_records(self, query: Any) -> dict[str, Any]:
        return self.records.public_records(load(contract.PublicRecords, query))

    @rpc(expected_exceptions=EXPECTED)
    def honour_roll(self, query: Any) -> dict[str, Any]:
        return self.records.honour_roll(load(contract.HonourRoll, query))

    @rpc(expected_exceptions=EXPECTED)
    def projections_status(self, query: Any) -> dict[str, Any]:
        load(contract.ProjectionsStatus, query)
        return self.records.status()

    @http("GET", "/")
    def page(self, request: Request) -> Response:
        try:
            query = self._query(request)
        except InvalidCommand as error:
            return Response(
                json.dumps({"error": "InvalidCommand", "fields": error.errors}, ensure_ascii=False),
                400,
                mimetype="application/json",
            )
        records = self.records
        answer = records.public_records(query)
        charts = records.public_charts(query)
        options = {
            "categories": [{k: c[k] for k in ("code", "zh", "en")} for c in charts["by_category"]],
            "decisions": records.decision_options(),
            "months": charts.pop("months"),
        }
        filters = {key: query.get(key) for key in (*FILTERS, "page", "page_size")}
        html = render_page(answer, charts, filters, options, records.integrity())
        return Response(html, mimetype="text/html", content_type="text/html; charset=utf-8")

    @http("GET", "/records.json")
    def records_json(self, request: Request) -> Response:
        try:
            query = self._query(request)
        except InvalidCommand as error:
            body, status = {"error": "InvalidCommand", "fields": error.errors}, 400
        else:
            records = self.records
            body, status = records.public_records(query), 200
            body["charts"] = records.public_charts(query)
            body["charts"].pop("months")
            body["integrity"] = records.integrity()
        return Response(
            json.dumps(body, ensure_ascii=False),
            status,
            content_type="application/json; charset=utf-8",
        )

    # --- the honour roll (宣传先进事迹) ----------------------------------------------------

    @http("GET", "/honours")
    def honours_page(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.HonourRoll)
        except InvalidCommand as error:
            return _invalid(error)
        records = self.records
        answer = records.honour_roll(query)
        charts = records.honour_charts(query)
        options = {"kinds": records.commendation_options(), "months": charts.pop("months")}
        filters = {key: query.get(key) for key in (*HONOUR_FILTERS, "page", "page_size")}
        html = render_honour_roll(answer, charts, filters, options)
        return Response(html, mimetype="text/html", content_type="text/html; charset=utf-8")

    @http("GET", "/honours.json")
    def honours_json(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.HonourRoll)
        except InvalidCommand as error:
            return _invalid(error)
        records = self.records
        body = records.honour_roll(query)
        body["charts"] = records.honour_charts(query)
        body["charts"].pop("months")
        return Response(
            json.dumps(body, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )

    # --- the key work's progress (重点工作进展) -----------------------------------------------

    @http("GET", "/keywork")
    def keywork_page(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.KeyWork)
        except InvalidCommand as error:
            return _invalid(error)
        records, today = self.records, self.clock.today()
        answer = records.key_work(query, today)
        charts = records.key_work_charts(query, today)
        filters = {key: query.get(key) for key in ("q", "page", "page_size")}
        html = render_key_work(answer, charts, filters)
        return Response(html, mimetype="text/html", content_type="text/html; charset=utf-8")

    @http("GET", "/keywork.json")
    def keywork_json(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.KeyWork)
        except InvalidCommand as error:
            return _invalid(error)
        records, today = self.records, self.clock.today()
        body = records.key_work(query, today)
        body["charts"] = records.key_work_charts(query, today)
        return Response(
            json.dumps(body, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )

    @staticmethod
    def _query(request: Request, schema: type = contract.PublicRecords) -> dict[str, Any]:
        """The page's query parameters as ``public_records`` (or ``schema``) takes them (an
        empty field is no filter; page numbers are integers)."""
        query: dict[str, Any] = {}
        for key, value in request.args.items():
            if value == "":
                continue
            if key in ("page", "page_size"):
                try:
                    query[key] = int(value)
                except ValueError:
                    raise InvalidCommand({key: ["must be an integer"]}) from None
            else:
                query[key] = value
        return load(schema, query)


def _invalid(error: InvalidCommand) -> Response:
    return Response(
        json.dumps({"error": "InvalidCommand", "fields": error.errors}, ensure_ascii=False),
        400,
        content_type="application/json; charset=utf-8",
    )
