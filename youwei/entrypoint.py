"""The container image's entrypoint: ``python -m youwei.entrypoint COMMAND [ARGS...]``.

- ``cadre_registry``, ``evaluations``, ``inspections``, ``accountability``, ``records``
  (one or more), or ``all``: those services in one ``nameko run`` process with the config
  ``YOUWEI_CONFIG`` (default ``services/config.yaml``, every key set by environment
  variables). Each service process also runs its log's relay (a lease elects one among the
  replicas) and, for ``records``, the public page's HTTP server and the projections.
- ``youwei ARGS``: the ``youwei`` command (``db init``, ``projections rebuild``, ``audit
  verify``, ``dlq``, ...).
- ``nameko ARGS``: nameko itself (``nameko shell --config services/config.yaml``).
- ``healthcheck``: exit 0 when the process's ``/readyz`` answers 200 on the port of
  ``METRICS_ADDRESS`` (the image's HEALTHCHECK; a container run with another address is
  probed there, not on 9100).

The process is replaced (``exec``), so that signals reach nameko or the command directly.
"""

from __future__ import annotations

import os
import shutil
import sys

SERVICES = ("cadre_registry", "evaluations", "inspections", "accountability", "records")
USAGE = (
    f"usage: SERVICE... | all | youwei ARGS... | nameko ARGS...\n  SERVICE: {', '.join(SERVICES)}"
)


class UsageError(Exception):
    pass


def command(argv: list[str], environ: dict[str, str] | None = None) -> list[str]:
    """The command line to execute for the container's arguments."""
    environ = os.environ if environ is None else environ
    if not argv or argv[0] in ("-h", "--help", "help"):
        raise UsageError(USAGE)
    first, rest = argv[0], argv[1:]
    if first in ("youwei", "nameko"):
        return [first, *rest]
    names = list(SERVICES) if argv == ["all"] else argv
    unknown = [name for name in names if name not in SERVICES]
    if unknown:
        raise UsageError(f"not a service: {', '.join(unknown)}\n{USAGE}")
    config = environ.get("YOUWEI_CONFIG") or "services/config.yaml"
    modules = [f"services.{name}.service" for name in dict.fromkeys(names)]
    return ["nameko", "run", *modules, "--config", config]


def readiness_url(environ: dict[str, str]) -> str:
    """``/readyz`` of the process's metrics server, as reached from inside the container:
    ``METRICS_ADDRESS``'s host (127.0.0.1 when it listens on every address) and port."""
    host, _, port = (environ.get("METRICS_ADDRESS") or "0.0.0.0:9100").rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/readyz"


def healthcheck(environ: dict[str, str]) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(readiness_url(environ), timeout=4) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"not ready: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["healthcheck"]:
        sys.exit(healthcheck(dict(os.environ)))
    try:
        args = command(argv)
    except UsageError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    program = shutil.which(args[0]) or os.path.join(os.path.dirname(sys.executable), args[0])
    os.execv(program, args)


if __name__ == "__main__":
    main()
