"""Service level objectives, computed from what the database already records (request timings, stage events,
sessions, analyses) over a window, across every tenant: an operator's view, not a tenant's. The same signals are
live in Prometheus (tasks/prometheus.py, cluster/grafana-vigil.json); the database answers for any past window, and
`live_values` reads the two that the metrics answer (API p95, task success) from the nodes' exposition.

- API latency: p95 of request durations (`request_timings`, written by the API's timing middleware);
- task success: share of finished stage attempts that succeeded (`stage_events` ready vs failed);
- queue processing: p95 of upload → analysis ready (`sessions`);
- provider failover: p95 duration of the analyses that failed over from a model to the next one or to the offline
  analyzer, and of the transcribe stages that went on after a speech provider failed;
- alert delivery: p95 of flag (the alert's outbox row, written with its analysis) → delivered, retries included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import Alert, Analysis, RequestTiming, Session, StageEvent, Transcript, utcnow
from vigil.services.slo_metrics import live_objectives
from vigil.settings import Settings

API_P95 = "API latency p95"
TASK_SUCCESS = "task success rate"


@dataclass(frozen=True)
class Objective:
    name: str
    value: float | None  # None: nothing happened in the window to measure
    target: float
    unit: str
    higher_is_better: bool
    samples: int

    @property
    def met(self) -> bool | None:
        return self.judge(self.value)

    def judge(self, value: float | None) -> bool | None:
        """Whether `value` meets the target; None when there is nothing to judge."""
        if value is None:
            return None
        return value >= self.target if self.higher_is_better else value <= self.target


def _p95(db: DbSession, column: sa.ColumnElement[float], *where: sa.ColumnElement[bool]) -> tuple[float | None, int]:
    row = db.execute(sa.select(sa.func.percentile_cont(0.95).within_group(column), sa.func.count(column))
                     .where(*where)).one()
    return (float(row[0]) if row[0] is not None else None), int(row[1])


def objectives(db: DbSession, settings: Settings, since: datetime | None = None) -> list[Objective]:
    since = since or utcnow() - timedelta(hours=24)
    api, api_n = _p95(db, RequestTiming.duration_ms / 1000.0, RequestTiming.created_at >= since)

    outcomes = db.execute(sa.select(StageEvent.event, sa.func.count()).where(
        StageEvent.created_at >= since, StageEvent.event.in_(("ready", "failed"))).group_by(StageEvent.event)).all()
    counts = dict(outcomes)
    finished = counts.get("ready", 0) + counts.get("failed", 0)
    success = counts.get("ready", 0) / finished if finished else None

    ready_seconds = sa.extract("epoch", Session.analysis_ready_at - Session.created_at)
    queue, queue_n = _p95(db, ready_seconds, Session.created_at >= since, Session.analysis_ready_at.is_not(None))

    failed_over_analyses = sa.select(Analysis.latency_seconds.label("seconds")).where(
        Analysis.created_at >= since, Analysis.model.like("%(after:%"), Analysis.latency_seconds.is_not(None))
    a_provider_failed = sa.exists().where(Transcript.session_id == StageEvent.session_id,
                                          Transcript.metrics["failed_providers"].as_string() != "{}")
    failed_over_transcripts = sa.select(StageEvent.duration_seconds.label("seconds")).where(
        StageEvent.created_at >= since, StageEvent.stage == "transcribe", StageEvent.event == "ready",
        a_provider_failed)
    failovers = sa.union_all(failed_over_analyses, failed_over_transcripts).subquery()
    failover, failover_n = _p95(db, failovers.c.seconds)

    delivery_seconds = sa.extract("epoch", Alert.delivered_at - Alert.created_at)
    alerting, alerting_n = _p95(db, delivery_seconds, Alert.created_at >= since, Alert.delivered_at.is_not(None))

    return [
        Objective(API_P95, api, settings.slo_api_p95_seconds, "s", False, api_n),
        Objective(TASK_SUCCESS, success, settings.slo_task_success_rate, "share", True, finished),
        Objective("queue processing p95 (upload → ready)", queue, settings.slo_queue_p95_seconds, "s", False, queue_n),
        Objective("provider failover p95", failover, settings.slo_failover_p95_seconds, "s", False, failover_n),
        Objective("alert delivery p95 (flag → delivered)", alerting, settings.slo_alert_delivery_p95_seconds, "s",
                  False, alerting_n),
    ]


def live_values(expositions: list[str]) -> dict[str, float | None]:
    """The objectives the live metrics answer, by objective name (see vigil.services.slo_metrics)."""
    live = live_objectives(expositions)
    return {API_P95: live.api_p95_seconds, TASK_SUCCESS: live.task_success_rate}
