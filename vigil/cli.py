"""`vigil`: run the product, issue tokens, ingest files, apply migrations."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from vigil.schemas import Role
from vigil.secrets import load_settings

app = typer.Typer(help="Vigil: recorded sessions in, reviewed decisions out.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(token_app, name="token")
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
retention_app = typer.Typer(help="Retention of media, audio and transcripts.", no_args_is_help=True)
app.add_typer(retention_app, name="retention")
keys_app = typer.Typer(help="Keys that seal transcripts at rest.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _database_url() -> str:
    from vigil.db.engine import resolve_database_url, run_migrations

    settings = load_settings()
    url = resolve_database_url(settings)
    run_migrations(url)
    return url


@audit_app.command("verify")
def audit_verify(tenant: Annotated[list[str] | None, typer.Option(help="Tenant name(s); default: every tenant.")]
                 = None) -> None:
    """Check each tenant's audit chain against the audit key and its checkpoints in the object store; name every
    entry edited, removed, reordered or sealed under another key. Exit 1 if any."""
    from vigil.context import Context
    from vigil.services.audit_checkpoints import verify_with_checkpoints

    ctx = Context.build(local_settings(make_keys=False), _database_url())
    key = ctx.audit_key
    if key is None:
        typer.secho("no audit key to verify with: set AUDIT_KEY (environment or secrets backend), or run where "
                    "DATA_DIR/audit-key is", fg="red")
        raise typer.Exit(2)
    with ctx.system_db() as db:
        tenants = _tenants(db, tenant)
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

    ctx = Context.build(local_settings(), _database_url())
    with ctx.system_db() as db:
        names = {tenant_id: name for tenant_id, name in _tenants(db, tenant)}
    run = write_checkpoints(ctx, names)
    lock = (f"locked ({run.lock}, {ctx.settings.audit_checkpoint_retain_days} days)" if run.lock else
            "NOT locked: the store has no Object Lock, so whoever may delete in it can remove them")
    typer.echo(f"checkpoints written: {run.written}" + (f", {lock}" if run.written else "")
               + f"; already checkpointed: {run.unchanged}")
    for tenant_id, why in run.refused.items():
        typer.secho(f"{names[uuid.UUID(tenant_id)]}: not checkpointed: {why}", fg="red")
    if run.refused:
        raise typer.Exit(1)


def _tenants(db, names: list[str] | None) -> list[tuple[uuid.UUID, str]]:  # type: ignore[no-untyped-def]
    """(id, name) of the named tenants, or of every tenant; exits 2 naming any that does not exist."""
    import sqlalchemy as sa

    from vigil.db.models import Tenant

    query = sa.select(Tenant.id, Tenant.name).order_by(Tenant.name)
    if names:
        query = query.where(Tenant.name.in_(names))
    tenants = [(tenant_id, name) for tenant_id, name in db.execute(query)]
    if names and len(tenants) < len(set(names)):
        typer.secho(f"unknown tenant(s): {', '.join(sorted(set(names) - {name for _, name in tenants}))}", fg="red")
        raise typer.Exit(2)
    return tenants


@app.command()
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
    with sessionmaker_for(_database_url())() as db:
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


@retention_app.command("run")
def retention_run() -> None:
    """Apply every tenant's retention policy now (the dispatcher also does this on a schedule) and report."""
    from vigil.context import Context
    from vigil.services.retention import apply_retention

    report = apply_retention(Context.build(local_settings(), _database_url()))
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
    with Context.build(settings, _database_url()).system_db() as db:
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


@app.command()
def migrate() -> None:
    """Apply database migrations (the embedded PostgreSQL is started if DATABASE_URL is unset), then seal any review
    text written before reviews were sealed."""
    url = _database_url()
    sealed = _seal_legacy_reviews(local_settings(), url)
    typer.echo(f"database is at the newest migration; {sealed} older review(s) sealed")


def _seal_legacy_reviews(settings, url: str) -> int:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from vigil.context import Context
    from vigil.db.engine import sessionmaker_for
    from vigil.db.models import Review
    from vigil.services.analysis_content import seal_existing_reviews

    with sessionmaker_for(url)() as db:
        tenants = db.scalars(sa.select(Review.tenant_id).where(Review.sealed.is_(None)).distinct()).all()
    ctx = Context.build(settings, url)
    return sum(seal_existing_reviews(ctx, tenant_id) for tenant_id in tenants)


