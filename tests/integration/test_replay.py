"""`vigil replay` as a user runs it (a subprocess, the real database): one prediction per input session, metrics
anyone can recompute from them, a stored run readable only by its tenant, production results untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conftest import TEST_KEYS, isolated_context, make_tenant
from tests.integration.test_analysis_tasks import transcribed_session
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.context import Context
from vigil.db.models import Analysis, ReplayRun
from vigil.db.models import Tenant as TenantRow
from vigil.evaluation.scores import multilabel_scores
from vigil.schemas.api import ReviewIn
from vigil.services.auth import authenticate
from vigil.services.pipeline import run_analyze
from vigil.services.replay import CATEGORIES
from vigil.services.reviews import create_review

VIGIL = str(Path(sys.executable).parent / "vigil")


def _turns(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"speaker": who, "text": text} for who, text in pairs]


DATASET = [
    {"id": "plain-disclosure", "turns": _turns(("counselor", "How has this week been?"),
                                               ("client", "I keep thinking about killing myself. I want to die.")),
     "labels": {"risk": ["suicidal_ideation"], "mi_quality": "high",
                "turns": [{"index": 0, "behaviour": "question"}]}},
    {"id": "harmless", "turns": _turns(("counselor", "What would your parents say?"),
                                       ("client", "My parents would kill me if I failed the exam, honestly.")),
     "labels": {"risk": [], "mi_quality": "low"}},
    {"id": "missed-on-purpose", "turns": _turns(("client", "Everything is fine, thanks for asking.")),
     "labels": {"risk": ["abuse_disclosure"]}},  # a label the text does not support: must count as a miss
]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VIGIL, "replay", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


@pytest.fixture(scope="module")
def ctx(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Context:
    return isolated_context(pg_admin_url, tmp_path_factory.mktemp("replay"))


@pytest.fixture
def env(ctx: Context, tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": ctx.database_url, "DATA_DIR": str(tmp_path),
            "OBJECT_STORE_URL": ctx.settings.object_store_url, "ENCRYPTION_KEYS": TEST_KEYS}


def _tenant_id(ctx: Context, name: str) -> uuid.UUID:
    with ctx.system_db() as db:
        return db.scalar(sa.select(TenantRow.id).where(TenantRow.name == name))


def test_dataset_replay_prints_predictions_and_recomputable_metrics(ctx: Context, env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    dataset = tmp_path / "set.jsonl"
    dataset.write_text("\n".join(json.dumps(row) for row in DATASET) + "\n")
    tenant = make_tenant(ctx)
    with ctx.system_db() as db:
        analyses_before = db.scalar(sa.select(sa.func.count()).select_from(Analysis))
    done = _run("--candidate", "offline", "--dataset", str(dataset), "--tenant", tenant.name, "--json", env=env)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert set(output) == {"metrics", "predictions"}
    predictions = output["predictions"]
    assert [p["id"] for p in predictions] == [row["id"] for row in DATASET]
    assert all(set(p) >= {"id", "risk", "mi_quality", "turns"} for p in predictions)
    assert "suicidal_ideation" in predictions[0]["risk"] and predictions[1]["risk"] == []

    recomputed = multilabel_scores([set(row["labels"]["risk"]) for row in DATASET],
                                   [set(p["risk"]) for p in predictions], CATEGORIES)
    reported = output["metrics"]["candidate"]["risk"]
    assert {k: v.as_dict() for k, v in recomputed.items()} == reported
    assert reported["abuse_disclosure"]["fn"] == 1 and reported["abuse_disclosure"]["recall"] == 0.0
    assert output["metrics"]["candidate"]["mi_quality"]["n"] == 2
    assert output["metrics"]["baseline"]["name"].startswith("active (offline")
    assert output["metrics"]["in_sample_artifacts"] == []  # no shipped model was fitted on this file

    with ctx.system_db() as db:
        run = db.get(ReplayRun, uuid.UUID(output["metrics"]["run_id"]))
        assert db.scalar(sa.select(sa.func.count()).select_from(Analysis)) == analyses_before  # production untouched
    assert run is not None and run.tenant_id == _tenant_id(ctx, tenant.name) and run.session_count == 3
    assert run.predictions["candidate"] == predictions


def test_history_replay_scores_against_supervisor_final_labels(ctx: Context, env: dict[str, str]) -> None:
    tenant = make_tenant(ctx)
    reviewed, unreviewed = transcribed_session(ctx, tenant), transcribed_session(ctx, tenant)
    for claim in (reviewed, unreviewed):
        run_analyze(ctx, claim, OfflineAnalyzer())
    with ctx.system_db() as db:
        supervisor = authenticate(db, tenant.supervisor)
        # The supervisor reads the disclosure as something else: supervisor-final says no ideation, abuse instead.
        create_review(ctx.store, db, supervisor, reviewed.session_id, ReviewIn(field="flag.suicidal_ideation",
                                                                    value="dismissed", reason="Song lyrics."))
        create_review(ctx.store, db, supervisor, reviewed.session_id, ReviewIn(field="flag.abuse_disclosure",
                                                                    value="confirmed", reason="Disclosed later."))
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    done = _run("--candidate", "offline", "--since", since, "--tenant", tenant.name, "--json", env=env)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert [p["id"] for p in output["predictions"]] == [str(reviewed.session_id)]  # only reviewed sessions
    baseline = output["metrics"]["baseline"]
    assert baseline["name"] == "production (stored analyses)"
    assert baseline["risk"]["suicidal_ideation"]["fp"] == 1 and baseline["risk"]["abuse_disclosure"]["fn"] == 1


def test_unknown_candidate_is_a_clear_error(ctx: Context, env: dict[str, str], tmp_path: Path) -> None:
    dataset = tmp_path / "set.jsonl"
    dataset.write_text(json.dumps(DATASET[0]) + "\n")
    done = _run("--candidate", "prompt-000000000000", "--dataset", str(dataset), env=env)
    assert done.returncode == 2 and "no analyzer or stored version called 'prompt-000000000000'" in done.stderr
    both = _run("--candidate", "offline", "--dataset", str(dataset), "--since", "2026-01-01", env=env)
    assert both.returncode != 0 and "exactly one of --dataset or --since" in both.stderr


def test_replay_runs_are_readable_by_their_tenant_only(ctx: Context) -> None:
    from serve.app import configure, create_app

    mine, theirs = make_tenant(ctx), make_tenant(ctx)
    with ctx.system_db() as db:
        owner = authenticate(db, mine.lead)
        run = ReplayRun(tenant_id=owner.tenant_id, candidate="offline", baseline="active", source="dataset:x",
                        session_count=1, duration_seconds=0.1, metrics={"candidate": {}}, predictions={"candidate": []})
        db.add(run)
        db.commit()
        run_id = run.id
    with TestClient(configure(create_app(), ctx)) as client:
        assert [r["id"] for r in client.get("/api/v1/replay-runs", headers=mine.headers("lead")).json()] == \
            [str(run_id)]
        assert client.get(f"/api/v1/replay-runs/{run_id}", headers=mine.headers("lead")).json()["predictions"] == \
            {"candidate": []}
        assert client.get("/api/v1/replay-runs", headers=theirs.headers("admin")).json() == []
        assert client.get(f"/api/v1/replay-runs/{run_id}", headers=theirs.headers("admin")).status_code == 404
        assert client.get("/api/v1/replay-runs", headers=mine.headers("uploader")).status_code == 403


def test_a_file_a_shipped_model_was_fitted_on_is_named_in_sample(tmp_path: Path) -> None:
    import gzip

    from vigil.services.replay import artifacts_fitted_on

    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps(DATASET[0]) + "\n")
    digest = __import__("hashlib").sha256(data.read_bytes()).hexdigest()
    models = tmp_path / "models"
    models.mkdir()
    (models / "fitted.json.gz").write_bytes(gzip.compress(json.dumps(
        {"meta": {"data": {"file": "set.jsonl", "sha256": digest}}}).encode()))
    keyed = {"meta": {"data": {"set.jsonl": digest}}}
    (models / "keyed.json.gz").write_bytes(gzip.compress(json.dumps(keyed).encode()))
    (models / "other.json.gz").write_bytes(gzip.compress(json.dumps({"meta": {"data_sha256": "0" * 64}}).encode()))
    assert artifacts_fitted_on(data, models) == ["fitted.json.gz", "keyed.json.gz"]
