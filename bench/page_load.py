"""The public pages on a news day (issue 30): pages per second, errors and latency for C
clients, with an agency calling ``get_cadre`` once a second meanwhile, before and after
``@public_page`` (events/web/public.py), in one run.

Against a ``youwei up`` stack of your own with the demo year loaded (``YOUWEI_STATE_DIR``,
``YOUWEI_MONGODB_PORT``, ``WEB_SERVER_ADDRESS``, ``YOUWEI_METRICS_PORT`` and a vhost in
``AMQP_URI``, as for ``youwei up``; then ``youwei demo``): "after" is that stack's records
service; "before" is a records service run from a checkout of main (``--main``, made by
``git archive main | tar -x -C DIR``) beside it, on a port of its own, over the same database
and vhost. Each is loaded in turn by ``wrk`` (Debian's package) with the mix: ``/``,
``/records.json``, ``/honours.json`` and two searches, round robin, as a browser asks them
(``Accept-Encoding: gzip``); then, at the most clients, the same mix revalidated
(``If-None-Match`` with each page's ETag: ``304`` where the service gives one). The agency's
RPC p99 is measured first with no load, then during each run.

    .venv/bin/python -m bench.page_load --main /tmp/main-copy [--seconds 20] [--clients 50 200]

Start the stack with ``MAX_WORKERS=60`` to measure the records service as a news day would
run it (docs/operations.md, "Public pages behind a CDN"); main's code has no such setting.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pymongo

from events.identity.agency import IdentifiedClusterRpcProxy
from youwei.ports import free_port
from youwei.stack import NAMEKO_CONFIG, PROJECT_ROOT

MIX = (
    "/",
    "/records.json",
    "/honours.json",
    "/?q=" + quote("局"),
    "/records.json?q=" + quote("市"),
)
WRK_SCRIPT = """
local paths = {%(paths)s}
local etags = {%(etags)s}
local i = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) n304 = 0; n200 = 0 end
function request()
  i = i %% #paths + 1
  local headers = {["Accept-Encoding"] = "gzip"}
  if etags[i] ~= "" then headers["If-None-Match"] = etags[i] end
  return wrk.format("GET", paths[i], headers)
end
function response(status, headers, body)
  if status == 304 then n304 = n304 + 1 elseif status == 200 then n200 = n200 + 1 end
end
function done(summary, latency, requests)
  local a, b = 0, 0
  for _, t in ipairs(threads) do a = a + t:get("n200"); b = b + t:get("n304") end
  io.write(string.format("STATUS 200=%%d 304=%%d\\n", a, b))
