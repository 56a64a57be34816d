"""Running Vigil: `vigil up` (everything on this machine), `vigil dispatcher` (the pipeline on a cluster),
`vigil ingest` (upload files through the API). The one place that starts Ray, Serve and Streamlit together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from cli.local import database_url, local_settings, seal_legacy_reviews
from vigil.secrets import load_settings

# Commands import what they use when they run, so `vigil --help` and `vigil ingest` start in a fraction of a
# second (Ray, SQLAlchemy, the models and the SDKs take seconds to import).


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
        stream = _open_events(client) if wait else None  # before the upload: the job's first events are not missed
        with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name) as bar:
            try:
                accepted = client.upload(path, on_bytes=bar.update, counselor=counselor, team=team)
            except ApiError as exc:
                bar.close()
                typer.secho(f"{path.name}: rejected ({exc.status}): {exc.detail}", fg="red")
                failures += 1
                if stream is not None:
                    stream.close()
                continue
        typer.echo(f"{path.name}: session {accepted['session_id']} job {accepted['job_id']}")
        if wait:
            status = (client.follow_job(accepted["job_id"], stream, _print_progress) if stream is not None
                      else client.wait_for_job(accepted["job_id"]))
            session = client.session(accepted["session_id"])
            color = "green" if status["status"] == "succeeded" else "red"
            typer.secho(f"  {status['status']}: risk={session['risk_level']} flagged={session['flagged']}"
                        + (f" error={session['error']}" if session["error"] else ""), fg=color)
            failures += status["status"] != "succeeded"
    raise typer.Exit(1 if failures else 0)


def _open_events(client):  # type: ignore[no-untyped-def]
    """The API's event stream for live progress, or None (then the job is polled) when it cannot be opened."""
    import httpx

    from vigil.client import ApiError

    try:
        return client.events()
    except (httpx.HTTPError, ApiError) as exc:
        typer.echo(f"(no live progress: {exc}; polling the job instead)")
        return None


def _print_progress(event) -> None:  # type: ignore[no-untyped-def]
    """One line per stage transition of the job being waited for, as it happens."""
    data = event.data
    stage, status, code = data.get("stage"), data.get("status"), data.get("error_code")
    if event.kind == "session.ready":
        line = "session ready"
    elif event.kind == "session.failed":
        line = f"{stage} {status} ({code})"
    elif status == "done":
        line = f"{stage} done {data.get('duration_seconds', 0):.1f} s"
    elif status == "queued":
        line = f"{stage} failed ({code}); retrying in {data.get('retry_in_seconds', 0):.0f} s"
    elif status == "waiting":
        line = f"{stage} waiting ({code})"
    else:
        attempt = data.get("attempt", 1)
        line = f"{stage} {status}" + (f" (attempt {attempt})" if attempt > 1 else "")
    typer.echo(f"  {line}")


def dispatcher() -> None:
    """On a cluster (RAY_ADDRESS): run the pipeline's dispatcher, a named actor owned by this command, until SIGTERM
    or Ctrl-C; then it stops claiming work and the command exits. Keep it running under a supervisor (a systemd
    service on a `ray up` head node, a Kubernetes Deployment beside the RayService: docs/deployment.md). Not
    detached on purpose: Ray ends the worker processes of a job whose driver has exited as soon as they fall idle,
    so a dispatcher that outlived this command would have nearly every stage start a fresh worker process and
    import Vigil again. If this command dies, so does the dispatcher, and if the dispatcher is gone (its cluster
    lost), the command exits 1; the stages it had in flight are reclaimed by the next one when their leases run
    out."""
    import ray

    from cli import stack

    settings = load_settings()
    if not (settings.ray_address and settings.database_url and settings.encryption_keys and settings.audit_key):
        typer.secho("set RAY_ADDRESS, DATABASE_URL, ENCRYPTION_KEYS and AUDIT_KEY (environment or secrets "
                    "backend): this is for a cluster, where nothing may live on one machine (vigil up runs "
                    "everything locally)", fg="red")
        raise typer.Exit(2)
    url = database_url()
    stack.start_ray(settings)
    try:
        handle = stack.start_dispatcher(settings, url)
    except ValueError as exc:  # Ray refuses a second actor of the same name
        typer.secho(f"a dispatcher is already running in namespace '{stack.NAMESPACE}' ({exc}); one per cluster "
                    "is enough: it fills the whole cluster, up to MAX_JOBS_IN_FLIGHT", fg="red")
        raise typer.Exit(1) from exc
    ray.get(handle.stats.remote())  # constructed: its loop is claiming work
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    typer.echo(f"dispatcher '{stack.DISPATCHER_NAME}' running in namespace '{stack.NAMESPACE}'; "
               "SIGTERM or Ctrl-C stops it")
    gone = watch_dispatcher(stop, lambda: ray.get(handle.stats.remote(), timeout=WATCH_SECONDS))
    if gone is not None:
        typer.secho(f"the dispatcher is gone ({gone}); exiting so that the supervisor starts another", fg="red")
        raise typer.Exit(1)
    ray.get(handle.stop.remote())
    ray.kill(handle)
    typer.echo("dispatcher stopped")