@token_app.command("create")
def token_create(tenant: Annotated[str, typer.Option(help="Tenant name (created if missing).")],
                 email: Annotated[str, typer.Option(help="User email (created if missing).")],
                 role: Annotated[Role, typer.Option(help="admin | supervisor | lead | uploader")]) -> None:
    """Print a new API token for the user."""
    from vigil.context import Context
    from vigil.services.auth import issue_token

    with Context.build(local_settings(), _database_url()).system_db() as db:
        token = issue_token(db, tenant, email, role, label="cli")
        db.commit()
    typer.echo(token)


@app.command()
def ingest(files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
           token: Annotated[str, typer.Option(envvar="VIGIL_TOKEN", help="API token.")],
           api: Annotated[str | None, typer.Option(help="API base URL.")] = None,
           counselor: Annotated[str | None, typer.Option(help="Who held the session(s).")] = None,
           team: Annotated[str | None, typer.Option(help="The counselor's team.")] = None,
           wait: Annotated[bool, typer.Option(help="Wait for each session to be processed.")] = True) -> None:
    """Upload files with a progress bar, then wait for their results."""
    from tqdm import tqdm

    from vigil.client import ApiError, VigilClient

    client = VigilClient(api or load_settings().base_url, token)
    failures = 0
    for path in files:
        with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name) as bar:
            try:
                accepted = client.upload(path, on_bytes=bar.update, counselor=counselor, team=team)
            except ApiError as exc:
                bar.close()
                typer.secho(f"{path.name}: rejected ({exc.status}): {exc.detail}", fg="red")
                failures += 1
                continue
        typer.echo(f"{path.name}: session {accepted['session_id']} job {accepted['job_id']}")
        if wait:
            status = client.wait_for_job(accepted["job_id"])
            session = client.session(accepted["session_id"])
            color = "green" if status["status"] == "succeeded" else "red"
            typer.secho(f"  {status['status']}: risk={session['risk_level']} flagged={session['flagged']}"
                        + (f" error={session['error']}" if session["error"] else ""), fg=color)
            failures += status["status"] != "succeeded"
    raise typer.Exit(1 if failures else 0)


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@app.command()
def fit(from_reviews: Annotated[bool, typer.Option("--from-reviews", help="Fit from the tenant's reviewed sessions "
                                                   "(supervisor-final labels) plus the shipped data.")] = False,
        tenant: Annotated[str, typer.Option(help="Tenant whose reviews teach the model.")] = "demo",
        data_dir: Annotated[Path, typer.Option(help="The shared labelled data; its development part is used when "
                                                    "present.")] = SHARED_DATA) -> None:
    """Fit new risk heads and store them as a candidate risk-model version; it never activates itself."""
    import sqlalchemy as sa

    from vigil.context import Context
    from vigil.db.models import Tenant
    from vigil.errors import VigilError
    from vigil.services.risk_training import fit_from_reviews

    if not from_reviews:
        raise typer.BadParameter("only --from-reviews is supported here; the shipped model is rebuilt by "
                                 "scripts/fit_risk_sentences.py")
    ctx = Context.build(local_settings(), _database_url())
    with ctx.system_db() as db:  # the CLI resolves a tenant's name; the fit itself runs inside its wall
        tenant_id = db.scalar(sa.select(Tenant.id).where(Tenant.name == tenant))
    if tenant_id is None:
        typer.secho(f"fit: no tenant called {tenant!r}", fg="red", err=True)
        raise typer.Exit(2)
    try:
        fitted = fit_from_reviews(ctx, tenant_id, tenant, data_dir if data_dir.exists() else None)
    except VigilError as exc:
        typer.secho(f"fit: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"stored risk model {fitted.version} ({fitted.name}), a candidate, not active\n"
               f"  learned from {fitted.reviewed_sessions} reviewed sessions (at risk: {fitted.at_risk}) and "
               f"{fitted.training_sessions - fitted.reviewed_sessions} shipped ones\n"
               f"next: vigil replay --candidate {fitted.version} --tenant {tenant} --since <date> (or --dataset), "
               f"then an admin activates it: PUT /api/v1/tenants/<id>/config-versions/risk_model/active")


