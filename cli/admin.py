"""Administration: migrations, tokens, retention, service-level objectives."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.local import database_url, local_settings, seal_legacy_reviews
from vigil.schemas.enums import Role
from vigil.secrets import load_settings

# Commands import what they use when they run, so `vigil --help` and `vigil ingest` start in a fraction of a
# second (Ray, SQLAlchemy, the models and the SDKs take seconds to import).

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention of media, audio and transcripts.", no_args_is_help=True)


def migrate() -> None:
    """Apply database migrations (the embedded PostgreSQL is started if DATABASE_URL is unset), then seal any review
    text written before reviews were sealed."""
    url = database_url()
    sealed = seal_legacy_reviews(local_settings(), url)
    typer.echo(f"database is at the newest migration; {sealed} older review(s) sealed")


@token_app.command("create")
def token_create(tenant: Annotated[str, typer.Option(help="Tenant name (created if missing).")],
                 email: Annotated[str, typer.Option(help="User email (created if missing).")],
                 role: Annotated[Role, typer.Option(help="admin | supervisor | lead | uploader | counselor")],
                 counselor: Annotated[str | None, typer.Option(
                     help="With --role counselor: the counselor's name as sessions carry it (given at upload); the "
                          "account sees the reviewed sessions of that name. Audited.")] = None) -> None:
    """Print a new API token for the user."""
    from vigil.context import Context
    from vigil.errors import VigilError
    from vigil.services.auth import issue_token
    from vigil.services.counselors import link_by_email

    with Context.build(local_settings(), database_url()).system_db() as db:
        token = issue_token(db, tenant, email, role, label="cli")
        if counselor is not None:
            try:
                link_by_email(db, tenant, email, counselor)
            except VigilError as exc:
                typer.secho(str(exc), fg="red")
                raise typer.Exit(2) from exc
        db.commit()
    typer.echo(token)


@retention_app.command("run")
def retention_run() -> None:
    """Apply every tenant's retention policy now (the dispatcher also does this on a schedule) and report."""
    from vigil.context import Context
    from vigil.services.retention import apply_retention

    report = apply_retention(Context.build(local_settings(), database_url()))
    typer.echo(", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in report.as_json().items()))


@retention_app.command("set")
def retention_set(tenant: Annotated[str, typer.Option(help="Tenant name.")],
                  media_days: Annotated[int | None, typer.Option(help="Days the original upload is kept.")] = None,
                  content_days: Annotated[int | None, typer.Option(help="Days audio and transcripts are kept.")]
                  = None) -> None:
    """Set a tenant's retention periods (omit one to follow the deployment's default). Audited."""
    import sqlalchemy as sa

    from vigil.context import Context
    from vigil.db.models import Tenant
    from vigil.errors import VigilError
    from vigil.services.retention import set_retention_policy

    settings = local_settings()
    with Context.build(settings, database_url()).system_db() as db:
        tenant_id = db.scalar(sa.select(Tenant.id).where(Tenant.name == tenant))
        if tenant_id is None:
            typer.secho(f"unknown tenant: {tenant}", fg="red")
            raise typer.Exit(2)
        try:
            policy = set_retention_policy(db, None, tenant_id, media_days, content_days, settings)
        except VigilError as exc:
            typer.secho(str(exc), fg="red")
            raise typer.Exit(2) from exc
    typer.echo(f"{tenant}: media {policy.media_days or 'kept'} days, content {policy.content_days or 'kept'} days")


def slo(hours: Annotated[float, typer.Option(help="Window, in hours back from now.")] = 24.0,
        metrics_url: Annotated[list[str] | None, typer.Option(
            help="A Ray node's Prometheus endpoint (http://node:8080/metrics); repeat for each node. Adds the "
                 "live values the metrics can answer (API p95, task success) since the processes started.")] = None,
        ) -> None:
    """Each service level objective's current value against its target, from the database (and from the live
    metrics with --metrics-url). Exit 1 if one is missed."""
    from datetime import timedelta

    from vigil.db.engine import sessionmaker_for
    from vigil.db.models import utcnow
    from vigil.services.slo import Objective, live_values, objectives

    settings = load_settings()
    with sessionmaker_for(database_url())() as db:
        found = objectives(db, settings, utcnow() - timedelta(hours=hours))
    live = live_values(_scrape(metrics_url)) if metrics_url else {}

    def shown(o: Objective, value: float | None) -> str:
        return "—" if value is None else (f"{value:.1%}" if o.unit == "share" else f"{value:.2f} s")

    typer.echo(f"{'objective':<40} {'value':>10} {'live':>10} {'target':>10} {'samples':>8}  status")
    missed = False
    for o in found:
        live_value = live.get(o.name)
        target = f"{o.target:.1%}" if o.unit == "share" else f"{'≤' if not o.higher_is_better else '≥'}{o.target:g} s"
        verdicts = {o.met, o.judge(live_value)} - {None}
        status = "no data" if not verdicts else ("MISSED" if False in verdicts else "met")
        missed = missed or status == "MISSED"
        typer.echo(f"{o.name:<40} {shown(o, o.value):>10} {shown(o, live_value) if metrics_url else '':>10} "
                   f"{target:>10} {o.samples:>8}  {status}")
    if missed:
        raise typer.Exit(1)


def _scrape(urls: list[str]) -> list[str]:
    import httpx

    texts = []
    for url in urls:
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            typer.secho(f"cannot read metrics from {url}: {type(exc).__name__}: {exc}", fg="red")
            raise typer.Exit(2) from exc
        texts.append(response.text)
    return texts
