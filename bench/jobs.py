"""The job system, measured in one run on real parts (embedded PostgreSQL, local Ray, ffmpeg):

  (a) throughput of 300 sessions through extract → transcribe → analyze, with a stand-in speech
      provider of fixed 1 s latency and 32 provider calls allowed in flight, as a ratio to the ideal
      (300 × 1 s / 32: the provider-bound lower limit);
  (b) peak work in flight per stage, observed by the dispatcher, against each stage's limit;
  (c) resident memory of the dispatcher with 10,000 queued jobs against 10 (the backlog stays in
      the database, so it should not grow);
  (d) 100 concurrent "analyze" requests for one session: jobs created (should be 1).

    .venv/bin/python bench/jobs.py [--sessions 300] [--limit 32]
"""

from __future__ import annotations

import argparse
import io
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tasks.dispatcher import Dispatcher  # noqa: E402
from vigil.context import Context  # noqa: E402
from vigil.db.engine import create_database, start_embedded_postgres  # noqa: E402
from vigil.db.models import Job, Session, StageEvent, utcnow  # noqa: E402
from vigil.media import ffmpeg_binary  # noqa: E402
from vigil.schemas.enums import Role
from vigil.services.auth import authenticate, issue_token  # noqa: E402
from vigil.services.ingest import accept_upload  # noqa: E402
from vigil.services.reprocess import request_analysis  # noqa: E402
from vigil.settings import Settings  # noqa: E402


def make_context(server: str, root: Path, **overrides: object) -> Context:
    url = create_database(server)
    values: dict[str, object] = {"transcribers": "standin", "allow_standin": True, "standin_latency_seconds": 1.0,
                                 **overrides}
    settings = Settings(data_dir=root / "data", database_url=url, object_store_url=f"file://{root / 'objects'}",
                        audit_key=secrets.token_urlsafe(32), _env_file=None, **values)  # type: ignore[arg-type]
    return Context.build(settings, url)


def principal_for(ctx: Context, role: Role):  # type: ignore[no-untyped-def]
    with ctx.system_db() as db:
        token = issue_token(db, "bench", f"{role.value}@bench.test", role)
        db.commit()
        return authenticate(db, token)


def wait_ready(ctx: Context, count: int, timeout: float = 900) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        with ctx.system_db() as db:
            finished = db.scalar(sa.select(sa.func.count()).select_from(Session)
                                 .where(Session.status.in_(("ready", "failed"))))
        if finished >= count:
            return time.perf_counter() - started
        time.sleep(0.2)
    raise TimeoutError(f"{count} sessions not finished in {timeout}s")


def throughput(server: str, root: Path, sessions: int, limit: int) -> tuple[float, float, dict, dict]:
    limits = {"extract": 2, "transcribe": limit, "analyze": 4}
    ctx = make_context(server, root / "a", stage_limits=limits, max_jobs_in_flight=sum(limits.values()))
    clip = root / "clip.wav"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
                    "-ar", "16000", str(clip)], check=True)
    uploader = principal_for(ctx, Role.uploader)
    data = clip.read_bytes()
    for _ in range(sessions):
        accept_upload(ctx, uploader, io.BytesIO(data), "clip.wav", None)
    dispatcher = Dispatcher.options(name="bench-dispatcher").remote(ctx.settings, ctx.database_url,
                                                                    transcription_name="bench-asr")
    elapsed = wait_ready(ctx, sessions)
    stats = ray.get(dispatcher.stats.remote())
    ray.get(dispatcher.stop.remote())
    ray.kill(dispatcher)
    with ctx.system_db() as db:
        ready = db.scalar(sa.select(sa.func.count()).select_from(Session).where(Session.status == "ready"))
        durations = dict(db.execute(sa.select(StageEvent.stage, sa.func.avg(StageEvent.duration_seconds))
                                    .where(StageEvent.event == "ready").group_by(StageEvent.stage)).all())
    assert ready == sessions, f"only {ready} of {sessions} ready"
    print("mean stage time (dispatch to done): " + ", ".join(f"{k} {v:.2f}s" for k, v in durations.items()))
    bound = sessions * durations["extract"] / limits["extract"]
    print(f"extraction bound on this machine: {sessions} × {durations['extract']:.2f}s / {limits['extract']} "
          f"= {bound:.1f}s → measured is {bound / elapsed:.2f} of it")
    ideal = sessions * ctx.settings.standin_latency_seconds / limit
    return elapsed, ideal, stats["peak_by_stage"], limits