@app.command()
def replay(candidate: Annotated[str, typer.Option(help="An analyzer (offline, openai), a stored prompt, rubric or "
                                                     "risk-model version of the tenant, or 'active'.")] = "offline",
           dataset: Annotated[Path | None, typer.Option(exists=True, dir_okay=False,
                                                        help="Labelled-session JSONL to score against.")] = None,
           since: Annotated[datetime | None, typer.Option(help="Replay the tenant's reviewed sessions analysed "
                                                                "since this date, against supervisor-final labels.")]
           = None,
           tenant: Annotated[str, typer.Option(help="Tenant whose configuration, history and replay runs these are "
                                                    "(created if missing).")] = "demo",
           as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object: metrics and predictions.")]
           = False,
           workers: Annotated[int, typer.Option(min=1, max=64, help="Sessions analysed at once.")] = 4,
           store: Annotated[bool, typer.Option(help="Store the run (viewable in the dashboard).")] = True,
           report: Annotated[bool, typer.Option("--report", help="Risk detection's three evaluations in one run: "
                                                "development CV, the locked part of --data-dir, the hard cases.")]
           = False,
           data_dir: Annotated[Path, typer.Option(help="The shared labelled data (for --report).")]
           = SHARED_DATA,
           sensitivity: Annotated[str, typer.Option(help="The risk model's operating point for --report: high "
                                                         "or balanced.")] = "high") -> None:
    """Re-run a candidate on history or a labelled set beside the active configuration; production is untouched."""
    import json

    if report:
        _judgment_report(candidate, data_dir, as_json, workers, sensitivity)
        return

    import sqlalchemy as sa
    from tqdm import tqdm

    from vigil.context import Context
    from vigil.db.models import Tenant
    from vigil.errors import VigilError
    from vigil.evaluation.replay import replay as run_replay

    if (dataset is None) == (since is None):
        raise typer.BadParameter("give exactly one of --dataset or --since")
    ctx = Context.build(local_settings(), _database_url())
    with ctx.system_db() as db:
        tenant_id = db.scalar(sa.select(Tenant.id).where(Tenant.name == tenant))
        if tenant_id is None:
            row = Tenant(name=tenant)
            db.add(row)
            db.commit()
            tenant_id = row.id
    total = sum(1 for line in dataset.open() if line.strip()) if dataset else None
    try:
        with tqdm(total=total, desc=f"replay {candidate}", unit="session", file=sys.stderr,
                  disable=total is None) as bar:
            outcome = run_replay(ctx, tenant_id, candidate, dataset=dataset, since=since, workers=workers,
                                 store=store, progress=bar.update)
    except VigilError as exc:
        typer.secho(f"replay: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(outcome.as_json()))
    else:
        typer.echo(format_replay(outcome.metrics))


def format_replay(metrics: dict) -> str:  # type: ignore[type-arg]
    """The candidate and the baseline side by side, one line per figure."""
    cand, base = metrics["candidate"], metrics["baseline"]
    lines = [f"source: {metrics['source']}   sessions: {cand['sessions']}   {metrics['seconds']} s"
             + (f"   run: {metrics['run_id']}" if metrics.get("run_id") else ""),
             f"{'':40}{'candidate':>26}{'baseline':>26}",
             f"{'':40}{cand['name'][:25]:>26}{base['name'][:25]:>26}"]

    def row(label: str, a: object, b: object) -> None:
        lines.append(f"{label:40}{_fmt(a):>26}{_fmt(b):>26}")

    for category, scores in cand["risk"].items():
        if scores["support"] == 0 and scores["fp"] == 0 and base["risk"][category]["fp"] == 0:
            continue
        other = base["risk"][category]
        row(f"risk {category} (n={scores['support']}) P/R/F1",
            (scores["precision"], scores["recall"], scores["f1"]), (other["precision"], other["recall"], other["f1"]))
    for part, fields in (("mi_quality", ("accuracy", "kappa")), ("turns", ("accuracy", "kappa", "macro_f1"))):
        if part in cand:
            for name in fields:
                row(f"{part} {name} (n={cand[part]['n']})", cand[part][name], base.get(part, {}).get(name))
    for key, scores in cand.get("rubric", {}).items():
        row(f"rubric {key} accuracy/kappa (n={scores['n']})", (scores["accuracy"], scores["kappa"]),
            (base["rubric"][key]["accuracy"], base["rubric"][key]["kappa"]))
    if cand["errors"] or base["errors"]:
        row("sessions the analyzer failed on", cand["errors"], base["errors"])
    if metrics.get("in_sample_artifacts"):
        lines.append("IN-SAMPLE: these shipped models were fitted on this very file, so figures that depend on them "
                     "are not a measure of accuracy: " + ", ".join(metrics["in_sample_artifacts"])
                     + " (see each model's cross-validated figures in the README)")
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, tuple):
        return " / ".join(_fmt(v) for v in value)
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@app.command()
def dispatcher() -> None:
    """On a cluster (RAY_ADDRESS): run the pipeline's dispatcher, a named actor owned by this command, until SIGTERM
    or Ctrl-C; then it stops claiming work and the command exits. Keep it running under a supervisor (systemd on
    the head node, or a Ray Job). Not detached on purpose: Ray ends the worker processes of a job whose driver
    has exited as soon as they fall idle, so a dispatcher that outlived this command would have nearly every stage
    start a fresh worker process and import Vigil again. If this command dies, so does the dispatcher; the stages it
    had in flight are reclaimed by the next one when their leases run out."""
    import threading

    import ray

    from tasks import runtime

    settings = load_settings()
    if not (settings.ray_address and settings.database_url and settings.encryption_keys and settings.audit_key):
        typer.secho("set RAY_ADDRESS, DATABASE_URL, ENCRYPTION_KEYS and AUDIT_KEY (environment or secrets "
                    "backend): this is for a cluster, where nothing may live on one machine (vigil up runs "
                    "everything locally)", fg="red")
        raise typer.Exit(2)
    url = _database_url()
    runtime.start_ray(settings)
    try:
        handle = runtime.start_dispatcher(settings, url)
    except ValueError as exc:  # Ray refuses a second actor of the same name
        typer.secho(f"a dispatcher is already running in namespace '{runtime.NAMESPACE}' ({exc}); one per cluster "
                    "is enough: it fills the whole cluster, up to MAX_JOBS_IN_FLIGHT", fg="red")
        raise typer.Exit(1) from exc
    ray.get(handle.stats.remote())  # constructed: its loop is claiming work
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo(f"dispatcher '{runtime.DISPATCHER_NAME}' running in namespace '{runtime.NAMESPACE}'; "
               "SIGTERM or Ctrl-C stops it")
    stop.wait()
    ray.get(handle.stop.remote())
    ray.kill(handle)
    typer.echo("dispatcher stopped")


