"""The local stack's supervisor: ``python -m youwei.supervisor``, started by ``youwei up``.

It starts each service (``youwei.stack.stack_services``) in a ``nameko run`` process of its
own, adopts one already running (from its pid file), and restarts a service whose process
exited or whose ``/healthz`` failed ``YOUWEI_PROBE_FAILURES`` probes in a row, as
Kubernetes' liveness probe does (``youwei.stack.Supervision`` has the policy). Every start,
exit, failed probe and restart is logged with its reason to ``log/supervisor.log`` under the
state folder. SIGTERM stops the supervisor alone: ``youwei down`` stops it first, then the
services, so that nothing is restarted while it stops them.

One loop, never blocking: probes run in threads (one at a time per service), a stop is a
state that the loop escalates to SIGKILL when the grace period is over, a restart waits
its back-off as a state too.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor

from youwei.stack import (
    Probe,
    StackService,
    Supervision,
    pid_alive,
    signal_group,
    stack_services,
    stack_supervisor,
)

log = logging.getLogger("youwei.supervisor")

TICK_SECONDS = 0.2


def _exit_status(returncode: int | None) -> str:
    if returncode is None:
        return "exited"
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


class Supervised:
    """One service under supervision: its process, its probes, its restarts."""

    def __init__(self, service: StackService, policy: Supervision, env: dict[str, str]):
        self.service = service
        self.policy = policy
        self.env = service.environment(env)
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None
        self.launched_at = 0.0
        self.live_since: float | None = None  # its first answered probe since it started
        self.failures = 0
        self.restarts = 0  # in a row: the back-off grows with it
        self.probing: Future | None = None
        self.next_probe_at = 0.0
        self.stopping_since: float | None = None
        self.killed = False
        self.restart_at: float | None = None

    @property
    def name(self) -> str:
        return self.service.name

    def begin(self, now: float) -> None:
        """Adopt the process of the pid file if it runs; else start one."""
        pid = self.service.pid()
        if pid is None:
            self.launch(now)
            return
        self.pid, self.launched_at = pid, now
        log.info("%s: adopted the running process (pid %d)", self.name, pid)

    def launch(self, now: float) -> None:
        self.restart_at = self.stopping_since = self.probing = None
        self.killed, self.live_since = False, None
        self.failures = 0
        self.launched_at = self.next_probe_at = now
        try:
            self.process = self.service.popen(self.service.command(), self.env)
        except OSError as error:
            log.error("%s: could not start: %s", self.name, error)
            self.process = self.pid = None
            self.schedule_restart(now)
            return
        self.pid = self.process.pid
        log.info("%s: started (pid %d, probes on http://%s/healthz)", self.name, self.pid,
                 self.service.metrics_address)  # fmt: skip

    def exited(self) -> str | None:
        """How its process ended, or None while it runs."""
        if self.process is not None:
            returncode = self.process.poll()
            return None if returncode is None else _exit_status(returncode)
        if self.pid is None or not pid_alive(self.pid):
            return "exited"
        return None

    def schedule_restart(self, now: float) -> None:
        """The back-off grows while restarts follow each other; a process that was live
        ``backoff_reset_seconds`` showed it can run, so its death starts the count again."""
        if (
            self.live_since is not None
            and now - self.live_since >= self.policy.backoff_reset_seconds
        ):
            self.restarts = 0
        delay = self.policy.backoff(self.restarts)
        self.restarts += 1
        self.restart_at = now + delay
        log.warning("%s: restarting in %g s (restart %d in a row)", self.name, delay,
                    self.restarts)  # fmt: skip

    def stop(self, now: float, reason: str) -> None:
        """SIGTERM now; SIGKILL once the grace period is over (``tick`` sees to it)."""
        log.warning("%s (pid %d): %s; stopping it (SIGTERM, SIGKILL after %g s)", self.name,
                    self.pid, reason, self.policy.grace_seconds)  # fmt: skip
        self.stopping_since = now
        signal_group(self.pid, signal.SIGTERM)

    def tick(self, now: float, pool: ThreadPoolExecutor) -> None:
        if self.stopping_since is not None:
            self._stopping(now)
        elif self.restart_at is not None:
            if now >= self.restart_at:
                self.launch(now)
        elif (how := self.exited()) is not None:
            log.warning("%s (pid %s): %s", self.name, self.pid, how)
            self.process = self.pid = None
            self.schedule_restart(now)
        else:
            self._probe(now, pool)

    def _stopping(self, now: float) -> None:
        how = self.exited()
        if how is not None:
            log.info("%s (pid %d): %s", self.name, self.pid, how)
            self.process = self.pid = None
            self.stopping_since = None
            self.schedule_restart(now)
        elif not self.killed and now - self.stopping_since >= self.policy.grace_seconds:
            log.warning("%s (pid %d): still running %g s after SIGTERM; SIGKILL", self.name,
                        self.pid, self.policy.grace_seconds)  # fmt: skip
            signal_group(self.pid, signal.SIGKILL)
            self.killed = True

    def _probe(self, now: float, pool: ThreadPoolExecutor) -> None:
        if self.probing is not None and self.probing.done():
            self._judge(now, self.probing.result())
            self.probing = None
        if self.stopping_since is None and self.probing is None and now >= self.next_probe_at:
            self.next_probe_at = now + self.policy.probe_seconds
            self.probing = pool.submit(self.service.probe, "/healthz", self.policy.probe_seconds)

    def _judge(self, now: float, probe: Probe) -> None:
        if probe.ok:
            if self.live_since is None:
                log.info("%s (pid %d): live", self.name, self.pid)
                self.live_since = now
            self.failures = 0
            return
        if self.live_since is None:
            if now - self.launched_at > self.policy.startup_seconds:
                self.stop(now, f"not live {self.policy.startup_seconds:g} s after it started "
                               f"(/healthz: {probe.reason})")  # fmt: skip
            return
        self.failures += 1
        log.warning("%s (pid %d): /healthz failed (%d of %d): %s", self.name, self.pid,
                    self.failures, self.policy.failures, probe.reason)  # fmt: skip
        if self.failures >= self.policy.failures:
            self.stop(now, f"{self.failures} liveness probes failed in a row "
                           f"(last: {probe.reason})")  # fmt: skip


class Supervisor:
    def __init__(self, services: list[StackService], policy: Supervision,
                 env: dict[str, str]) -> None:  # fmt: skip
        self.supervised = [Supervised(service, policy, env) for service in services]
        self.running = True

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._exit)
        signal.signal(signal.SIGINT, self._exit)
        log.info("supervising %s (pid %d)", ", ".join(s.name for s in self.supervised),
                 os.getpid())  # fmt: skip
        now = time.monotonic()
        for supervised in self.supervised:
            supervised.begin(now)
        with ThreadPoolExecutor(len(self.supervised), thread_name_prefix="probe") as pool:
            while self.running:
                now = time.monotonic()
                for supervised in self.supervised:
                    try:
                        supervised.tick(now, pool)
                    except Exception:  # the supervisor must outlive any one mistake
                        log.exception("%s: supervising it failed", supervised.name)
                time.sleep(TICK_SECONDS)
        log.info("supervisor stopping; the services are left running")

    def _exit(self, signum, frame) -> None:
        self.running = False


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    pid_file = stack_supervisor().pid_file
    try:
        Supervisor(stack_services(), Supervision.from_env(), dict(os.environ)).run()
    finally:
        with contextlib.suppress(OSError):
            if pid_file.read_text().strip() == str(os.getpid()):
                pid_file.unlink()


if __name__ == "__main__":
    main()
