"""`vigil audit`: verify each tenant's audit chain against the key and its checkpoints; write checkpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from cli.local import database_url, local_settings, tenants_named

# Commands import what they use when they run, so `vigil --help` and `vigil ingest` start in a fraction of a
# second (Ray, SQLAlchemy, the models and the SDKs take seconds to import).

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(tenant: Annotated[list[str] | None, typer.Option(help="Tenant name(s); default: every tenant.")]
                 = None) -> None:
    """Check each tenant's audit chain against the audit key and its checkpoints in the object store; name every
    entry edited, removed, reordered or sealed under another key. Exit 1 if any."""
    from vigil.context import Context
    from vigil.services.audit_checkpoints import verify_with_checkpoints

    ctx = Context.build(local_settings(make_keys=False), database_url())
    key = ctx.audit_key
    if key is None:
        typer.secho("no audit key to verify with: set AUDIT_KEY (environment or secrets backend), or run where "
                    "DATA_DIR/audit-key is", fg="red")
        raise typer.Exit(2)
    with ctx.system_db() as db:
        tenants = tenants_named(db, tenant)
        broken = 0
        for tenant_id, name in tenants:
            report = verify_with_checkpoints(db, ctx.store, tenant_id, key)
            anchors = (f"{report.checkpoints} checkpoint(s), the newest at entry {report.newest_checkpoint}"
                       if report.checkpoints else "no checkpoint yet")
            if report.intact:
                typer.echo(f"{name}: {report.entries} entries, chain intact (audit key {key.key_id}; {anchors})")
                for note in report.notes:
                    typer.echo(f"  - {note}")
                continue
            broken += 1
            typer.secho(f"{name}: {report.entries} entries, {len(report.problems)} problem(s) ({anchors})", fg="red")
            for problem in report.problems:
                typer.secho(f"  - {problem}", fg="red")
    if broken:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(tenant: Annotated[list[str] | None, typer.Option(help="Tenant name(s); default: every "
                                                                           "tenant.")] = None) -> None:
    """Checkpoint each tenant's audit head to the object store now (the dispatcher also does this every
    AUDIT_CHECKPOINT_INTERVAL_SECONDS); locked where the bucket has S3 Object Lock. Exit 1 if a head was refused."""
    from vigil.context import Context
    from vigil.services.audit_checkpoints import write_checkpoints

    ctx = Context.build(local_settings(), database_url())
    with ctx.system_db() as db:
        names = {tenant_id: name for tenant_id, name in tenants_named(db, tenant)}
    run = write_checkpoints(ctx, names)
    lock = (f"locked ({run.lock}, {ctx.settings.audit_checkpoint_retain_days} days)" if run.lock else
            "NOT locked: the store has no Object Lock, so whoever may delete in it can remove them")
    typer.echo(f"checkpoints written: {run.written}" + (f", {lock}" if run.written else "")
               + f"; already checkpointed: {run.unchanged}")
    for tenant_id, why in run.refused.items():
        typer.secho(f"{names[uuid.UUID(tenant_id)]}: not checkpointed: {why}", fg="red")
    if run.refused:
        raise typer.Exit(1)
