"""The dispatcher on real Ray warms its stage workers when it starts, and every stage records how much of its time
was its own work (ffmpeg, the recognizers and diarization, the analysis), so overhead can be measured
(bench/pipeline.py overhead)."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray
import sqlalchemy as sa

from tests.conftest import make_tenant
from tests.e2e.test_durability import _context, _start, _stop, _upload_batch, _wait_all_finished
from vigil.db.models import StageEvent

pytestmark = pytest.mark.ray


def test_warm_workers_are_ready_before_the_first_session_and_each_stage_records_its_own_work(
        ray_runtime: None, pg_admin_url: str, tmp_path: Path) -> None:
    ctx = _context(pg_admin_url, tmp_path, warm_workers=2)
    dispatcher = _start(ctx, "warm-up")
    try:
        warmed = ray.get(dispatcher.warmed.remote(), timeout=180)
        assert len(warmed) == 2 and all(seconds > 0 for seconds in warmed)
        ids = _upload_batch(ctx, make_tenant(ctx), ["checkin-risk.mp3"])
        assert _wait_all_finished(ctx, ids, timeout=180) == {ids[0]: "ready"}
    finally:
        _stop(dispatcher)
    with ctx.system_db() as db:
        done = {row.stage: (row.duration_seconds, row.work_seconds) for row in db.execute(
            sa.select(StageEvent.stage, StageEvent.duration_seconds, StageEvent.work_seconds)
            .where(StageEvent.session_id == ids[0], StageEvent.event == "ready"))}
    assert set(done) == {"extract", "transcribe", "analyze"}
    for stage, (wall, work) in done.items():
        assert work is not None and 0 < work <= wall, (stage, wall, work)


def test_no_warm_up_when_it_is_turned_off(ray_runtime: None, pg_admin_url: str, tmp_path: Path) -> None:
    ctx = _context(pg_admin_url, tmp_path, warm_workers=0)
    dispatcher = _start(ctx, "no-warm-up")
    try:
        assert ray.get(dispatcher.warmed.remote(), timeout=60) == []
    finally:
        _stop(dispatcher)
