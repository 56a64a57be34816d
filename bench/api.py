"""API latency and upload throughput through the real deployment: Ray Serve (the VigilIngress replica with its
max_ongoing/max_queued limits), the real dispatcher processing a sample with Whisper, an embedded PostgreSQL,
all on 127.0.0.1. Clients are threads with their own keep-alive HTTP connection (the standard library's
http.client: about 0.2 CPU-ms a request, where httpx took 1.4, on the same two cores as the server).

- ingress: each of `--ingress direct,proxy` in a fresh process and Ray of its own: `direct`, Serve's direct
  ingress (the replica listens on the API port, Vigil's default); `proxy`, through Serve's HTTP proxy;
- baseline: `GET /ping` (no token, no database) through the same ingress, replica and middleware: what a request
  costs before Vigil does any work of its own;
- reads: `GET /jobs/{id}/status`, `GET /sessions/{id}` (the session page's header: the session, its newest
  job, its providers, its double-review label) and `GET /sessions/{id}/transcript` (a sealed transcript, decrypted
  and relabelled per request) at 1, 10 and 50 concurrent clients: p50 / p95 / p99 in ms, requests per second, how
  many were shed with 429 (Serve's backpressure: past max_ongoing + max_queued, clients are told to retry), and
  each read's throughput and p95 as a ratio to the baseline's at the same number of clients;
- uploads: the 160 KB sample (checkin-risk.mp3) posted by 4 concurrent clients (ffprobe check, store, rows,
  audit): uploads/s, MB/s;
- with two ingress modes, the reads side by side and direct ÷ proxy.

The per-token rate limit is off for the run (one token would otherwise be throttled by design).

`--compare TREE` measures another checkout (e.g. a `git worktree` of the commit before a change) and this one in
one invocation: each round runs TREE's own bench/api.py, then this tree's, each in a fresh process with its code
first on the path (Ray's workers inherit it), and the table gives both side by side with after/before ratios.

    .venv/bin/python bench/api.py [--requests 300] [--uploads 12] [--levels 1,10,50] [--ingress direct,proxy]
    .venv/bin/python bench/api.py --compare ../before --rounds 2 [--levels 1,10] [--ingress direct]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.conftest import SAMPLES, free_port, isolated_context, make_tenant  # noqa: E402
from vigil.db.engine import start_embedded_postgres  # noqa: E402

LEVELS = (1, 10, 50)
BASELINE = "ping (baseline)"
SAMPLE = SAMPLES / "checkin-risk.mp3"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def hammer(base: str, token: str, path: str, clients: int, total: int) -> dict[str, Any]:
    """`total` GETs of `path` spread over `clients` threads; latency of the answered ones, and the 429s."""
    latencies: list[float] = []
    shed, errors = [0], [0]
    lock = threading.Lock()
    per_client = max(1, total // clients)

    host, port = base.removeprefix("http://").rsplit(":", 1)
    headers = {"Authorization": f"Bearer {token}"}

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            for _ in range(per_client):
                started = time.perf_counter()
                try:
                    connection.request("GET", path, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):  # e.g. the server closed the connection: counted
                    connection.close()
                    status = 0
                took = time.perf_counter() - started
                with lock:
                    if status == 200:
                        latencies.append(took)
                    elif status == 429:
                        shed[0] += 1
                    else:
                        errors[0] += 1
        finally:
            connection.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    return {"clients": clients, "requests": per_client * clients, "ok": len(ms), "shed_429": shed[0],
            "errors": errors[0], "p50_ms": round(percentile(ms, 0.5), 1), "p95_ms": round(percentile(ms, 0.95), 1),
            "p99_ms": round(percentile(ms, 0.99), 1), "mean_ms": round(statistics.fmean(ms), 1),
            "per_second": round(len(ms) / wall, 1)}


def uploads(base: str, token: str, count: int, clients: int = 4) -> dict[str, Any]:
    data = SAMPLE.read_bytes()
    statuses: list[int] = []

    def one(_: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            statuses.append(http.post("/api/v1/sessions", files={"file": (SAMPLE.name, data)}).status_code)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    wall = time.perf_counter() - started
    accepted = statuses.count(202)
    return {"uploads": count, "clients": clients, "accepted": accepted, "seconds": round(wall, 2),
            "per_second": round(accepted / wall, 2), "mb_per_second": round(accepted * len(data) / wall / 1e6, 2)}


def wait_ready(base: str, token: str, job_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        while time.monotonic() < deadline:
            if http.get(f"/api/v1/jobs/{job_id}/status").json()["status"] == "succeeded":
                return
            time.sleep(0.5)
    raise RuntimeError("the sample was not processed in time")


def run(requests: int, upload_count: int, levels: tuple[int, ...], ingress: str,
        report: Callable[[str], None]) -> dict[str, Any]:
    import ray

    from cli import stack

    with tempfile.TemporaryDirectory(prefix="vigil-bench-api-") as tmp:
        server = start_embedded_postgres(Path(tmp) / "pg")
        ctx = isolated_context(server, Path(tmp), api_rate_limit="", ray_dashboard_port=free_port(),
                               api_ingress=ingress)
        tenant = make_tenant(ctx)
        report("starting Ray, Serve and the dispatcher…")
        os.environ.pop("RAY_ADDRESS", None)
        stack.start_ray(ctx.settings)
        try:
            stack.start_api(ctx.settings, ctx.database_url)
            dispatcher = stack.start_dispatcher(ctx.settings, ctx.database_url)
            base = ctx.settings.base_url
            for _ in range(120):
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            with httpx.Client(base_url=base, headers=tenant.headers("uploader"), timeout=120) as http:
                accepted = http.post("/api/v1/sessions", files={"file": (SAMPLE.name, SAMPLE.read_bytes())}).json()
            wait_ready(base, tenant.supervisor, accepted["job_id"])
            ray.kill(dispatcher)  # nothing else to process: the reads get the machine to themselves
            reads: dict[str, list[dict[str, Any]]] = {}
            for name, path in ((BASELINE, "/api/v1/ping"),
                               ("job status", f"/api/v1/jobs/{accepted['job_id']}/status"),
                               ("session", f"/api/v1/sessions/{accepted['session_id']}"),
                               ("transcript", f"/api/v1/sessions/{accepted['session_id']}/transcript")):
                hammer(base, tenant.supervisor, path, 2, 20)  # warm the replica and the connection pools
                reads[name] = []
                for clients in levels:
                    report(f"{name}: {clients} client(s)…")
                    reads[name].append(hammer(base, tenant.supervisor, path, clients, max(requests, clients)))
            up = None
            if upload_count:
                report("uploads…")
                up = uploads(base, tenant.uploader, upload_count)
        finally:
            stack.stop_all()
    return {"reads": reads, "uploads": up, "serve": {"ingress": ingress,
                                                     "max_ongoing_requests": ctx.settings.api_max_ongoing_requests,
                                                     "max_queued_requests": ctx.settings.api_max_queued_requests}}


def print_reads(result: dict[str, Any]) -> None:
    print(f"Serve replica ({result['serve'].get('ingress', 'proxy')} ingress): "  # older trees: proxy only
          f"max_ongoing_requests {result['serve']['max_ongoing_requests']}, "
          f"max_queued_requests {result['serve']['max_queued_requests']}")
    header = ("endpoint", "clients", "ok", "429", "p50 ms", "p95 ms", "p99 ms", "req/s", "req/s ÷ base", "p95 ÷ base")
    widths = (7, 5, 5, 8, 8, 8, 7, 12, 10)
    print(f"{header[0]:<15} " + " ".join(f"{h:>{w}}" for h, w in zip(header[1:], widths, strict=True)))
    base = {r["clients"]: r for r in result["reads"][BASELINE]}
    for name, rows in result["reads"].items():
        for r in rows:
            b = base[r["clients"]]
            print(f"{name:<15} {r['clients']:>7} {r['ok']:>5} {r['shed_429']:>5} {r['p50_ms']:>8} {r['p95_ms']:>8} "
                  f"{r['p99_ms']:>8} {r['per_second']:>7} {r['per_second'] / b['per_second']:>12.2f} "
                  f"{r['p95_ms'] / b['p95_ms']:>10.2f}")
    u = result["uploads"]
    if u:
        print(f"uploads: {u['accepted']}/{u['uploads']} accepted by {u['clients']} clients in {u['seconds']} s: "
              f"{u['per_second']} uploads/s, {u['mb_per_second']} MB/s")


def run_tree(tree: Path, args: list[str], out: Path) -> dict[str, Any]:
    """One bench run of the checkout at `tree`, in a process of its own with that checkout first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, str(tree / "bench" / "api.py"), *args, "--json-out", str(out)], cwd=tree,
                   env=env, check=True, stdout=sys.stderr)  # its own table: printed again below, beside the other
    return json.loads(out.read_text())