# How often `vigil dispatcher` asks its dispatcher whether it is still there, and how many asks in a row may go
# unanswered (an actor Ray is restarting, max_restarts=-1, or a busy one) before it counts as gone.
WATCH_SECONDS = 30.0
WATCH_PATIENCE = 10


def watch_dispatcher(stop: threading.Event, ask: Callable[[], object], every: float = WATCH_SECONDS,
                     patience: int = WATCH_PATIENCE) -> str | None:
    """Wait for `stop`, calling `ask` (the dispatcher's stats, bounded by a timeout) every `every` seconds: None once
    `stop` is set, else why the dispatcher is gone. Without this the command would wait forever with nothing
    running when its cluster goes away: a Ray Client driver (RAY_ADDRESS=ray://…, as on Kubernetes) outlives the
    connection it lost, and the actor with it. Exiting lets the supervisor start another."""
    from ray.exceptions import ActorDiedError, ActorUnavailableError, GetTimeoutError

    unanswered = 0
    while not stop.wait(every):
        try:
            ask()
            unanswered = 0
        except (GetTimeoutError, ActorUnavailableError) as exc:
            unanswered += 1
            if unanswered >= patience:
                return f"no answer to {unanswered} asks in a row ({type(exc).__name__})"
        except (ActorDiedError, ConnectionError) as exc:
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def up(samples: Annotated[bool, typer.Option(help="Ingest the bundled sample sessions.")] = True) -> None:
    """Run everything on embedded defaults until Ctrl-C: PostgreSQL, Ray, the API, the pipeline, the dashboard."""
    from cli.demo import ensure_demo_tokens
    from vigil.context import Context
    from vigil.logcontext import configure_logging

    configure_logging()
    settings = local_settings()
    _check_sign_in(settings)
    _check_ports(settings)
    typer.echo("starting the database…")
    url = database_url()
    seal_legacy_reviews(settings, url)
    with Context.build(settings, url).system_db() as db:
        tokens = ensure_demo_tokens(db, settings.data_dir / "demo-tokens.json")

    from cli import stack

    typer.echo("starting Ray, the API and the pipeline…")
    stack.start_ray(settings)
    stack.start_api(settings, url)
    stack.start_encoder()
    dispatcher = stack.start_dispatcher(settings, url)  # noqa: F841 — holding the handle keeps it alive
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
        stack.stop_all()
        typer.echo("stopped")


def _check_sign_in(settings) -> None:  # type: ignore[no-untyped-def]
    from cli.dashboard_auth import IncompleteSignIn, auth_section

    if settings.oidc_enabled:
        try:
            auth_section(settings)
        except IncompleteSignIn as exc:
            typer.secho(str(exc), fg="red")
            raise typer.Exit(2) from exc


def _check_ports(settings) -> None:  # type: ignore[no-untyped-def]
    from cli.stack import ports_taken

    taken = ports_taken(settings)
    if taken:
        typer.secho("these ports are in use by another program: " + "; ".join(taken) + ". Stop it, or choose "
                    "other ports (API_PORT, DASHBOARD_PORT, RAY_DASHBOARD_PORT; API_INGRESS=proxy needs no "
                    "API_PORT + 1)", fg="red")
        raise typer.Exit(2)


def _raise_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _start_dashboard(settings) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    import dashboard
    from cli.dashboard_auth import dashboard_options

    entry = Path(dashboard.__file__).parent / "app.py"
    sign_in_args, sign_in_env = dashboard_options(settings, settings.data_dir / "dashboard")
    return subprocess.Popen([
        sys.executable, "-m", "streamlit", "run", str(entry),
        "--server.port", str(settings.dashboard_port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false", *sign_in_args,
    ], env={**os.environ, "API_URL": settings.base_url,
            "DASHBOARD_REFRESH_SECONDS": str(settings.dashboard_refresh_seconds), **sign_in_env})


def _print_banner(settings, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    from cli.dashboard_auth import redirect_uri

    lines = [
        "",
        "Vigil is running.",
        f"  API        {settings.base_url}   (OpenAPI: {settings.base_url}/docs)",
        f"  Dashboard  http://127.0.0.1:{settings.dashboard_port}",
        f"  Ray        http://127.0.0.1:{settings.ray_dashboard_port}   (Ray asks for its token: "
        f"{Path(sys.executable).parent / 'ray'} get-auth-token)",
        *([f"  People sign in through {settings.oidc_issuer} (redirect URI {redirect_uri(settings)})"]
          if settings.oidc_enabled else []),
        "  Sign-in tokens (tenant 'demo'):",
        *[f"    {role:<10} {token}" for role, token in tokens.items()],
        "  Ctrl-C stops everything; data stays under " + str(settings.data_dir),
        "",
    ]
    typer.echo("\n".join(lines))


def _ingest_samples(settings, uploader_token: str, reader_token: str) -> None:  # type: ignore[no-untyped-def]
    """Upload each bundled sample once (skipped when a session with its filename exists)."""
    from cli.demo import SAMPLE_COUNSELORS, sample_files
    from vigil.client import ApiError, VigilClient, wait_until_healthy

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
