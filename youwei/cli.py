"""The ``youwei`` command: run the local stack and audit the event logs."""

from __future__ import annotations

import json
import os
import sys

import click

from youwei import backup as backup_commands
from youwei import stack, transparency
from youwei.audit import audit, database_options

DEFAULT_URI = "mongodb://127.0.0.1:27017"


@click.group()
def main() -> None:
    """youwei (有为): cadre-conduct accountability backend."""


@main.command()
@click.option(
    "--sync-on-commit/--no-sync-on-commit",
    default=True,
    show_default=True,
    help="Fsync SecantusDB's log at every commit, so an acknowledged event survives a crash "
    "or power loss. --no-sync-on-commit is for throwaway data only (tests): a kill -9 loses "
    "acknowledged events (docs/operations.md, Durability).",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=180,
    show_default=True,
    help="Seconds to wait for every service to be ready.",
)
def up(sync_on_commit: bool, wait: float) -> None:
    """Bring the whole system up: RabbitMQ (with management), SecantusDB on 27017, and the
    services, each in a ``nameko run`` process of its own under the supervisor, which
    restarts one that dies or stops answering its liveness probe (docs/operations.md).
    Says "services up" once every service is ready."""
    try:
        stack.Supervision.from_env()
        services = stack.stack_services()
        supervisor = stack.stack_supervisor()
        if supervisor.pid() is None:
            stack.check_probe_ports(services)
        stack.ensure_rabbitmq()
        database = stack.stack_database(sync_on_commit=sync_on_commit)
        if not sync_on_commit:
            stack.log("SecantusDB without --sync-on-commit: for throwaway data only")
        database.start()
        old = stack.single_process_services()
        if old.stop():
            click.echo(f"{old.name} stopped")
        supervisor.start(database.uri)
        stack.wait_ready(services, supervisor, wait)
    except stack.StackError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"RabbitMQ    {stack.rabbitmq_status()}")
    click.echo(f"SecantusDB  {database.uri} up (data in {database.storage_path})")
    click.echo(f"supervisor  pid {supervisor.pid()} (log in {supervisor.log_file})")
    for service in services:
        click.echo(f"  {service.name:<15} pid {service.pid() or '-'!s:<8} probes "
                   f"http://{service.metrics_address}/  log in {service.log_file}")  # fmt: skip
    click.echo(f"services    {', '.join(stack.SERVICE_NAMES)} up")
    click.echo(f"public page http://{stack.web_address()}/")


@main.command()
def down() -> None:
    """Stop what ``up`` started here: the supervisor first (so that it restarts nothing),
    then each service (SIGTERM, SIGKILL after YOUWEI_STOP_GRACE_SECONDS), then SecantusDB;
    data is kept. RabbitMQ is the machine's service and keeps running."""
    try:
        grace = stack.Supervision.from_env().grace_seconds
        services = stack.stack_services()
        supervisor = stack.stack_supervisor()
        click.echo(f"supervisor {'stopped' if supervisor.stop() else 'was not running'}")
        parts = [*services, stack.single_process_services()]
        running = {part.name: pid for part in parts if (pid := part.pid()) is not None}
        outcomes = stack.terminate(running, grace)
        for part in parts:
            if part.name in running:
                part.pid_file.unlink(missing_ok=True)
                click.echo(f"{part.name} {outcomes[part.name]}")
            elif part in services:
                click.echo(f"{part.name} was not running")
        database = stack.stack_database()
        click.echo(f"{database.name} {'stopped' if database.stop() else 'was not running'}")
    except stack.StackError as error:
        raise click.ClickException(str(error)) from error