def compare(before: Path, rounds: int, args: list[str], ingress: str | None) -> None:
    """Alternate `before` and this tree, `rounds` times each; print every run's reads and the medians side by side.
    One ingress mode: `ingress` when given (then `before` must know the option too), else Serve's proxy, the only
    mode a tree older than the option has."""
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    extra = {"before": ["--ingress", ingress] if ingress else [], "after": ["--ingress", ingress or "proxy"]}
    with tempfile.TemporaryDirectory(prefix="vigil-bench-compare-") as tmp:
        for n in range(rounds):
            for label, tree in (("before", before), ("after", ROOT)):
                print(f"round {n + 1}, {label}: {tree}", file=sys.stderr)
                runs[label].append(run_tree(tree, [*args, *extra[label]], Path(tmp) / f"{label}-{n}.json"))
    for label, results in runs.items():
        for n, result in enumerate(results):
            print(f"\n{label}, round {n + 1}")
            print_reads(result)
    print("\nmedian over rounds: before → after (after ÷ before)")
    print(f"{'endpoint':<15} {'clients':>7} {'req/s before':>12} {'after':>7} {'ratio':>6} "
          f"{'p95 ms before':>13} {'after':>7} {'ratio':>6}")
    first = runs["before"][0]["reads"]
    for name, rows in first.items():
        for i, row in enumerate(rows):
            med = {label: {key: statistics.median(r["reads"][name][i][key] for r in results)
                           for key in ("per_second", "p95_ms")} for label, results in runs.items()}
            b, a = med["before"], med["after"]
            print(f"{name:<15} {row['clients']:>7} {b['per_second']:>12.1f} {a['per_second']:>7.1f} "
                  f"{a['per_second'] / b['per_second']:>5.2f}× {b['p95_ms']:>13.1f} {a['p95_ms']:>7.1f} "
                  f"{a['p95_ms'] / b['p95_ms']:>5.2f}×")


