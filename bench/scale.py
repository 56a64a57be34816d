"""Batch throughput with 1 worker node and with 2, side by side in one run: a Ray cluster started on this
machine with `ray start` (a head that runs no stages, then N worker nodes of the same size), the dispatcher
started on it with `vigil dispatcher`, a batch of the coaching sample through the real stages (ffmpeg extraction,
transcription, analysis). Transcription uses the `standin` provider, which waits a fixed latency without using
the CPU, as a remote provider would; so what adding a node adds is slots for extraction and analysis.

Both nodes live on this one machine: a second node adds Ray slots, not cores. The ratio says how much the
pipeline gains from more slots on the cores it has (on separate machines it would also gain their cores).

Each run first processes a warm-up batch (worker processes start and import Vigil on every node), then times a
batch uploaded at once, from the first upload to the last session done.

    .venv/bin/python bench/scale.py [--sessions 24] [--latency 2] [--cpus-per-node 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tests.conftest import isolated_context  # noqa: E402
from tests.e2e.test_multinode import LocalCluster, start_dispatcher_on, upload_batch  # noqa: E402
from vigil.db.engine import start_embedded_postgres  # noqa: E402
from vigil.db.models import Job, StageEvent  # noqa: E402


def wait_for_batch(ctx: Any, started: float) -> list[str]:
    while True:
        with ctx.system_db() as db:
            statuses = list(db.scalars(sa.select(Job.status)))
        if statuses and set(statuses) <= {"succeeded", "failed", "dead"}:
            return statuses
        if time.perf_counter() - started > 900:
            raise RuntimeError(f"batch not finished: {statuses}")
        time.sleep(0.25)


def one_run(server: str, root: Path, workers: int, sessions: int, latency: float, cpus: int) -> dict[str, Any]:
    cluster = LocalCluster(workers=[f"node_{i}" for i in range(workers)], cpus_per_worker=cpus)
    ctx = isolated_context(server, root)
    try:
        cluster.start()
        start_dispatcher_on(cluster, ctx, root / "data", TRANSCRIBERS="standin", STANDIN_LATENCY_SECONDS=str(latency),
                            MAX_JOBS_IN_FLIGHT="32",
                            STAGE_LIMITS=json.dumps({"extract": 16, "transcribe": 16, "analyze": 16}))
        # A warm-up batch first, one session per slot: worker processes start, and import Vigil, on every node.
        upload_batch(ctx, 2 * workers * cpus)
        wait_for_batch(ctx, time.perf_counter())
        with ctx.system_db() as db:
            db.execute(sa.delete(StageEvent))
            db.execute(sa.delete(Job))
            db.commit()
        started = time.perf_counter()
        upload_batch(ctx, sessions)
        statuses = wait_for_batch(ctx, started)
        seconds = time.perf_counter() - started
        with ctx.system_db() as db:
            nodes = db.execute(sa.select(StageEvent.stage, sa.func.count(sa.distinct(StageEvent.detail)))
                               .where(StageEvent.event == "ready").group_by(StageEvent.stage)).all()
    finally:
        cluster.stop()
    return {"workers": workers, "sessions": sessions, "succeeded": statuses.count("succeeded"),
            "seconds": round(seconds, 2), "sessions_per_minute": round(60 * sessions / seconds, 2),
            "nodes_used": dict(nodes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--latency", type=float, default=2.0, help="stand-in provider latency, seconds")
    parser.add_argument("--cpus-per-node", type=int, default=2, help="logical CPUs (Ray slots) per worker node; "
                        "the transcription actor holds one of them on its node")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-scale-") as tmp:
        server = start_embedded_postgres(Path(tmp) / "pg")
        runs = []
        for workers in (1, 2):
            print(f"{workers} worker node(s)…", file=sys.stderr)
            runs.append(one_run(server, Path(tmp) / f"w{workers}", workers, args.sessions, args.latency,
                                args.cpus_per_node))
    ratio = runs[1]["sessions_per_minute"] / runs[0]["sessions_per_minute"]
    if args.json:
        print(json.dumps({"runs": runs, "ratio": round(ratio, 2)}, indent=2))
        return 0
    print(f"{'worker nodes':>12} {'sessions':>8} {'ok':>4} {'seconds':>8} {'sessions/min':>12}  nodes used by stage")
    for r in runs:
        print(f"{r['workers']:>12} {r['sessions']:>8} {r['succeeded']:>4} {r['seconds']:>8} "
              f"{r['sessions_per_minute']:>12}  {r['nodes_used']}")
    print(f"throughput, 2 nodes / 1 node: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