def _service_states(services: list[stack.StackService]) -> list[tuple]:
    """Each service's pid and its two probes, asked at once (a hung one costs one timeout)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2 * len(services)) as pool:
        probes = [(pool.submit(s.probe, "/healthz"), pool.submit(s.probe, "/readyz"))
                  for s in services]  # fmt: skip
        return [(s, s.pid(), live.result(), ready.result()) for s, (live, ready)
                in zip(services, probes, strict=True)]  # fmt: skip


@main.command()
def status() -> None:
    """Show whether each part of the stack runs: RabbitMQ, SecantusDB, the supervisor, and
    for each service its process, liveness (/healthz) and readiness (/readyz); exit 1 if
    any is down."""
    try:
        services = stack.stack_services()
    except stack.StackError as error:
        raise click.ClickException(str(error)) from error
    database = stack.stack_database()
    pid = database.pid()
    answering = stack.ping(database.uri)
    rabbit_up = stack.port_open(stack.AMQP_PORT)
    click.echo(f"RabbitMQ    {stack.rabbitmq_status()}")
    state = "up" if answering else "down"
    click.echo(
        f"SecantusDB  {database.uri} {state} (pid {pid or '-'}, data in {database.storage_path})"
    )
    supervisor = stack.stack_supervisor()
    supervisor_pid = supervisor.pid()
    click.echo(f"supervisor  {'up' if supervisor_pid else 'down'} (pid {supervisor_pid or '-'}, "
               f"log in {supervisor.log_file})")  # fmt: skip
    click.echo(f"  {'service':<15} {'process':<12} {'live':<5} {'ready':<5} probes")
    all_up = True
    for service, service_pid, live, ready in _service_states(services):
        process = f"pid {service_pid}" if service_pid else "down"
        why = [f"{path}: {p.reason}" for path, p in (("/healthz", live), ("/readyz", ready))
               if not p.ok]  # fmt: skip
        click.echo(f"  {service.name:<15} {process:<12} {'yes' if live.ok else 'no':<5} "
                   f"{'yes' if ready.ok else 'no':<5} http://{service.metrics_address}/"
                   + (f"  ({'; '.join(why)})" if why else ""))  # fmt: skip
        all_up = all_up and bool(service_pid) and live.ok and ready.ok
    if not (answering and rabbit_up and supervisor_pid and all_up):
        sys.exit(1)


@main.group()
def dlq() -> None:
    """Messages parked after failing every retry, or malformed (the vhost of AMQP_URI)."""


@dlq.command("list")
def dlq_list() -> None:
    """Each parked-message queue and how many messages it holds."""
    from youwei import dlq as parked

    queues = parked.parked_queues()
    if not queues:
        click.echo("no parked-message queues")
    for queue in queues:
        click.echo(f"{queue['messages']:>8}  {queue['queue']}")


@dlq.command("show")
@click.argument("queue")
@click.option("--count", default=10, show_default=True, help="How many messages to show.")
def dlq_show(queue: str, count: int) -> None:
    """Show parked messages of QUEUE with their errors (they stay parked)."""
    from youwei import dlq as parked

    try:
        messages = parked.show(queue, count)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(messages, ensure_ascii=False, indent=2, default=str))


@dlq.command("replay")
@click.argument("queue")
@click.option("--count", type=int, default=None, help="How many to replay (default: all).")
def dlq_replay(queue: str, count: int | None) -> None:
    """Move parked messages of QUEUE back to the queue they came from."""
    from youwei import dlq as parked

    try:
        moved = parked.replay(queue, count)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"replayed {moved} message(s) to {queue.removesuffix(parked.SUFFIX)}")


@main.group()
def broker() -> None:
    """RabbitMQ users of the agencies (docs/operations.md, "Agencies' broker users")."""


@broker.command("agency")
@click.argument("user")
@click.option("--vhost", default="/", show_default=True, help="The deployment's vhost.")
@click.option(
    "--k8s",
    "k8s",
    is_flag=True,
    help="Print the Topology Operator's Permission and TopicPermission objects.",
)
@click.option(
    "--cluster",
    default="youwei-rabbitmq",
    show_default=True,
    help="With --k8s: the RabbitmqCluster's name.",
)
@click.option(
    "--apply",
    "apply_url",
    default=None,
    metavar="URL",
    help="Set the permissions through the management API at URL "
    "(http://admin:password@host:15672; 'amqp': AMQP_URI's host and user).",
)
def broker_agency(user: str, vhost: str, k8s: bool, cluster: str, apply_url: str | None) -> None:
    """Print the rabbitmqctl commands that make USER an agency's user (or, --apply, set its
    permissions; the user must exist): its own queues, the RPC, the published events."""
    from youwei import broker as agencies

    if apply_url:
        try:
            agencies.apply(user, vhost, None if apply_url == "amqp" else apply_url)
        except (OSError, RuntimeError) as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"set the permissions of {user} on {vhost}")
    elif k8s:
        import yaml

        click.echo(yaml.safe_dump_all(agencies.topology_objects(user, vhost, cluster),
                                      sort_keys=False, width=1 << 20), nl=False)  # fmt: skip
    else:
        click.echo("# add_user asks for the password you choose for the agency")
        for line in agencies.rabbitmqctl(user, vhost):
            click.echo(line)


def _projectors(uri: str, database: str, names: tuple[str, ...]):
    from events.log.datastore import MongoDBDatastore
    from events.readmodels.projections import Projector
    from services.records.projections import PROJECTIONS

    known = {cls.name: cls for cls in PROJECTIONS}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: not one of {', '.join(known)}")
    datastore = MongoDBDatastore(uri, database)
    return datastore, [Projector(datastore, known[name]()) for name in names or known]


@main.group()
def projections() -> None:
    """The records service's projections of the logs (personnel files, public records)."""


