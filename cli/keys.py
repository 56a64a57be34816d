"""`vigil keys`: the keyring that seals transcripts, analyses' copies and reviews at rest."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.local import database_url, local_settings

# Commands import what they use when they run, so `vigil --help` and `vigil ingest` start in a fraction of a
# second (Ray, SQLAlchemy, the models and the SDKs take seconds to import).

keys_app = typer.Typer(help="Keys that seal transcripts at rest.", no_args_is_help=True)


@keys_app.command("new")
def keys_new(kid: Annotated[str, typer.Option(help="Id of the new key.")]) -> None:
    """Print a new key-encryption key as `kid:base64key`, to add to ENCRYPTION_KEYS (or the secrets backend)."""
    from vigil.crypto import Keyring

    typer.echo(f"{kid}:{Keyring.generate_key()}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key to the local keyring file and make it active (running processes pick it up at once), then
    re-wrap every sealed object under it. With ENCRYPTION_KEYS set instead: add a key there (`vigil keys new`),
    roll it out, set ENCRYPTION_ACTIVE_KEY, then run `vigil keys rewrap`."""
    from datetime import UTC, datetime

    from vigil.crypto import Keyring

    settings = local_settings()
    if settings.encryption_keys or not settings.encryption_keys_file:
        typer.secho("ENCRYPTION_KEYS comes from the environment or secrets backend: add a key there "
                    "(vigil keys new), set ENCRYPTION_ACTIVE_KEY to it everywhere, then run vigil keys rewrap.",
                    fg="yellow")
        raise typer.Exit(2)
    path = settings.encryption_keys_file
    old = Keyring.from_spec(path.read_text().strip(), settings.encryption_active_key)
    kid = "k" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(old.with_new_active(kid).spec())
    tmp.replace(path)  # atomic: a reader sees the old keyring or the new one, never half of one
    typer.echo(f"new active key {kid} (keys: {', '.join([*old.ids, kid])})")
    keys_rewrap()


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Re-wrap every sealed object's data key under the active key (and seal any transcript still in plaintext).
    Safe while Vigil runs; run it again if it reports objects that changed meanwhile."""
    from vigil.context import Context
    from vigil.storage.encrypted import EncryptedStore

    ctx = Context.build(local_settings(), database_url())
    if not isinstance(ctx.store, EncryptedStore):
        typer.secho("no keyring configured: nothing is encrypted", fg="yellow")
        raise typer.Exit(2)
    report = ctx.store.rewrap_prefix()
    reviews, unknown = _rewrap_reviews(ctx)
    typer.echo(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in report.__dict__.items())
               + f", reviews rewrapped: {reviews} (active key {ctx.store.keyring.active_id})")
    if unknown:
        typer.secho(f"{unknown} review(s) are sealed under a key this keyring does not hold; add that key and run "
                    "`vigil keys rewrap` again", fg="red")
        raise typer.Exit(1)


def _rewrap_reviews(ctx) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from vigil.db.models import Tenant
    from vigil.services.analysis_content import rewrap_sealed_reviews
    from vigil.services.disputes import rewrap_sealed_disputes
    from vigil.services.sealed_notes import rewrap_sealed_notes

    with ctx.system_db() as db:
        tenants = db.scalars(sa.select(Tenant.id)).all()
    # Dispute notes and reasons, sheet and gold notes and alert secrets are sealed like review text, so they are
    # counted with the reviews.
    counts = [rewrap(ctx, tenant_id) for tenant_id in tenants
              for rewrap in (rewrap_sealed_reviews, rewrap_sealed_disputes, rewrap_sealed_notes)]
    return sum(done for done, _ in counts), sum(unknown for _, unknown in counts)