end
"""


def ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(base: str, clients: int, seconds: int, etags: dict[str, str] | None = None) -> dict:
    etags = etags or {}
    script = WRK_SCRIPT % {
        "paths": ", ".join(f'"{p}"' for p in MIX),
        "etags": ", ".join('"' + etags.get(p, "").replace('"', '\\"') + '"' for p in MIX),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s", "--latency",
             "-s", lua.name, base],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    errors += int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    n200, n304 = map(int, re.search(r"STATUS 200=(\d+) 304=(\d+)", out).groups())
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50": ms(re.search(r"\s50%\s+(\S+)", out)[1]),
        "p99": ms(re.search(r"\s99%\s+(\S+)", out)[1]),
        "errors": errors,
        "n200": n200,
        "n304": n304,
    }


class Agency(threading.Thread):
    """Calls ``cadre_registry.get_cadre`` once a second; ``window()`` gives the latencies
    (ms) of the calls made since the last ``window()``."""

    def __init__(self, amqp_uri: str, cadre_id: str) -> None:
        super().__init__(daemon=True)
        self.amqp_uri, self.cadre = amqp_uri, cadre_id
        self.latencies: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with IdentifiedClusterRpcProxy({"AMQP_URI": self.amqp_uri}, timeout=60) as rpc:
            cadre = self.cadre
            while not self.stopping.is_set():
                started = time.monotonic()
                rpc.cadre_registry.get_cadre({"cadre_id": cadre})
                self.latencies.append((time.monotonic() - started) * 1000)
                self.stopping.wait(max(0.0, 1 - (time.monotonic() - started)))

    def window(self) -> list[float]:
        taken, self.latencies = self.latencies, []
        return taken


def a_cadre(mongodb_uri: str) -> str:
    """A registered cadre's id, from the records service's personnel files."""
    database = pymongo.MongoClient(mongodb_uri)[os.environ.get("MONGODB_DATABASE") or "youwei"]
    generation = database["projections"].find_one({"_id": "personnel"})["generation"]
    return database[f"personnel_g{generation}_files"].find_one({"registered": True})["_id"]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else float("nan")


def answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "records.json", timeout=30) as page:
            return page.status == 200
    except OSError:
        return False


def etags_of(base: str) -> dict[str, str]:
    found = {}
    for path in MIX:
        request = urllib.request.Request(
            base.rstrip("/") + path, headers={"Accept-Encoding": "gzip"}
        )
        with urllib.request.urlopen(request, timeout=60) as page:
            found[path] = page.headers.get("ETag") or ""
    return found


def mongodb_uri() -> str:
    return f"mongodb://127.0.0.1:{os.environ['YOUWEI_MONGODB_PORT']}/"


def start_main_records(main: Path) -> tuple[subprocess.Popen, str]:
    """Main's records service beside the stack's, on a port of its own."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(main),
        "MONGODB_URI": mongodb_uri(),
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "METRICS_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    env.pop("AUDIT_SIGNING_KEY_FILE", None)
    nameko = Path(sys.executable).parent / "nameko"
    config = main / NAMEKO_CONFIG.relative_to(PROJECT_ROOT)
    process = subprocess.Popen(
        [str(nameko), "run", "services.records.service", "--config", str(config)],
        cwd=main, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while not answers(base):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("main's records service did not start")
        time.sleep(1)
    return process, base


def main(main_copy: Path, seconds: int, clients: list[int]) -> None:
    after = f"http://{os.environ['WEB_SERVER_ADDRESS']}/"
    agency = Agency(os.environ["AMQP_URI"], a_cadre(mongodb_uri()))
    agency.start()
    process, before = start_main_records(main_copy)
    try:
        time.sleep(10)
        agency.window()
        time.sleep(10)
        quiet = p99(agency.window())
        rows = []
        for name, base in (("before", before), ("after", after)):
            for c in clients:
                agency.window()
                result = wrk(base, c, seconds)
                rows.append((name, f"{c}", result, p99(agency.window())))
            agency.window()
            result = wrk(base, max(clients), seconds, etags_of(base))
            rows.append((name, f"{max(clients)} revalidating", result, p99(agency.window())))
    finally:
        process.terminate()
        process.wait(30)
        agency.stopping.set()
    print(f"agency RPC p99 with no load: {quiet:,.0f} ms")
    print("| code | clients | pages/s | 304s | errors | page p50 | page p99 | agency RPC p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, c, r, agency_p99 in rows:
        print(f"| {name} | {c} | {r['rate']:,.0f} | {r['n304']:,} | {r['errors']} "
              f"| {r['p50']:,.0f} ms | {r['p99']:,.0f} ms | {agency_p99:,.0f} ms |")  # fmt: skip
    rate = {(n, c): r["rate"] for n, c, r, _ in rows}
    top, again = str(max(clients)), f"{max(clients)} revalidating"
    print(f"pages/s at {top} clients: {rate['after', top] / rate['before', top]:.1f}×; "
          f"revalidations/s: {rate['after', again] / rate['before', again]:.1f}×")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--main", type=Path, required=True, help="a checkout of main")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200])
    arguments = parser.parse_args()
    main(arguments.main, arguments.seconds, arguments.clients)