@projections.command("status")
@database_options
def projections_status(uri: str, database: str) -> None:
    """Each projection's live generation, and its position and lag behind each log."""
    datastore, projectors = _projectors(uri, database, ())
    for projector in projectors:
        generation, heads = projector.live(), projector.heads()
        positions = projector.positions(generation)
        click.echo(f"{projector.projection.name} (generation {generation.number})")
        for source, head in heads.items():
            click.echo(f"  {source:<15} position {positions[source]:>9}  head {head:>9}  "
                       f"lag {head - positions[source]}")  # fmt: skip
    datastore.close()


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@database_options
def projections_rebuild(names: tuple[str, ...], uri: str, database: str) -> None:
    """Replay the logs into fresh collections of NAMES (default: every projection), then
    switch each over in one write; the live one serves until then."""
    datastore, projectors = _projectors(uri, database, names)
    for projector in projectors:
        total = sum(projector.heads().values())
        label = f"rebuilding {projector.projection.name}"
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            generation = projector.rebuild(progress=bar.update)
        positions = projector.positions(generation)
        click.echo(f"{projector.projection.name}: generation {generation.number} live at "
                   + ", ".join(f"{s} {p}" for s, p in positions.items()))  # fmt: skip
    datastore.close()


for command in (transparency.tree_head, transparency.record_proof, transparency.witness):
    audit.add_command(command)
main.add_command(audit)
main.add_command(backup_commands.erasures)
main.add_command(backup_commands.backup)
main.add_command(backup_commands.restore)


@main.command()
@click.option("--seed", type=int, default=2026, show_default=True, help="Which synthetic year.")
@click.option(
    "--scale",
    type=click.FloatRange(0, 10, min_open=True),
    default=1.0,
    show_default=True,
    help="Size: 1.0 is 46 city-level leaders and 628 county-level cadres, and their year.",
)
@click.option(
    "--amqp-uri",
    default=lambda: os.environ.get("AMQP_URI") or "pyamqp://guest:guest@127.0.0.1:5672/",
    show_default="AMQP_URI, else pyamqp://guest:guest@127.0.0.1:5672/",
)
def demo(seed: int, scale: float, amqp_uri: str) -> None:
    """Load a synthetic year (2025) of a fictional city through the services' RPC API; a
    re-run with the same seed and scale adds nothing."""
    from youwei import demo as year

    year.main(seed, scale, amqp_uri)


@main.group()
def db() -> None:
    """The database's collections and indexes."""


@db.command("init")
@database_options
def db_init(uri: str, database: str) -> None:
    """Create every collection and index the services use (idempotent; the services also
    create them when they start): run before a first start and before an upgrade."""
    from youwei import dbinit

    names = dbinit.initialise(uri, database)
    click.echo(f"database {database!r}: {len(names)} collections ready")