def print_ingress_ratios(results: dict[str, dict[str, Any]]) -> None:
    """The same reads through each ingress, side by side: the first mode ÷ the second."""
    (first, a), (second, b) = list(results.items())[:2]
    print(f"\n{first} ÷ {second} ingress")
    print(f"{'endpoint':<15} {'clients':>7} {'req/s ' + first:>13} {second:>7} {'ratio':>6} "
          f"{'p95 ms ' + first:>13} {second:>7} {'ratio':>6}")
    for name, rows in a["reads"].items():
        for row, other in zip(rows, b["reads"][name], strict=True):
            print(f"{name:<15} {row['clients']:>7} {row['per_second']:>13.1f} {other['per_second']:>7.1f} "
                  f"{row['per_second'] / other['per_second']:>5.2f}× {row['p95_ms']:>13.1f} {other['p95_ms']:>7.1f} "
                  f"{row['p95_ms'] / other['p95_ms']:>5.2f}×")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="GETs per endpoint and concurrency level")
    parser.add_argument("--uploads", type=int, default=12, help="0: no uploads")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent clients, comma-separated")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--json-out", type=Path, help="also write the result as JSON to this file")
    parser.add_argument("--compare", type=Path, metavar="TREE", help="another checkout to measure beside this one")
    parser.add_argument("--rounds", type=int, default=2, help="with --compare: runs of each tree, alternating")
    parser.add_argument("--ingress", help="direct, proxy or both comma-separated (default: both, each in a process "
                                          "of its own; with --compare one mode, default proxy, which older trees "
                                          "measure without the option)")
    args = parser.parse_args(argv)
    common = ["--requests", str(args.requests), "--uploads", str(args.uploads), "--levels", args.levels]
    if args.compare:
        if args.ingress and "," in args.ingress:
            parser.error("--compare measures one ingress mode at a time")
        compare(args.compare.resolve(), args.rounds, common, args.ingress)
        return 0
    modes = (args.ingress or "direct,proxy").split(",")
    if len(modes) > 1:  # Serve reads its ingress mode when Ray starts its processes: one process per mode
        with tempfile.TemporaryDirectory(prefix="vigil-bench-ingress-") as tmp:
            results = {mode: run_tree(ROOT, [*common, "--ingress", mode], Path(tmp) / f"{mode}.json")
                       for mode in modes}
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            for result in results.values():
                print()
                print_reads(result)
            print_ingress_ratios(results)
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=2))
        return 0
    levels = tuple(int(n) for n in args.levels.split(","))
    result = run(args.requests, args.uploads, levels, modes[0], lambda line: print(line, file=sys.stderr))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_reads(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
