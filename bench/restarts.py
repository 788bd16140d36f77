"""How long a service of the local stack stays down when services are killed again and again
(issue 29).

It brings up two stacks of its own (state folders under /tmp, free ports, RabbitMQ vhosts it
makes on the machine's broker and deletes after; a running stack is left alone): one with the
supervisor's defaults, one with the back-off it had before (60 s at most, counted from zero
again only after 60 s from a start). On each, a service chosen at random is killed with
SIGKILL every ``--every`` seconds, ``--kills`` times. Then, from each supervisor's log: "back
up", how many outages ended with the service live again (a kill of a service still
restarting adds to the outage it is in), and the seconds from each outage's last kill to
"live" (p50, p90, max); probes run every second.

    .venv/bin/python -m bench.restarts [--kills 30] [--every 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from base64 import b64encode
from datetime import datetime
from pathlib import Path

from tests.local_stack import Stack
from youwei.stack import SERVICE_NAMES, pid_alive

POLICIES = {
    "today's defaults": {},
    "before (60 s, reset after 60 s)": {"YOUWEI_RESTART_BACKOFF_MAX_SECONDS": "60",
                                        "YOUWEI_RESTART_BACKOFF_RESET_SECONDS": "60"},
}  # fmt: skip
LINE = re.compile(r"^(\S+ \S+) \w+ (\w+) \(pid \d+\): (killed by SIGKILL|live)$")


def vhost(name: str, create: bool) -> None:
    """Create or delete a vhost of the machine's RabbitMQ (management API, guest)."""
    auth = {"Authorization": "Basic " + b64encode(b"guest:guest").decode()}
    base = "http://127.0.0.1:15672/api"
    requests = [urllib.request.Request(f"{base}/vhosts/{name}", method="PUT" if create
                                       else "DELETE", headers=auth)]  # fmt: skip
    if create:
        requests.append(urllib.request.Request(
            f"{base}/permissions/{name}/guest", method="PUT",
            data=json.dumps({"configure": ".*", "write": ".*", "read": ".*"}).encode(),
            headers={**auth, "content-type": "application/json"}))  # fmt: skip
    for request in requests:
        urllib.request.urlopen(request, timeout=30).close()


def kill_at_random(stack: Stack, kills: int, every: float, seed: int) -> None:
    chance = random.Random(seed)
    done = 0
    while done < kills:
        time.sleep(every)
        pid = stack.pid(chance.choice(SERVICE_NAMES))
        if pid is not None and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            done += 1


def downtimes(log: str) -> list[float]:
    """Seconds from each kill to the service's next ``live``, from the supervisor's log."""
    killed_at: dict[str, datetime] = {}
    found = []
    for line in log.splitlines():
        if match := LINE.match(line):
            when = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
            if match[3] == "live" and match[2] in killed_at:
                found.append((when - killed_at.pop(match[2])).total_seconds())
            elif match[3] != "live":
                killed_at[match[2]] = when
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=30, help="kills per stack (30)")
    parser.add_argument("--every", type=float, default=4.0, help="seconds between kills (4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="youwei-restarts-") as folder:
        stacks = {}
        for n, (policy, settings) in enumerate(POLICIES.items()):
            name = f"bench-restarts-{uuid.uuid4().hex[:8]}"
            vhost(name, create=True)
            stacks[policy] = (name, Stack(Path(folder) / str(n), f"pyamqp://guest:guest@"
                                          f"127.0.0.1:5672/{name}", YOUWEI_PROBE_SECONDS="1",
                                          **settings))  # fmt: skip
        try:
            for _, stack in stacks.values():
                up = stack.youwei("up", "--no-sync-on-commit")
                assert up.returncode == 0, up.stderr
            killers = [threading.Thread(target=kill_at_random, args=(stack, args.kills,
                       args.every, n)) for n, (_, stack) in enumerate(stacks.values())]  # fmt: skip
            for killer in killers:
                killer.start()
            for killer in killers:
                killer.join()
            time.sleep(70)  # the longest back-off, then a start
            print(f"{args.kills} kills each, one every {args.every:g} s; probes every 1 s")
            print(f"{'policy':34} {'kills':>5} {'back up':>7} {'p50 s':>6} {'p90 s':>6} "
                  f"{'max s':>6}")  # fmt: skip
            for policy, (_, stack) in stacks.items():
                seen = sorted(downtimes(stack.supervisor_log()))
                p90 = seen[int(0.9 * (len(seen) - 1))] if seen else float("nan")
                print(f"{policy:34} {args.kills:5d} {len(seen):7d} "
                      f"{statistics.median(seen):6.1f} {p90:6.1f} {max(seen):6.1f}")  # fmt: skip
        finally:
            for name, stack in stacks.values():
                stack.youwei("down")
                vhost(name, create=False)


if __name__ == "__main__":
    main()
