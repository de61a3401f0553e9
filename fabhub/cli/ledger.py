"""Ledger commands: fabhub ledger verify|proof|consistency|export|checkpoint|verify-export|
balances|work|correct|pseudonym|flags."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from fabhub.cli.root import Context, fail, main, pass_ctx

if TYPE_CHECKING:
    from fabhub.ledger.audit import VerifyReport


@main.group()
def ledger() -> None:
    """The commons ledger: verify it, prove entries, export, checkpoint, record work.

    \b
    Examples:
      fabhub ledger verify
      fabhub ledger proof 42 --json > proof.json
      fabhub ledger export --format jsonld --output ledger.jsonld
      fabhub ledger verify-export ledger.jsonld --key ledger_verifier_key
    """


def _errors():
    from fabhub.jobs.canonical import CanonicalJSONError
    from fabhub.ledger.checkpoints import CheckpointError
    from fabhub.ledger.entries import EntryError
    from fabhub.ledger.keys import LedgerKeyError
    from fabhub.ledger.merkle import ProofError
    from fabhub.ledger.note import NoteError
    from fabhub.ledger.offline import ExportError
    from fabhub.ledger.store import LedgerError
    return (CanonicalJSONError, CheckpointError, EntryError, LedgerKeyError, ProofError,
            NoteError, ExportError, LedgerError)


def _verifier(ctx: Context, key: str | None):
    from fabhub.ledger.keys import load_verifier, read_verifier
    return read_verifier(key) if key else load_verifier(ctx.instance)


def _show_verdict(check: Callable[[], VerifyReport]) -> None:
    """Run a verification, print its summary, exit with status 1 if it found problems."""
    try:
        report = check()
    except _errors() as exc:
        fail(str(exc))
    click.echo("\n".join(report.summary()))
    if not report.ok:
        sys.exit(1)


@ledger.command("verify")
@click.option("--key", help="Verify against this verifier key (or key file) instead of the "
              "instance's own.")
@click.option("--receipts", is_flag=True, help="Also check each use entry's node receipt: "
              "its signature against the node keys, its figures against the entry's.")
@pass_ctx
def verify(ctx: Context, key: str | None, receipts: bool) -> None:
    """Recompute every hash and check every checkpoint; exit status 1 if anything is wrong.

    \b
    Examples:
      fabhub ledger verify
      fabhub ledger verify --receipts
    """
    from fabhub.ledger.verification import verify_ledger, verify_receipts

    try:
        with ctx.db() as db:
            report = verify_ledger(db, _verifier(ctx, key))
            signed = verify_receipts(db) if receipts else None
    except _errors() as exc:
        fail(str(exc))
    click.echo("\n".join([*report.summary(), *(signed.summary() if signed else [])]))
    if not report.ok or (signed is not None and not signed.ok):
        sys.exit(1)


@ledger.command("proof")
@click.argument("entry", type=int)
@click.option("--json", "as_json", is_flag=True,
              help="Print a proof file for `python -m fabhub.ledger.offline proof`.")
@pass_ctx
def proof(ctx: Context, entry: int, as_json: bool) -> None:
    """Prove that ENTRY is in the latest signed checkpoint."""
    from fabhub.ledger import checkpoints, store

    try:
        with ctx.db() as db:
            stored = store.get_entry(db, entry)
            checkpoint = checkpoints.latest(db)
            if checkpoint is None or checkpoint.size <= entry:
                fail(f"no checkpoint covers entry {entry} yet: run `fabhub ledger checkpoint`")
            result = store.inclusion_proof(db, entry, checkpoint.size)
        result.verify()
    except _errors() as exc:
        fail(str(exc))
    if as_json:
        click.echo(json.dumps({**result.to_dict(), "entry": stored.raw.decode("utf-8"),
                               "checkpoint": checkpoint.note}, indent=1))
        return
    click.echo(f"entry {entry} ({stored.kind}) is in checkpoint {checkpoint.id} "
               f"of {checkpoint.size} entries")
    click.echo(f"leaf hash: {result.leaf.hex()}\nroot hash: {result.root.hex()}")
    for i, h in enumerate(result.path):
        click.echo(f"  {i:2d} {h.hex()}")
    click.echo("verified: the path leads from the entry to the signed root")


@ledger.command("consistency")
@click.argument("old", type=int)
@click.argument("new", type=int)
@pass_ctx
def consistency(ctx: Context, old: int, new: int) -> None:
    """Prove that checkpoint OLD is a prefix of checkpoint NEW (checkpoint numbers)."""
    from fabhub.ledger import checkpoints, store

    try:
        with ctx.db() as db:
            known = {c.id: c for c in checkpoints.all_checkpoints(db)}
            if old not in known or new not in known:
                fail(f"checkpoints are numbered {min(known, default=0)} to "
                     f"{max(known, default=0)}; there is no {old if old not in known else new}")
            result = store.consistency_proof(db, known[old].size, known[new].size)
        if (result.old_root, result.new_root) != (known[old].root, known[new].root):
            fail("the stored tree no longer yields the signed roots: run `fabhub ledger verify`")
        result.verify()
    except _errors() as exc:
        fail(str(exc))
    click.echo(json.dumps(result.to_dict(), indent=1))
    click.echo(f"verified: checkpoint {old} (size {result.old_size}) is a prefix of "
               f"checkpoint {new} (size {result.new_size})")


@ledger.command("export")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonld"]), required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_ctx
def export(ctx: Context, fmt: str, output: Path | None) -> None:
    """Export every entry as CSV or as JSON-LD (ValueFlows vocabulary)."""
    from fabhub.ledger.export import export as write

    with ctx.db() as db:
        if output is None:
            write(db, fmt, sys.stdout)
            return
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = write(db, fmt, handle)
    click.echo(f"exported {count} entries to {output}", err=True)


@ledger.command("checkpoint")
@click.option("--force", is_flag=True, help="Sign a new checkpoint even if nothing was added.")
@pass_ctx
def checkpoint(ctx: Context, force: bool) -> None:
    """Sign a checkpoint of the ledger now and print it."""
    from fabhub.ledger.checkpoints import make_checkpoint
    from fabhub.ledger.keys import load_signer

    try:
        signer = load_signer(ctx.instance)
        with ctx.db() as db:
            made, new = make_checkpoint(db, signer, force=force)
    except _errors() as exc:
        fail(str(exc))
    if not new:
        click.echo(f"the ledger has not grown since checkpoint {made.id}; here it is:", err=True)
    click.echo(made.note, nl=False)


@ledger.command("verify-export")
@click.argument("export_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--checkpoint", "checkpoint_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A signed checkpoint you kept (default: those in a JSON-LD export).")
@click.option("--key", help="The trust's verifier key or key file (default: the instance's).")
@pass_ctx
def verify_export_command(ctx: Context, export_file: Path, checkpoint_files: tuple[Path, ...],
                          key: str | None) -> None:
    """Check an export against a checkpoint, as the standalone verifier does."""
    from fabhub.ledger.offline import verify_export

    notes = [p.read_text(encoding="utf-8") for p in checkpoint_files]
    _show_verdict(lambda: verify_export(export_file, _verifier(ctx, key), notes))


@ledger.command("balances")
@click.option("--half-life-days", default=7.0, show_default=True, type=click.FloatRange(0.01))
@pass_ctx
def balances(ctx: Context, half_life_days: float) -> None:
    """Machine hours per member and class (raw and decayed) and contributed hours."""
    from fabhub.clock import utc_now
    from fabhub.ledger import reports
    from fabhub.members import list_members

    with ctx.db() as db:
        names = {m.id: m.username for m in list_members(db)}
        raw = reports.usage_hours(db)
        decayed = reports.decayed_usage_by_class(db, utc_now(), half_life_days * 86400)
        work = reports.contributions(db)
    click.echo(f"{'member':<20} {'class / work':<20} {'hours':>10} {'decayed':>10}")
    for member in sorted(set(raw) | set(work), key=lambda m: names.get(m, "")):
        for cls, hours in sorted(raw.get(member, {}).items()):
            click.echo(f"{names.get(member, member)!s:<20} {cls:<20} {hours:>10.2f} "
                       f"{decayed.get(member, {}).get(cls, 0.0):>10.2f}")
        for kind, hours in sorted(work.get(member, {}).items()):
            click.echo(f"{names.get(member, member)!s:<20} {'work: ' + kind:<20} {hours:>10.2f}")


@ledger.command("work")
@click.argument("username")
@click.option("--hours", type=click.FloatRange(0.0, 24 * 31), required=True)
@click.option("--type", "work_type", required=True,
              type=click.Choice(["maintenance", "training", "repair", "other"]))
@click.option("--machine", help="The machine worked on, by name.")
@click.option("--note")
@pass_ctx
def work(ctx: Context, username: str, hours: float, work_type: str, machine: str | None,
         note: str | None) -> None:
    """Record a member's contribution that ended now. Example: fabhub ledger work ada
    --hours 2 --type repair --machine mk4"""
    from fabhub import members
    from fabhub.clock import utc_now
    from fabhub.ledger.corrections import record_work

    seconds = round(hours * 3600)
    end = utc_now()
    try:
        with ctx.db() as db:
            member = members.require_member(db, username)
            machine_id = None
            if machine:
                row = db.execute("SELECT id FROM machines WHERE name = ?", [machine]).fetchone()
                if row is None:
                    fail(f"no machine named {machine!r}")
                machine_id = row[0]
            made = record_work(db, member.id, seconds, work_type, end - timedelta(seconds=seconds),
                               end, machine_id, note)
    except _errors() as exc:
        fail(str(exc))
    click.echo(f"recorded entry {made.index}: {username} {work_type} {hours:g} h")


@ledger.command("correct")
@click.argument("entry", type=int)
@click.option("--reason", type=click.Choice(["waiver", "reassignment", "fix"]), required=True)
@click.option("--to", "to_user", help="reassignment: the member who should carry the entry.")
@click.option("--quantity", type=click.IntRange(0), help="fix: seconds (or milligrams).")
@click.option("--note", help="Why; shown in the ledger.")
@pass_ctx
def correct_command(ctx: Context, entry: int, reason: str, to_user: str | None,
                    quantity: int | None, note: str | None) -> None:
    """Append a correction of ENTRY (the entry itself never changes)."""
    from fabhub import members
    from fabhub.ledger.corrections import correct

    try:
        with ctx.db() as db:
            member_id = members.require_member(db, to_user).id if to_user else None
            made = correct(db, entry, reason, member_id, quantity, note)
    except _errors() as exc:
        fail(str(exc))
    click.echo(f"recorded entry {made.index}: {reason} of entry {entry}")


@ledger.command("pseudonym")
@click.argument("username")
@pass_ctx
def pseudonym(ctx: Context, username: str) -> None:
    """Show the pseudonym a member appears under, and the salt that proves it is theirs."""
    from fabhub import members
    from fabhub.ledger.entries import member_commitment
    from fabhub.ledger.pseudonyms import opening

    with ctx.db() as db:
        member = members.require_member(db, username)
        opened = opening(db, member.id)
    if opened is None:
        fail(f"{username} has no entry in the ledger yet")
    salt, name = opened
    if member_commitment(bytes.fromhex(salt), member.id) != name:
        fail(f"the stored pseudonym of {username} does not match its salt: the pseudonym "
             "table was altered")
    click.echo(f"{name}\nsalt: {salt} (SHA-256 of 'fabhub member v1\\n' + salt + "
               f"'{member.id}' gives the pseudonym)")


@ledger.command("flags")
@pass_ctx
def flags_command(ctx: Context) -> None:
    """List refused receipts: a second, different receipt for a job, or one that claims more
    than the hub saw (never claimed by that node, or beyond the claim-to-end interval)."""
    from fabhub.ledger.intake import flags

    with ctx.db() as db:
        found = flags(db)
    if not found:
        click.echo("no flagged receipts")
    for flag in found:
        click.echo(f"{flag['created_at']} job {flag['job_id']} node {flag['node_id']}: "
                   f"{flag['reason']}")
