"""Batch throughput with 1 worker node and with 2, side by side in one run: a Ray cluster started on this
machine with `ray start` (a head that runs no stages, then worker nodes), the dispatcher started on it with
`vigil dispatcher`, a batch of the coaching sample through the real stages (ffmpeg extraction, transcription,
analysis). Transcription uses the `standin` provider, which waits a fixed latency without using the CPU, as a
remote provider would; so what adding a node adds is slots for extraction and analysis.

All nodes live on this one machine: a second node adds Ray slots and processes, not cores. So besides the issue's
comparison (1 node of N slots, then 2 of N) the bench runs 1 node of 2N slots, which has the 2-node cluster's
slots on one node, and splits the ratio in two:
  - more slots on the same cores:      1 node x 2N  /  1 node x N
  - the same slots over two nodes:      2 nodes x N  /  1 node x 2N
A fourth run repeats the first with the dispatcher as a detached actor whose driver has exited (how `vigil
dispatcher` used to leave it): Ray then ends each idle worker process of that finished job, so stages keep starting
fresh workers; the ratio shows what keeping the driver alive is worth.
For each run it also measures CPU time per session: the whole machine's (every process: Ray, PostgreSQL, ffmpeg,
and anything else this machine runs) and the Ray worker processes' alone (the stages' Python side).

Each run first processes a warm-up batch (worker processes start and import Vigil on every node), then times a
batch uploaded at once, from the first upload to the last session done.

    .venv/bin/python bench/scale.py [--sessions 24] [--latency 2] [--cpus-per-node 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests.conftest import isolated_context  # noqa: E402
from tests.e2e.test_multinode import LocalCluster, dispatcher_env, start_dispatcher_on, upload_batch  # noqa: E402
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


def busy_cpu_seconds() -> float:
    times = psutil.cpu_times()
    return times.user + times.nice + times.system + getattr(times, "irq", 0) + getattr(times, "softirq", 0)


def ray_workers(cluster: LocalCluster) -> list[psutil.Process]:
    """Worker processes under the cluster's raylets (a worker renames itself `ray::<what it runs>`)."""
    found = []
    for raylet in cluster.raylets():
        for child in raylet.children(recursive=True):
            try:
                if " ".join(child.cmdline()).startswith("ray::"):
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
    return found


