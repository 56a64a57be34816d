"""Seeding for bench/dashboard.py: one tenant's sessions, jobs, stage events, analyses, reviews, audit entries and
request timings in bulk, drawn from a seeded generator so every run seeds the same data."""

from __future__ import annotations

import math
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tests.conftest import SAMPLES  # noqa: E402
from tests.integration.test_analysis_tasks import transcript as risk_transcript  # noqa: E402
from vigil.analysis.analyzers.offline import OfflineAnalyzer  # noqa: E402
from vigil.context import Context  # noqa: E402
from vigil.db.models import (  # noqa: E402
    Analysis,
    AuditEntry,
    Base,
    Job,
    ReplayRun,
    RequestTiming,
    Review,
    Session,
    StageEvent,
    Transcript,
    utcnow,
)
from vigil.media import extract_audio  # noqa: E402
from vigil.schemas.analysis import AnalysisResult
from vigil.schemas.enums import RiskCategory, Role
from vigil.services.audit import chain_bulk  # noqa: E402
from vigil.services.auth import authenticate, ensure_user, issue_token  # noqa: E402
from vigil.services.pipeline import RISK_FAILED, assemble_result, builtin_rubric_version, run_analysis_tasks  # noqa: E402
from vigil.services.reviews import ai_values  # noqa: E402
from vigil.storage.base import AUDIO_NAME, TRANSCRIPT_AGENT_NAME, artifact_key

SEED = 20240611


WEEKS = 12


TEAMS = {"North clinic": ["Dana Ruiz", "Sam Okafor", "Lena Novak", "Omar Haddad", "Priya Raman"],
         "South clinic": ["Jonas Berg", "Maya Chen", "Tomás Silva", "Aisha Bello", "Erik Lund"],
         "Youth line": ["Nora Kim", "Felix Wagner", "Zara Ahmed", "Leo Rossi", "Ines Duarte"],
         "Night line": ["Kofi Mensah", "Hana Sato", "Ruth Cohen", "Mateo Diaz", "Ivy Walsh"]}


TEAM_OF = {counselor: team for team, counselors in TEAMS.items() for counselor in counselors}


# Session-level AI risk: 70 % none, so about 30 % flagged ("unknown": the risk task failed, read by hand).
LEVELS = {"none": 70, "low": 12, "medium": 9, "high": 6, "unknown": 3}


CATEGORIES = [c.value for c in RiskCategory]


DEAD = ["provider_timeout", "worker_lost", "all_providers_failed"]  # transient, out of attempts


FAILED = ["corrupt_media", "no_audio"]  # permanent


# Request timings: (method, route template, share, typical ms) — the dashboard's reads dominate.
ROUTES = [("GET", "/api/v1/sessions", 30, 45), ("GET", "/api/v1/sessions/summary", 20, 30),
          ("GET", "/api/v1/sessions/{session_id}", 12, 12),
          ("GET", "/api/v1/sessions/{session_id}/analysis", 10, 15),
          ("GET", "/api/v1/sessions/{session_id}/transcript", 8, 20),
          ("GET", "/api/v1/sessions/{session_id}/audio", 5, 60),
          ("GET", "/api/v1/sessions/{session_id}/audit", 5, 10), ("GET", "/api/v1/analytics/review-facts", 3, 400),
          ("GET", "/api/v1/jobs", 2, 25), ("GET", "/api/v1/me", 2, 5), ("POST", "/api/v1/sessions", 2, 300),
          ("POST", "/api/v1/sessions/{session_id}/reviews", 1, 25)]


# ------------------------------------------------------------------ seeding
def sample_analysis() -> tuple[dict[str, Any], Any]:
    """One real stored result (the offline analyzer's four tasks on a risk disclosure), and its transcript."""
    transcript = risk_transcript(uuid.uuid4())
    analyzer = OfflineAnalyzer()
    result = assemble_result(run_analysis_tasks(transcript, analyzer), builtin_rubric_version(analyzer))
    return result.model_dump(mode="json"), transcript


