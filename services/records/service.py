"""The ``records`` nameko service: personnel decisions and public accountability records,
projected from the four services' logs (``services.records.projections``).

RPC: ``personnel_file``, ``eligible_for_promotion``, ``public_records``, ``honour_roll``,
``projections_status`` (docs/rpc.md). HTTP (nameko's ``@http``, on ``WEB_SERVER_ADDRESS``):
the public page at ``/`` and the same records as JSON at ``/records.json``; both take the
filters of ``public_records`` as query parameters and show only public fields. The honour
roll at ``/honours`` and ``/honours.json``, with the filters of ``honour_roll``; the key
work's progress at ``/keywork`` and ``/keywork.json`` (``q``, ``page``, ``page_size``). Each
record's and honour's inclusion proof in the published record's transparency log at
``/records/<record_id>/proof`` and ``/honours/<honour_id>/proof`` (``?since=N``: with the
consistency proof from the tree of N leaves), and any two heads' at
``/tree/consistency?first=N&second=M`` (``services.records.transparency``, docs/audit.md).

The public pages answer from the projections as they stand (the projections' poller keeps
them within ``PROJECTIONS_POLL_SECONDS`` of the logs), each through ``@public_page``
(``events.web.public``): ETag and 304, a cache of rendered answers emptied when
``Records.public_version`` moves, gzip, security headers, a guard on the query string. A
new public route takes the same two lines: ``@http("GET", ...)`` then ``@public_page``.
RPC ``task_chain``: one task's implementation chain (``services.records.chains``).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from events.audit.checkpoints import CheckpointSigner
from events.identity.agency import Access, rpc
from events.observability.dependency import Observability
from events.readmodels.projections import ProjectionsRunner
from events.runtime.clock import CityClock, Clock
from events.runtime.dependency import ApplicationDependency
from events.web.public import PublicPages, public_page
from schemas import records as contract
from schemas.common import load
from schemas.errors import EXPECTED, InvalidCommand, NotFound
from services.records.application import Records, RecordsLog
from services.records.keywork_page import render_key_work
from services.records.page import render_honour_roll, render_page
from services.records.projections import PROJECTIONS
from services.records.transparency import TreeHeadPublisher

FILTERS = ("q", "category", "situation", "decision", "month")
HONOUR_FILTERS = ("q", "kind", "month")


class RecordsService:
    name = "records"
    observability = Observability()
    access = Access()
    log: RecordsLog = ApplicationDependency(RecordsLog)  # the access record
    checkpoints = CheckpointSigner()
    tree_heads = TreeHeadPublisher()  # the published record's transparency log
    projections = ProjectionsRunner(*PROJECTIONS)
    clock: CityClock = Clock()
    #: the key-work page judges a target missed against today: the day is part of the version
    public_pages = PublicPages(
        lambda service: (service.published.public_version(), service.clock.today())
    )

    @property
    def records(self) -> Records:
        return Records(self.projections)

    @property
    def published(self) -> Records:
        """The records as the public pages read them: the projections as they stand."""
        return Records(self.projections, catch_up=False)

    @rpc(expected_exceptions=EXPECTED)
    def personnel_file(self, query: Any) -> dict[str, Any]:
        return self.records.personnel_file(load(contract.PersonnelFile, query), self.clock.today())

    @rpc(expected_exceptions=EXPECTED)
    def task_chain(self, query: Any) -> dict[str, Any]:
        return self.records.task_chain(load(contract.TaskChain, query), self.clock.today())

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
    @public_page
    def page(self, request: Request) -> Response:
        try:
            query = self._query(request)
        except InvalidCommand as error:
            return Response(
                json.dumps({"error": "InvalidCommand", "fields": error.errors}, ensure_ascii=False),
                400,
                mimetype="application/json",
            )
        records = self.published
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
    @public_page
    def records_json(self, request: Request) -> Response:
        try:
            query = self._query(request)
        except InvalidCommand as error:
            body, status = {"error": "InvalidCommand", "fields": error.errors}, 400
        else:
            records = self.published
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
    @public_page
    def honours_page(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.HonourRoll)
        except InvalidCommand as error:
            return _invalid(error)
        records = self.published
        answer = records.honour_roll(query)
        charts = records.honour_charts(query)
        options = {"kinds": records.commendation_options(), "months": charts.pop("months")}
        filters = {key: query.get(key) for key in (*HONOUR_FILTERS, "page", "page_size")}
        html = render_honour_roll(answer, charts, filters, options)
        return Response(html, mimetype="text/html", content_type="text/html; charset=utf-8")

    @http("GET", "/honours.json")
    @public_page
    def honours_json(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.HonourRoll)
        except InvalidCommand as error:
            return _invalid(error)
        records = self.published
        body = records.honour_roll(query)
        body["charts"] = records.honour_charts(query)
        body["charts"].pop("months")
        body["transparency"] = records.tree_heads()
        return Response(
            json.dumps(body, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )

    # --- the key work's progress (重点工作进展) -----------------------------------------------

    @http("GET", "/keywork")
    @public_page
    def keywork_page(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.KeyWork)
        except InvalidCommand as error:
            return _invalid(error)
        records, today = self.published, self.clock.today()
        answer = records.key_work(query, today)
        charts = records.key_work_charts(query, today)
        filters = {key: query.get(key) for key in ("q", "page", "page_size")}
        html = render_key_work(answer, charts, filters)
        return Response(html, mimetype="text/html", content_type="text/html; charset=utf-8")

    @http("GET", "/keywork.json")
    @public_page
    def keywork_json(self, request: Request) -> Response:
        try:
            query = self._query(request, contract.KeyWork)
        except InvalidCommand as error:
            return _invalid(error)
        records, today = self.published, self.clock.today()
        body = records.key_work(query, today)
        body["charts"] = records.key_work_charts(query, today)
        return Response(
            json.dumps(body, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )

    @http("GET", "/asyncapi.json")
    @public_page
    def asyncapi(self, request: Request) -> Response:
        """The AsyncAPI 3.0 document of every service's RPC methods and events
        (``schemas/asyncapi.json``, generated by ``youwei.asyncapi``), for agencies: as this
        release shipped it, read once."""
        try:
            _parameters(request)
        except InvalidCommand as error:
            return _invalid(error)
        return Response(_asyncapi_document(), content_type="application/json; charset=utf-8")

    # --- proofs of the published record (docs/audit.md) -----------------------------------
    # Under @public_page too: a proof shows a record as published (gone once withdrawn) under
    # the latest head, both of which ``Records.public_version`` covers.

    @http("GET", "/records/<string:record_id>/proof")
    @public_page
    def record_proof(self, request: Request, record_id: str) -> Response:
        return self._proof(request, record_id, honour=False)

    @http("GET", "/honours/<string:honour_id>/proof")
    @public_page
    def honour_proof(self, request: Request, honour_id: str) -> Response:
        return self._proof(request, honour_id, honour=True)

    @http("GET", "/tree/consistency")
    @public_page
    def tree_consistency(self, request: Request) -> Response:
        try:
            _parameters(request, "first", "second")
            sizes = {key: _sizes(request, key, 1) for key in ("first", "second")}
            body = self.records.consistency(sizes["first"][0], sizes["second"][0])
        except InvalidCommand as error:
            return _invalid(error)
        except NotFound as error:
            return _not_found(error)
        return _json(body)

    def _proof(self, request: Request, leaf_id: str, honour: bool) -> Response:
        try:
            _parameters(request, "since")
            body = self.records.proof(leaf_id, honour, _sizes(request, "since"))
        except InvalidCommand as error:
            return _invalid(error)
        except NotFound as error:
            return _not_found(error)
        return _json(body)

    @staticmethod
    def _query(request: Request, schema: type = contract.PublicRecords) -> dict[str, Any]:
        """The page's query parameters as ``public_records`` (or ``schema``) takes them (an
        empty field is no filter; page numbers are integers)."""
        query: dict[str, Any] = {}
        for key, value in request.args.items():
            if value == "":
                continue
            if key in ("page", "page_size"):
                if not (value.isascii() and value.isdigit()):
                    raise InvalidCommand({key: ["must be an integer (digits 0-9)"]})
                query[key] = int(value)
            else:
                query[key] = value
        return load(schema, query)


def _invalid(error: InvalidCommand) -> Response:
    return Response(
        json.dumps({"error": "InvalidCommand", "fields": error.errors}, ensure_ascii=False),
        400,
        content_type="application/json; charset=utf-8",
    )


def _sizes(request: Request, key: str, exactly: int | None = None) -> tuple[int, ...]:
    """The tree sizes given as ``key`` (repeatable), each a positive integer."""
    values = request.args.getlist(key)
    if exactly is not None and len(values) != exactly:
        raise InvalidCommand({key: [f"give it exactly {exactly} time(s)"]})
    if not all(v.isascii() and v.isdigit() and int(v) > 0 for v in values):
        raise InvalidCommand({key: ["must be a tree size: a positive integer"]})
    return tuple(int(v) for v in values)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status,
                    content_type="application/json; charset=utf-8")  # fmt: skip


def _not_found(error: Exception) -> Response:
    return _json({"error": "NotFound", "message": str(error)[:300]}, 404)


def _parameters(request: Request, *known: str) -> None:
    """``InvalidCommand`` naming a query parameter the route does not take."""
    unknown = sorted(set(request.args) - set(known))
    if unknown:
        raise InvalidCommand({unknown[0][:100]: ["unknown parameter"]})


@functools.cache
def _asyncapi_document() -> bytes:
    return resources.files("schemas").joinpath("asyncapi.json").read_bytes()