def queue_jobs(ctx: Context, tenant_id: uuid.UUID, count: int) -> None:
    """Queued jobs not yet due, so they sit in the backlog the dispatcher polls."""
    later = utcnow() + timedelta(days=1)
    with ctx.system_db() as db:
        ids = [uuid.uuid4() for _ in range(count)]
        db.execute(sa.insert(Session), [{"id": i, "tenant_id": tenant_id, "media_ext": "wav", "status": "uploaded"}
                                        for i in ids])
        db.execute(sa.insert(Job), [{"tenant_id": tenant_id, "session_id": i, "stage": "extract",
                                     "status": "queued", "not_before": later} for i in ids])
        db.commit()


def dispatcher_memory(server: str, root: Path) -> tuple[int, int]:
    ctx = make_context(server, root / "c")
    tenant_id = principal_for(ctx, Role.admin).tenant_id
    queue_jobs(ctx, tenant_id, 10)
    dispatcher = Dispatcher.options(name="bench-memory").remote(ctx.settings, ctx.database_url,
                                                                transcription_name="bench-memory-asr")
    time.sleep(5)
    small = ray.get(dispatcher.stats.remote())["rss_bytes"]
    queue_jobs(ctx, tenant_id, 9_990)
    time.sleep(5)
    large = ray.get(dispatcher.stats.remote())["rss_bytes"]
    ray.get(dispatcher.stop.remote())
    ray.kill(dispatcher)
    return small, large


def coalescing(server: str, root: Path) -> tuple[int, int]:
    ctx = make_context(server, root / "d")
    uploader = principal_for(ctx, Role.uploader)
    supervisor = principal_for(ctx, Role.supervisor)
    session, job = accept_upload(ctx, uploader, io.BytesIO((ROOT / "samples" / "checkin-risk.mp3").read_bytes()),
                                 "c.mp3", None)
    with ctx.system_db() as db:  # as if the pipeline had finished: analysis needs a transcript to exist
        db.execute(sa.update(Job).where(Job.id == job.id).values(status="succeeded"))
        db.commit()
    from vigil.storage.base import TRANSCRIPT_AGENT_NAME, artifact_key

    ctx.store.put_bytes(artifact_key(session.tenant_id, session.id, TRANSCRIPT_AGENT_NAME), b"{}")
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda _: request_analysis(ctx, supervisor, session.id), range(100)))
    with ctx.system_db() as db:
        created = db.scalar(sa.select(sa.func.count()).select_from(Job)
                            .where(Job.session_id == session.id, Job.kind == "analyze"))
    return len({a.job_id for a in answers}), created


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--limit", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        root = Path(tmp)
        server = start_embedded_postgres(root / "pg")
        ray.init(address="local", num_cpus=4, _node_ip_address="127.0.0.1", include_dashboard=False,
                 log_to_driver=False)
        try:
            elapsed, ideal, peaks, limits = throughput(server, root, args.sessions, args.limit)
            small, large = dispatcher_memory(server, root)
            distinct, created = coalescing(server, root)
        finally:
            ray.shutdown()
    print(f"(a) {args.sessions} sessions, provider 1 s, {args.limit} in flight: {elapsed:.1f}s measured vs "
          f"{ideal:.1f}s ideal → {ideal / elapsed:.2f} of ideal ({args.sessions / elapsed:.1f} sessions/s)")
    print("(b) peak in flight / limit: " + ", ".join(f"{s} {peaks.get(s, 0)}/{limits[s]}" for s in limits))
    print(f"(c) dispatcher RSS: {small / 2**20:.1f} MiB with 10 queued, {large / 2**20:.1f} MiB with 10,000 "
          f"→ ratio {large / small:.3f}")
    print(f"(d) 100 concurrent analyze requests → {distinct} distinct job id(s), {created} job(s) created")


if __name__ == "__main__":
    main()