class Results:
    """The real result with its risk fields varied, once per (level, categories), with the AI's field values."""

    def __init__(self, base: dict[str, Any]) -> None:
        self.base, self.flag = base, base["flags"][0]
        self._made: dict[tuple[str, tuple[str, ...]], tuple[dict[str, Any], dict[str, Any]]] = {}

    def get(self, level: str, categories: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        if (level, categories) not in self._made:
            if level == "unknown":  # as assemble_result stores a failed risk task: no flags, no rubric
                risk = {**self.base["tasks"]["risk"], "status": "failed", "error": "TransientError: model unreachable"}
                result = {**self.base, "risk_level": "none", "risk_status": "failed", "flags": [], "rubric": [],
                          "tasks": {**self.base["tasks"], "risk": risk}}
            else:
                result = {**self.base, "risk_level": level,
                          "flags": [{**self.flag, "category": c, "severity": level} for c in categories]}
            self._made[(level, categories)] = result, ai_values(AnalysisResult.model_validate(result))
        return self._made[(level, categories)]


@dataclass
class Seeded:
    token: str
    tenant_id: uuid.UUID
    seconds: float
    rows: dict[str, int]
    other_tokens: list[str] = field(default_factory=list)  # a lead's, an admin's and a counselor's


@dataclass
class TenantRows:
    """Rows to insert, by table, in foreign-key order."""

    tenant_id: uuid.UUID
    reviewers: list[uuid.UUID]
    uploader: uuid.UUID
    now: datetime = field(default_factory=utcnow)
    tables: dict[type[Base], list[dict[str, Any]]] = field(default_factory=lambda: {
        t: [] for t in (Session, Job, StageEvent, Transcript, Analysis, Review, AuditEntry, ReplayRun, RequestTiming)})

    def add(self, table: type[Base], **row: Any) -> dict[str, Any]:
        """The row as stored, for the caller to fill in as the session's story unfolds."""
        stored = {"tenant_id": self.tenant_id, **row}
        self.tables[table].append(stored)
        return stored


def _session(out: TenantRows, rng: random.Random, results: Results, index: int, created: datetime,
             status: str) -> None:
    counselor = rng.choice(list(TEAM_OF))
    seconds = round(rng.uniform(600, 3600), 1)
    session = out.add(Session, **{
        "id": uuid.uuid4(), "title": f"{rng.choice(['Check-in', 'Intake', 'Follow-up', 'Crisis call'])} #{index:05d}",
        "counselor": counselor, "team": TEAM_OF[counselor], "status": status, "error": None,
        "original_filename": f"session-{index:05d}.m4a", "media_type": "audio", "media_ext": "m4a",
        "size_bytes": int(seconds * 16_000), "duration_seconds": seconds, "ai_risk_level": None, "risk_level": None,
        "flagged": False, "uploaded_by": out.uploader, "created_at": created, "updated_at": created,
        "analysis_ready_at": None, "reviewed_at": None, "attention": None, "risk_categories": []})
    out.add(AuditEntry, actor_id=out.uploader, action="session.upload", entity_type="session",
            entity_id=str(session["id"]), created_at=created,
            detail={"filename": session["original_filename"], "size_bytes": session["size_bytes"],
                    "media_type": "audio"})
    job = out.add(Job, id=uuid.uuid4(), session_id=session["id"], kind="pipeline", stage="extract", status="running",
                  attempt=1, max_attempts=3, error_code=None, error_detail=None, created_at=created,
                  started_at=created, completed_at=None, updated_at=created)
    ready_at = _pipeline(out, rng, session, job)
    if ready_at is not None:
        _analysed(out, rng, results, session, job["id"], ready_at)


def _pipeline(out: TenantRows, rng: random.Random, session: dict[str, Any], job: dict[str, Any]) -> datetime | None:
    """The job and its stage events as far as the session's status says it got; when analysis was ready, if it was."""
    at = session["created_at"]
    for stage, low, high in (("extract", 1.5, 8), ("transcribe", 15, 150), ("analyze", 2, 25)):
        took = rng.uniform(low, high)
        at += timedelta(seconds=took + rng.uniform(0, 20))
        if session["status"] == "processing" and stage != "extract":
            job.update(stage=stage)
            return None
        event = {"job_id": job["id"], "session_id": session["id"], "stage": stage, "attempt": 1,
                 "duration_seconds": round(took, 3), "created_at": at}
        if session["status"] == "failed" and (stage == "transcribe" or rng.random() < 0.5):
            code = rng.choice(DEAD + FAILED)
            detail = f"{code.replace('_', ' ')} (benchmark)"
            job.update(stage=stage, status="dead" if code in DEAD else "failed", attempt=3 if code in DEAD else 1,
                       error_code=code, error_detail=detail, completed_at=at, updated_at=at)
            session.update(error=f"{stage} failed: {detail}", updated_at=at)
            out.add(StageEvent, **event, event="failed", detail=detail)
            return None
        out.add(StageEvent, **event, event="ready", detail=None)
    job.update(stage="analyze", status="succeeded", completed_at=at, updated_at=at)
    return at


def _analysed(out: TenantRows, rng: random.Random, results: Results, session: dict[str, Any], job_id: uuid.UUID,
              at: datetime) -> None:
    """A ready session's analysis (its AI risk drawn from LEVELS), transcripts and supervisor reviews."""
    level = rng.choices(list(LEVELS), weights=list(LEVELS.values()))[0]
    categories = () if level in ("none", "unknown") else tuple(sorted(rng.sample(CATEGORIES, rng.choice((1, 1, 2)))))
    result, ai = results.get(level, categories)
    analysis_id = uuid.uuid4()
    out.add(Analysis, id=analysis_id, session_id=session["id"], job_id=job_id, analysis_version=1,
            prompt_version=result["prompt_version"], model=result["model"], risk_level=result["risk_level"],
            result=result, tokens_in=0, tokens_out=0, cost_usd=0.0, latency_seconds=round(rng.uniform(0.1, 3), 3),
            rubric_version=result["rubric_version"], created_at=at,
            rubric_scores={item["key"]: item["score"] for item in result["rubric"]})
    seconds = session["duration_seconds"]
    for provider in ["whisper"] if rng.random() < 0.7 else ["assemblyai", "whisper", "reconciled"]:
        confidence = round(rng.uniform(0.72, 0.97), 4)
        words = int(seconds * rng.uniform(1.6, 2.4))
        metrics = {"word_count": words, "duration_seconds": seconds,
                   "speaking_rate_wpm": round(words / seconds * 60, 1), "mean_confidence": confidence,
                   "low_confidence_share": round(rng.uniform(0, 0.08), 4), "failed_providers": {}}
        if provider == "reconciled":
            metrics["agreement_rate"] = round(rng.uniform(0.8, 0.97), 4)
        out.add(Transcript, session_id=session["id"], provider=provider,
                model="rover:assemblyai+whisper" if provider == "reconciled" else f"{provider}-bench",
                language="en", word_count=words, duration_seconds=seconds,
                mean_confidence=confidence, metrics=metrics, created_at=at)
    session.update(status="ready", analysis_ready_at=at, updated_at=at, ai_risk_level=level,
                   risk_categories=list(categories), attention=RISK_FAILED if level == "unknown" else None)
    effective = _reviews(out, rng, session, analysis_id, ai, "unknown" if level == "unknown" else level)
    session.update(risk_level=effective, flagged=effective != "none")


def _reviews(out: TenantRows, rng: random.Random, session: dict[str, Any], analysis_id: uuid.UUID,
             ai: dict[str, Any], risk: str) -> str:
    """Reviews of 1–3 fields (risk first when flagged), a quarter of them changing the AI's value, each audited;
    more often for flagged sessions, less for the last three days'. Returns the session's effective risk level."""
    flagged = risk != "none"
    reviewed_at = session["analysis_ready_at"] + timedelta(minutes=rng.lognormvariate(math.log(90), 1.1))
    recent = out.now - session["created_at"] < timedelta(days=3)
    if reviewed_at >= out.now or rng.random() >= (0.8 if flagged else 0.52) * (0.3 if recent else 1):
        return risk
    session["reviewed_at"] = reviewed_at
    others = rng.sample([f for f in ai if f != "risk_level"], rng.choice((1, 1, 2)))
    for number, name in enumerate((["risk_level"] if flagged else []) + others):
        human = _human_value(name, ai[name], rng) if rng.random() < 0.25 else ai[name]
        if name == "risk_level":
            risk = human
        when, reviewer = reviewed_at + timedelta(seconds=20 * number), rng.choice(out.reviewers)
        reason = "Benchmark review: changed." if human != ai[name] else "Benchmark review: the AI is right."
        out.add(Review, session_id=session["id"], analysis_id=analysis_id, field=name, ai_value={"value": ai[name]},
                human_value={"value": human}, reason=reason, reviewer_id=reviewer, created_at=when)
        out.add(AuditEntry, actor_id=reviewer, action="review.override", entity_type="session",
                entity_id=str(session["id"]), created_at=when,
                detail={"field": name, "ai_value": ai[name], "human_value": human, "reason": reason,
                        "analysis_version": 1})
    return risk


def _human_value(name: str, ai: Any, rng: random.Random) -> Any:
    """A supervisor's value that differs from the AI's."""
    if name == "risk_level":
        return rng.choice([level for level in ("none", "low", "medium", "high") if level != ai])
    if name.startswith("rubric."):
        return ai + 1 if ai < 5 else ai - 1
    if name.startswith("flag."):
        return rng.choice(("confirmed", "dismissed"))
    if name == "mi_quality":
        return "low" if ai == "high" else "high"
    if name == "action_items":
        return [*ai, "Supervisor: discuss in the next one-to-one."]
    return f"{ai} (Supervisor: the client also raised housing.)"


def build_rows(out: TenantRows, sessions: int, rng: random.Random, results: Results) -> TenantRows:
    """Sessions over the last 12 weeks, newest 1 % still processing, ~2 % failed; 20,000 request timings over the
    last 28 days (the API forgets older ones); three replay runs."""
    created = sorted((out.now - timedelta(seconds=rng.uniform(60, WEEKS * 7 * 86_400)) for _ in range(sessions)),
                     reverse=True)
    for index, at in enumerate(created):
        status = "processing" if index < sessions // 100 else "failed" if rng.random() < 0.02 else "ready"
        _session(out, rng, results, index, at, status)
    for _ in range(20_000):
        method, route, _, typical = rng.choices(ROUTES, weights=[r[2] for r in ROUTES])[0]
        out.add(RequestTiming, method=method, route=route, status_code=rng.choices((200, 404, 401), (97, 2, 1))[0],
                duration_ms=round(typical * rng.lognormvariate(0, 0.6), 3),
                created_at=out.now - timedelta(seconds=rng.uniform(0, 28 * 86_400)))
    for days, recall in ((30, 0.83), (12, 0.88), (2, 0.91)):
        scores = {"precision": round(recall - 0.2, 4), "recall": recall, "f1": round(recall - 0.1, 4)}
        out.add(ReplayRun, candidate=f"rubric-{uuid.uuid4().hex[:12]}", baseline="active (offline)",
                source="dataset:annomi-dev.jsonl", session_count=400, duration_seconds=round(rng.uniform(20, 90), 1),
                metrics={"candidate": {"risk": {"any": scores}, "mi_quality": {"accuracy": 0.9, "kappa": 0.55}},
                         "baseline": {"risk": {"any": {**scores, "recall": 0.8}}}},
                predictions={"candidate": [{"id": f"s{i}", "risk": []} for i in range(400)]},
                created_by=out.reviewers[0], created_at=out.now - timedelta(days=days))
    return out


def seed_tenant(ctx: Context, sessions: int, results: Results, seed: int = SEED) -> Seeded:
    """A tenant with a supervisor (whose token is returned), two more reviewers and an uploader, then its rows
    by bulk INSERT in one transaction, then ANALYZE. Seconds count building, inserting and analysing. A lead, an
    admin and a counselor get tokens too, for the pages a supervisor does not see."""
    with ctx.system_db() as db:
        token = issue_token(db, "bench-clinic", "supervisor@bench.test", Role.supervisor)
        more = [issue_token(db, "bench-clinic", f"{role.value}@bench.test", role)
                for role in (Role.lead, Role.admin, Role.counselor)]
        others = [ensure_user(db, "bench-clinic", f"{name}@bench.test", role).id
                  for name, role in (("reviewer1", Role.supervisor), ("reviewer2", Role.supervisor),
                                     ("uploader", Role.uploader))]
        db.commit()
        principal = authenticate(db, token)
    started = time.perf_counter()
    out = build_rows(TenantRows(principal.tenant_id, [principal.user_id, *others[:2]], others[2]), sessions,
                     random.Random(seed), results)
    with ctx.system_db() as db:
        out.tables[AuditEntry] = chain_bulk(db, principal.tenant_id, out.tables[AuditEntry])
        for table, rows in out.tables.items():
            for start in range(0, len(rows), 5000):
                db.execute(sa.insert(table), rows[start:start + 5000])
        db.commit()
        db.execute(sa.text("ANALYZE"))  # as autovacuum soon would: without statistics the planner guesses
        db.commit()
    return Seeded(token=token, tenant_id=principal.tenant_id, seconds=round(time.perf_counter() - started, 2),
                  other_tokens=more,
                  rows={table.__tablename__: len(rows) for table, rows in out.tables.items()})


def store_session_artifacts(ctx: Context, tenant_id: uuid.UUID, session_id: uuid.UUID, transcript: Any,
                            workdir: Path) -> None:
    """What the Session page plays and shows: the agent transcript the result was made from, and real audio."""
    ctx.store.put_bytes(artifact_key(tenant_id, session_id, TRANSCRIPT_AGENT_NAME),
                        transcript.model_copy(update={"session_id": session_id}).model_dump_json().encode())
    flac = workdir / "audio.flac"
    extract_audio(SAMPLES / "checkin-risk.mp3", flac, timeout_seconds=60)
    ctx.store.put_bytes(artifact_key(tenant_id, session_id, AUDIO_NAME), flac.read_bytes())