def cpu_seconds_of(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for proc in processes:
        try:
            times = proc.cpu_times()
            seconds[proc.pid] = times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return seconds


# A dispatcher as `vigil dispatcher` started it before it stayed in the foreground: a detached actor whose driver
# has exited. Kept here only to measure what that cost.
DETACHED_DRIVER = """
from tests.ray_loopback import keep_loopback
keep_loopback()
import ray
from cli import stack
from tasks.dispatcher import Dispatcher
from cli.local import database_url
from vigil.secrets import load_settings
settings = load_settings()
stack.start_ray(settings)
handle = Dispatcher.options(name=stack.DISPATCHER_NAME, lifetime="detached").remote(settings, database_url())
ray.get(handle.stats.remote())
"""


def one_run(server: str, root: Path, workers: int, sessions: int, latency: float, cpus: int,
            detached: bool = False) -> dict[str, Any]:
    cluster = LocalCluster(workers=[f"node_{i}" for i in range(workers)], cpus_per_worker=cpus)
    ctx = isolated_context(server, root)
    try:
        cluster.start()
        settings = {"TRANSCRIBERS": "standin", "ALLOW_STANDIN": "true", "STANDIN_LATENCY_SECONDS": str(latency),
                    "MAX_JOBS_IN_FLIGHT": "32",
                    "STAGE_LIMITS": json.dumps({"extract": 16, "transcribe": 16, "analyze": 16})}
        if detached:
            subprocess.run([sys.executable, "-c", DETACHED_DRIVER], env=dispatcher_env(cluster, ctx, root / "data",
                                                                                        **settings),
                           cwd=ROOT, check=True, capture_output=True, timeout=180)
        else:
            start_dispatcher_on(cluster, ctx, root / "data", **settings)
        # A warm-up batch first, one session per slot: worker processes start, and import Vigil, on every node.
        upload_batch(ctx, 2 * workers * cpus)
        wait_for_batch(ctx, time.perf_counter())
        with ctx.system_db() as db:
            db.execute(sa.delete(StageEvent))
            db.execute(sa.delete(Job))
            db.commit()
        workers_before = cpu_seconds_of(ray_workers(cluster))
        cpu_before, started = busy_cpu_seconds(), time.perf_counter()
        upload_batch(ctx, sessions)
        statuses = wait_for_batch(ctx, started)
        seconds = time.perf_counter() - started
        cpu_seconds = busy_cpu_seconds() - cpu_before
        workers_after = cpu_seconds_of(ray_workers(cluster))
        worker_seconds = sum(t - workers_before.get(pid, 0.0) for pid, t in workers_after.items())
        with ctx.system_db() as db:
            ready = StageEvent.event == "ready"
            nodes = db.execute(sa.select(StageEvent.stage, sa.func.count(sa.distinct(StageEvent.detail)))
                               .where(ready).group_by(StageEvent.stage)).all()
            # From submission to the result, as the dispatcher saw it: waiting for a Ray slot included.
            stage_seconds = db.execute(sa.select(StageEvent.stage, sa.func.avg(StageEvent.duration_seconds),
                                                 sa.func.max(StageEvent.duration_seconds))
                                       .where(ready).group_by(StageEvent.stage)).all()
    finally:
        cluster.stop()
    return {"workers": workers, "slots_per_node": cpus, "sessions": sessions, "succeeded": statuses.count("succeeded"),
            "seconds": round(seconds, 2), "sessions_per_minute": round(60 * sessions / seconds, 2),
            "nodes_used": dict(nodes),
            # The whole machine's busy CPU time per session and as cores kept busy; the Ray worker processes' CPU
            # time per session; and how many worker processes there were before and after the timed batch.
            "cpu_seconds_per_session": round(cpu_seconds / sessions, 3), "cores_busy": round(cpu_seconds / seconds, 2),
            "worker_cpu_seconds_per_session": round(worker_seconds / sessions, 3),
            "ray_workers": [len(workers_before), len(workers_after)],
            "stage_seconds": {stage: {"mean": round(mean, 2), "max": round(top, 2)}
                              for stage, mean, top in stage_seconds}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=24)
    parser.add_argument("--latency", type=float, default=2.0, help="stand-in provider latency, seconds")
    parser.add_argument("--cpus-per-node", type=int, default=2, help="logical CPUs (Ray slots) per worker node; "
                        "the transcription actor holds one of them on its node")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n = args.cpus_per_node
    shapes = {"1 node": (1, n, False), "1 node, 2x slots": (1, 2 * n, False), "2 nodes": (2, n, False),
              "1 node, detached": (1, n, True)}
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="vigil-bench-scale-") as tmp:
        server = start_embedded_postgres(Path(tmp) / "pg")
        for i, (name, (workers, cpus, detached)) in enumerate(shapes.items()):
            print(f"{name}: {workers} worker node(s) of {cpus} slots…", file=sys.stderr)
            runs[name] = one_run(server, Path(tmp) / f"run{i}", workers, args.sessions, args.latency, cpus, detached)
    rate = {name: run["sessions_per_minute"] for name, run in runs.items()}
    ratios = {"2 nodes / 1 node": rate["2 nodes"] / rate["1 node"],
              "more slots, same cores (1 node 2x slots / 1 node)": rate["1 node, 2x slots"] / rate["1 node"],
              "same slots, two nodes (2 nodes / 1 node 2x slots)": rate["2 nodes"] / rate["1 node, 2x slots"],
              "dispatcher owned by a running driver / detached, driver exited": rate["1 node"] / rate[
                  "1 node, detached"]}
    if args.json:
        print(json.dumps({"runs": runs, "ratios": {k: round(v, 2) for k, v in ratios.items()}}, indent=2))
        return 0
    print(f"{'cluster':<18} {'slots':>5} {'ok':>4} {'seconds':>8} {'sess/min':>8} {'CPU-s/sess':>10} "
          f"{'workers CPU-s/sess':>18} {'cores busy':>10} {'workers':>7}  mean seconds per stage (submitted to done)")
    for name, r in runs.items():
        stages = ", ".join(f"{stage} {times['mean']}" for stage, times in sorted(r["stage_seconds"].items()))
        print(f"{name:<18} {r['workers'] * r['slots_per_node']:>5} {r['succeeded']:>4} {r['seconds']:>8} "
              f"{r['sessions_per_minute']:>8} {r['cpu_seconds_per_session']:>10} "
              f"{r['worker_cpu_seconds_per_session']:>18} {r['cores_busy']:>10} {r['ray_workers'][1]:>7}  {stages}")
    for name, ratio in ratios.items():
        print(f"throughput, {name}: {ratio:.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