@app.command()
def up(samples: Annotated[bool, typer.Option(help="Ingest the bundled sample sessions.")] = True) -> None:
    """Run everything on embedded defaults until Ctrl-C: PostgreSQL, Ray, the API, the pipeline, the dashboard."""
    from vigil.context import Context
    from vigil.demo import ensure_demo_tokens
    from vigil.logcontext import configure_logging

    configure_logging()
    settings = local_settings()
    typer.echo("starting the database…")
    url = _database_url()
    _seal_legacy_reviews(settings, url)
    with Context.build(settings, url).system_db() as db:
        tokens = ensure_demo_tokens(db, settings.data_dir / "demo-tokens.json")

    from tasks import runtime

    typer.echo("starting Ray, the API and the pipeline…")
    runtime.start_ray(settings)
    runtime.start_api(settings, url)
    runtime.start_encoder()
    dispatcher = runtime.start_dispatcher(settings, url)  # noqa: F841 — holding the handle keeps it alive
    dashboard = _start_dashboard(settings)
    signal.signal(signal.SIGINT, _raise_interrupt)  # also when started in the background with SIGINT ignored
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        _print_banner(settings, tokens)
        if samples:
            _ingest_samples(settings, tokens["uploader"], tokens["supervisor"])
        while dashboard.poll() is None:
            time.sleep(0.5)
        typer.secho("the dashboard exited; stopping", fg="red")
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("stopping…")
        dashboard.terminate()
        try:
            dashboard.wait(timeout=10)
        except subprocess.TimeoutExpired:
            dashboard.kill()
        runtime.stop_all()
        typer.echo("stopped")


def _judgment_report(candidate: str, data_dir: Path, as_json: bool, workers: int, sensitivity: str) -> None:
    import json

    from tqdm import tqdm

    from vigil.analysis.registry import ANALYZERS
    from vigil.analysis.sentence_risk import RiskSettings
    from vigil.evaluation.judgment import judgment_report, report_lines

    if candidate not in ANALYZERS:
        raise typer.BadParameter(f"--report takes an analyzer: {sorted(ANALYZERS)}")
    analyzer = ANALYZERS[candidate](local_settings(), None).with_risk_settings(RiskSettings(sensitivity=sensitivity))
    with tqdm(desc=f"report {candidate}", unit="session", file=sys.stderr) as bar:
        outcome = judgment_report(analyzer, data_dir, workers=workers, progress=bar.update)
    typer.echo(json.dumps(outcome, indent=1) if as_json else "\n".join(report_lines(outcome)))


