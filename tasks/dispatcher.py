"""The dispatcher: a Ray actor that claims stages from the database and runs them on the cluster.

Work in flight is bounded (`MAX_JOBS_IN_FLIGHT`); the backlog stays in the database, not in Ray.
Leases are renewed while a stage runs; if this actor dies, the leases run out and any dispatcher
(this one restarted, or another replica) reclaims the work."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from tasks import stages
from vigil import logcontext, telemetry
from vigil.context import Context
from vigil.errors import Deferred, PermanentError, TransientError
from vigil.services.jobs import (
    STAGES,
    ClaimedStage,
    claim_stages,
    complete_stage,
    defer_stage,
    fail_stage,
    renew_lease,
    waiting_by_stage,
)
from vigil.services.uploads import expire_direct_uploads
from vigil.settings import Settings

log = logging.getLogger("vigil.dispatcher")
TRANSCRIPTION_NAME = "vigil-transcription"
MAINTENANCE_SECONDS = 60.0
GAUGE_SECONDS = 5.0
# A worker lost with its node is retried no sooner than Ray declares the node dead (health checks every 3 s, five
# misses) and restarts its actors elsewhere; retried sooner, every attempt meets the same dead actor.
WORKER_LOST_RETRY_SECONDS = 20.0


@dataclass
class InFlight:
    claim: ClaimedStage
    started: float = field(default_factory=time.perf_counter)


@dataclass
class Periodic:
    """Housekeeping the dispatcher starts as a Ray task of its own every `interval` seconds (the first at once),
    one at a time; the dispatch loop never waits for it."""

    name: str
    interval: float
    start: Callable[[], ray.ObjectRef]
    running: ray.ObjectRef | None = None
    started: float = -math.inf
    last: dict[str, Any] | None = None

    def tick(self) -> None:
        if self.running is not None:
            if not ray.wait([self.running], timeout=0)[0]:
                return
            try:
                self.last = ray.get(self.running)
            except Exception:  # logged; the next interval tries again, and every such task is idempotent
                log.exception("periodic task failed", extra={"task": self.name})
            self.running = None
        if time.monotonic() - self.started >= self.interval:
            self.started = time.monotonic()
            self.running = self.start()


def stage_cause(exc: BaseException) -> BaseException:
    """What the stage itself raised, out of Ray's wrapper when it came back through a task."""
    return exc.cause if isinstance(exc, RayTaskError) and exc.cause is not None else exc


def record_failure(ctx: Context, claim: ClaimedStage, exc: BaseException, duration_seconds: float,
                   retry_base_seconds: float) -> tuple[str, str]:
    """Put what a stage raised on its job; returns (job status, error code). A deferral waits without spending an
    attempt; anything else is a failed attempt, retried with backoff or final (see `fail_stage`)."""
    cause = stage_cause(exc)
    with ctx.system_db() as db:
        if isinstance(cause, Deferred):
            return defer_stage(db, claim, code=cause.code, detail=cause.message, until=cause.until), cause.code
        code, detail, transient = classify_failure(exc)
        return fail_stage(db, claim, code=code, detail=detail, transient=transient, duration_seconds=duration_seconds,
                          retry_base_seconds=retry_base_seconds,
                          min_delay_seconds=WORKER_LOST_RETRY_SECONDS if code == "worker_lost" else 0.0), code


def classify_failure(exc: BaseException) -> tuple[str, str, bool]:
    """(error_code, detail, transient) for whatever a stage raised."""
    cause = stage_cause(exc)
    if isinstance(cause, PermanentError):
        return cause.code, cause.message, False
    if isinstance(cause, TransientError):
        return cause.code, cause.message, True
    if isinstance(cause, RayError):
        return "worker_lost", f"{type(cause).__name__}: {str(cause).splitlines()[0][:300]}", True
    return "unexpected_error", f"{type(cause).__name__}: {cause}"[:2000], True


