"""``youwei audit tree-head``, ``record-proof`` and ``witness``: the published record's
transparency log from the command line (docs/audit.md, "A published record any citizen can
verify"). The records service appends the leaves and signs heads by itself every
``AUDIT_TREE_SECONDS``; these do the same at once, give a proof as the page's proof link
does, and co-sign as a witness."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from youwei.audit import connect, database_options, key_option, private_key


@click.command("tree-head")
@key_option
@database_options
def tree_head(key_file, uri: str, database: str) -> None:
    """Append the leaves of what was published since and sign the tree's head now."""
    from events.audit.checkpoints import SignedHeads, SigningKeyError
    from events.audit.transparency import TreeProblem
    from events.log.datastore import MongoDBDatastore
    from events.readmodels.projections import Projector
    from services.records.projections import PublicRecords
    from services.records.transparency import Leaves

    private = private_key(key_file)
    heads_file = os.environ.get("AUDIT_SIGNED_HEADS_FILE")
    signed_heads = SignedHeads(heads_file) if heads_file else SignedHeads.beside(key_file)
    datastore = MongoDBDatastore(uri, database)
    try:
        leaves = Leaves(Projector(datastore, PublicRecords()))
        leaves.publish(private, signed_heads, catch_up=True)
        head = leaves.tree.latest_head()
    except (TreeProblem, SigningKeyError) as error:
        raise click.ClickException(str(error)) from error
    finally:
        datastore.close()
    if head is None:
        raise click.ClickException("nothing published yet: no tree head")
    click.echo(f"tree head of {head['tree_size']} leaves, root {head['root_hash']}, signed "
               f"{head['signed_at']} by key {head['key_id']}")  # fmt: skip


@click.command("record-proof")
@click.argument("leaf_id", required=False)
@click.option(
    "--since",
    type=click.IntRange(min=1),
    multiple=True,
    help="A tree size whose head you hold: add the consistency proof from it.",
)
@database_options
def record_proof(leaf_id: str | None, since: tuple[int, ...], uri: str, database: str) -> None:
    """Print the proof of a record or honour (LEAF_ID: its record_id or honour_id), as its
    proof link on the public page gives it. Without LEAF_ID, list the tree's leaves:
    index, kind, id."""
    from events.audit.transparency import TreeProblem
    from events.log.datastore import MongoDBDatastore
    from events.readmodels.projections import Projector
    from services.records.projections import PublicRecords
    from services.records.transparency import Leaves

    datastore = MongoDBDatastore(uri, database)
    try:
        leaves = Leaves(Projector(datastore, PublicRecords()))
        if leaf_id is None:
            for leaf in leaves.tree.leaves_where({}):
                click.echo(f"{leaf['_id']} {leaf['data']['kind']} {leaf['data']['id']}")
            return
        found = leaves.tree.latest_leaf(leaf_id, ("record", "record_withdrawn", "honour",
                                                  "honour_withdrawn"))  # fmt: skip
        honour = found is not None and found["data"]["kind"].startswith("honour")
        proof = leaves.proof(leaf_id, honour, since)
    except TreeProblem as error:
        raise click.ClickException(str(error)) from error
    finally:
        datastore.close()
    click.echo(json.dumps(proof, ensure_ascii=False, indent=1))


@click.command()
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The witness's own Ed25519 key (PEM; `youwei audit keygen`).",
)
@click.option("--trust", required=True, help="The city's key id the witness pinned.")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path),
              help="The head last co-signed [default: beside the key, "
                   "<key>.cosigned-head.json].")  # fmt: skip
@database_options
def witness(key_file: str, trust: str, state: Path | None, uri: str, database: str) -> None:
    """Co-sign the city's latest tree head as a witness (for example the provincial
    discipline commission), only if the city's pinned key signed it and it extends the head
    this witness co-signed last, kept in --state outside the city's database. The
    co-signature is written into the city's database (--uri, --database): it needs read
    access to audit_keys, transparency_leaves and transparency_heads, and write access to
    transparency_heads.
    Exit 1, and co-sign nothing, if it does not."""
    from events.audit.transparency import TransparencyLog, TreeProblem

    private = private_key(key_file)
    state = state or Path(f"{key_file}.cosigned-head.json")
    try:
        last = json.loads(state.read_text()) if state.exists() else None
    except ValueError as error:
        raise click.ClickException(f"cannot read {state}: {error}") from error
    client, db = connect(uri, database)
    try:
        head, cosignature = TransparencyLog(db).cosign(private, last, trust)
    except TreeProblem as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    state.write_text(json.dumps({k: head[k] for k in ("tree_size", "root_hash")}))
    click.echo(f"co-signed the head of {head['tree_size']} leaves, root {head['root_hash']}, "
               f"as witness {cosignature['witness']}")  # fmt: skip