def local_settings(make_keys: bool = True):  # type: ignore[no-untyped-def]
    """Settings for a process of this machine's deployment: secrets the environment (or secrets backend) does not
    give are kept in files under DATA_DIR, made on first use: the local store's signing key, the keyring that
    seals transcripts (a file, so `vigil keys rotate` can add a key that running processes pick up), and the audit
    key. With `make_keys=False` nothing is made: only an audit key file already there is read (for checking)."""
    import secrets

    from vigil.crypto import Keyring

    settings = load_settings()
    updates: dict[str, object] = {}
    audit_key_file = settings.data_dir / "audit-key"
    if not make_keys:
        if not settings.audit_key and audit_key_file.exists():
            updates["audit_key"] = audit_key_file.read_text().strip()
        return settings.model_copy(update=updates) if updates else settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.audit_key:
        updates["audit_key"] = _local_secret(audit_key_file, lambda: secrets.token_urlsafe(32))
    if not settings.signing_key:
        updates["signing_key"] = _local_secret(settings.data_dir / "signing-key", lambda: secrets.token_urlsafe(32))
    if not settings.encryption_keys and not settings.encryption_keys_file:
        keys_file = settings.data_dir / "encryption-keys"
        _local_secret(keys_file, lambda: f"k1:{Keyring.generate_key()}")
        updates["encryption_keys_file"] = keys_file.resolve()
    return settings.model_copy(update=updates) if updates else settings


def _local_secret(path: Path, make) -> str:  # type: ignore[no-untyped-def]
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


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

    ctx = Context.build(local_settings(), _database_url())
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

    with ctx.system_db() as db:
        tenants = db.scalars(sa.select(Tenant.id)).all()
    counts = [rewrap_sealed_reviews(ctx, tenant_id) for tenant_id in tenants]
    return sum(done for done, _ in counts), sum(unknown for _, unknown in counts)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _start_dashboard(settings) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    import dashboard

    entry = Path(dashboard.__file__).parent / "app.py"
    return subprocess.Popen([
        sys.executable, "-m", "streamlit", "run", str(entry),
        "--server.port", str(settings.dashboard_port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ])


def _print_banner(settings, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    lines = [
        "",
        "Vigil is running.",
        f"  API        {settings.base_url}   (OpenAPI: {settings.base_url}/docs)",
        f"  Dashboard  http://127.0.0.1:{settings.dashboard_port}",
        f"  Ray        http://127.0.0.1:{settings.ray_dashboard_port}   (Ray asks for its token: "
        f"{Path(sys.executable).parent / 'ray'} get-auth-token)",
        "  Sign-in tokens (tenant 'demo'):",
        *[f"    {role:<10} {token}" for role, token in tokens.items()],
        "  Ctrl-C stops everything; data stays under " + str(settings.data_dir),
        "",
    ]
    typer.echo("\n".join(lines))


def _ingest_samples(settings, uploader_token: str, reader_token: str) -> None:  # type: ignore[no-untyped-def]
    """Upload each bundled sample once (skipped when a session with its filename exists)."""
    from vigil.client import ApiError, VigilClient, wait_until_healthy
    from vigil.demo import SAMPLE_COUNSELORS, sample_files

    uploader = VigilClient(settings.base_url, uploader_token)
    reader = VigilClient(settings.base_url, reader_token)
    if not wait_until_healthy(settings.base_url, timeout=120):
        typer.secho("the API did not become healthy; samples not ingested", fg="red")
        return
    existing = {s["original_filename"] for s in reader.sessions(limit=1000)}
    jobs = {}
    for path in sample_files():
        if path.name in existing:
            continue
        try:
            counselor, team = SAMPLE_COUNSELORS.get(path.name, (None, None))
            jobs[path.name] = uploader.upload(path, title=path.stem.replace("-", " "), counselor=counselor,
                                              team=team)["job_id"]
        except ApiError as exc:
            typer.secho(f"sample {path.name} rejected: {exc}", fg="red")
    for name, job_id in jobs.items():
        status = uploader.wait_for_job(job_id, timeout=600)
        typer.echo(f"sample {name}: {status['status']}")