@ray.remote(num_cpus=0, max_restarts=-1)
class Dispatcher:
    def __init__(self, settings: Settings, database_url: str, transcription_name: str = TRANSCRIPTION_NAME) -> None:
        self.settings = settings
        self.settings_json = settings.model_dump_json()  # what stage tasks take: each worker keys its cache on it
        self.database_url = database_url
        self.ctx = Context.build(settings, database_url)
        # get_if_exists: a restarted dispatcher reattaches to the transcription actor that survived it.
        # The actor takes as many calls at once as the transcribe stage may have in flight, so a remote
        # provider's quota, not this actor, is what bounds transcription.
        self.transcription = stages.Transcription.options(
            name=transcription_name, get_if_exists=True,
            max_concurrency=max(1, settings.stage_limits.get("transcribe", 1))).remote(settings, database_url)
        # Stage workers pay their one-off costs now, not in the first sessions' stages (see stages.warm_worker).
        self.warm_ups = [stages.warm_worker.options(name="warm-worker", scheduling_strategy="SPREAD").remote(
                             self.settings_json, database_url)
                         for _ in range(settings.warm_workers)]
        self.in_flight: dict[ray.ObjectRef, InFlight] = {}
        self.completed = 0
        self.failed = 0
        self.peak_by_stage: Counter[str] = Counter()
        self.periodic = {task.name: task for task in (
            Periodic("retention", settings.retention_interval_seconds,
                     lambda: stages.apply_retention.options(name="retention").remote(settings, database_url)),
            Periodic("audit_checkpoints", settings.audit_checkpoint_interval_seconds,
                     lambda: stages.write_audit_checkpoints.options(name="audit-checkpoints").remote(
                         settings, database_url)),
            Periodic("alerts", settings.alert_interval_seconds,
                     lambda: stages.deliver_alerts.options(name="alerts").remote(settings, database_url)),
            Periodic("events", settings.events_prune_interval_seconds,
                     lambda: stages.prune_events.options(name="prune-events").remote(settings, database_url)),
        )}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dispatch-loop", daemon=True)
        self._thread.start()

    def _submit(self, claim: ClaimedStage) -> ray.ObjectRef:
        name = f"{claim.stage}:{str(claim.session_id)[:8]}"
        if claim.stage == "extract":
            return stages.extract_audio.options(name=name, scheduling_strategy="SPREAD").remote(
                self.settings_json, self.database_url, claim)
        if claim.stage == "transcribe":
            return self.transcription.transcribe.options(name=name).remote(claim)
        if claim.stage == "analyze":
            return stages.analyze.options(name=name, scheduling_strategy="SPREAD").remote(
                self.settings_json, self.database_url, claim)
        raise PermanentError(f"unknown stage {claim.stage!r}", code="unknown_stage")

    def _room(self) -> dict[str, int]:
        """How many more of each stage may start now: its own limit (`STAGE_LIMITS`) and the overall
        `MAX_JOBS_IN_FLIGHT`. What has no room waits in the database, not in Ray."""
        running = Counter(item.claim.stage for item in self.in_flight.values())
        limits = self.settings.stage_limits
        return {stage: limits.get(stage, self.settings.max_jobs_in_flight) - running[stage] for stage in STAGES}

    def _fill(self) -> None:
        for stage, room in self._room().items():
            room = min(room, self.settings.max_jobs_in_flight - len(self.in_flight))
            if room <= 0:
                continue
            with self.ctx.system_db() as db:
                claims = claim_stages(db, self.settings.job_lease_seconds, [stage], limit=room)
            for claim in claims:
                try:
                    self.in_flight[self._submit(claim)] = InFlight(claim)
                except PermanentError as exc:
                    self._finish_failed(InFlight(claim), exc)
            running = sum(1 for i in self.in_flight.values() if i.claim.stage == stage)
            self.peak_by_stage[stage] = max(self.peak_by_stage[stage], running)

    def _finish(self, ref: ray.ObjectRef) -> None:
        item = self.in_flight.pop(ref)
        try:
            done: stages.StageDone = ray.get(ref)
        except Exception as exc:  # classified and recorded on the job: never swallowed
            self._finish_failed(item, exc)
            return
        with self.ctx.system_db() as db:
            complete_stage(db, item.claim, time.perf_counter() - item.started, where=done.node,
                           work_seconds=done.work_seconds)
        self.completed += 1
        telemetry.current().stage_finished(item.claim.stage, "done", time.perf_counter() - item.started)
        with logcontext.bind(**item.claim.log_ids()):
            log.info("stage done", extra={"stage": item.claim.stage, "attempt": item.claim.attempt,
                                          "duration_s": round(time.perf_counter() - item.started, 3)})

    def _finish_failed(self, item: InFlight, exc: BaseException) -> None:
        status, code = record_failure(self.ctx, item.claim, exc, time.perf_counter() - item.started,
                                      self.settings.retry_base_seconds)
        outcome = "deferred" if status == "waiting" else "failed"
        telemetry.current().stage_finished(item.claim.stage, outcome, time.perf_counter() - item.started)
        if outcome == "failed":
            telemetry.current().stage_failed(item.claim.stage, code)
        with logcontext.bind(**item.claim.log_ids()):
            if status == "waiting":
                log.info("stage deferred", extra={"stage": item.claim.stage, "code": code})
                return
            self.failed += 1
            log.warning("stage failed", extra={"stage": item.claim.stage, "code": code, "job_status": status})

    def _cancel_overdue(self) -> None:
        """A stage past its timeout is cancelled and counted as a transient failure (retried, then dead)."""
        now = time.perf_counter()
        for ref, item in list(self.in_flight.items()):
            limit = self.settings.stage_timeouts.get(item.claim.stage)
            if limit is None or now - item.started < limit:
                continue
            del self.in_flight[ref]
            if item.claim.stage == "transcribe":
                # A running call on a synchronous actor cannot be cancelled: restart the actor instead.
                ray.kill(self.transcription, no_restart=False)
            else:
                ray.cancel(ref, force=True)
            self._finish_failed(item, TransientError(
                f"{item.claim.stage} took longer than {limit:g}s", code="stage_timeout"))

    def _maintain(self) -> None:
        """Housekeeping that has to happen somewhere: drop direct uploads that expired unsubmitted."""
        expired = expire_direct_uploads(self.ctx)
        if expired:
            log.info("expired direct uploads", extra={"count": expired})

    def _gauges(self) -> None:
        """Queue depth (runnable stages waiting in the database, every tenant) and work in flight, per stage."""
        with self.ctx.system_db() as db:
            waiting = waiting_by_stage(db)
        running = Counter(item.claim.stage for item in self.in_flight.values())
        for stage in STAGES:
            telemetry.current().jobs_waiting(stage, waiting.get(stage, 0))
            telemetry.current().jobs_in_flight(stage, running[stage])

    def _heartbeat(self) -> None:
        with self.ctx.system_db() as db:
            for item in self.in_flight.values():
                renew_lease(db, item.claim, self.settings.job_lease_seconds)

    def _loop(self) -> None:
        last_beat = last_maintenance = time.monotonic()
        last_gauges = -math.inf
        while not self._stop.is_set():
            try:
                self._fill()
                if self.in_flight:
                    refs = list(self.in_flight)
                    done, _ = ray.wait(refs, num_returns=1, timeout=self.settings.dispatcher_poll_seconds)
                    if done:  # sweep everything else that is already finished, without waiting
                        done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                    for ref in done:
                        self._finish(ref)
                    self._cancel_overdue()
                else:
                    self._stop.wait(self.settings.dispatcher_poll_seconds)
                if time.monotonic() - last_gauges > GAUGE_SECONDS:
                    self._gauges()
                    last_gauges = time.monotonic()
                if time.monotonic() - last_beat > self.settings.job_lease_seconds / 3:
                    self._heartbeat()
                    last_beat = time.monotonic()
                for task in self.periodic.values():  # retention, audit checkpoints, alerts, the events prune
                    task.tick()
                if time.monotonic() - last_maintenance > MAINTENANCE_SECONDS:
                    self._maintain()
                    last_maintenance = time.monotonic()
            except Exception:  # the loop must outlive a database blip; the error is logged with its trace
                log.exception("dispatch loop error")
                self._stop.wait(1.0)

    def stats(self) -> dict[str, Any]:
        import psutil

        running = Counter(i.claim.stage for i in self.in_flight.values())
        return {"in_flight": len(self.in_flight), "completed": self.completed, "failed": self.failed,
                "by_stage": dict(running), "peak_by_stage": dict(self.peak_by_stage),
                "last_retention": self.periodic["retention"].last,
                "last_audit_checkpoints": self.periodic["audit_checkpoints"].last,
                "last_events_prune": self.periodic["events"].last,
                "rss_bytes": psutil.Process().memory_info().rss}

    def warmed(self) -> list[float]:
        """Waits for the warm-ups started with this dispatcher; the seconds each took."""
        return ray.get(self.warm_ups)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
