"""Alert delivery, measured in one run on real parts (embedded PostgreSQL, local Ray with the real dispatcher and its
periodic delivery task, the real analyze stage with the offline analyzer, a webhook receiver on loopback):

  (a) receiver up: 50 sessions flagged one after another; for each alert, time from its outbox row (written in the
      analysis's transaction, just before the commit) to the receiver reading it. Target p95 ≤ 5 s.
  (b) receiver down for the first 60 s (nothing listens on its port), then up: the same 50, the same figures; every
      alert must arrive once it is back, and any duplicate must carry the same delivery id.

    .venv/bin/python bench/alerts.py [--sessions 50] [--down 60]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.jobs import make_context  # noqa: E402
from tasks.dispatcher import Dispatcher  # noqa: E402
from tests.conftest import make_tenant  # noqa: E402
from tests.integration.test_analysis_tasks import transcribed_session  # noqa: E402
from tests.standins.webhook import Receiver, webhook_receiver  # noqa: E402
from vigil.analysis.analyzers.offline import OfflineAnalyzer  # noqa: E402
from vigil.context import Context  # noqa: E402
from vigil.db.engine import start_embedded_postgres  # noqa: E402
from vigil.db.models import Alert, Tenant  # noqa: E402
from vigil.services.pipeline import run_analyze  # noqa: E402

RULES = {"rules": [{"categories": ["suicidal_ideation", "self_harm"], "min_severity": "medium",
                    "channels": [{"type": "webhook", "url": "{url}", "secret_sealed": None}]}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rules_to(ctx: Context, tenant_name: str, url: str) -> None:
    with ctx.system_db() as db:
        db.execute(sa.update(Tenant).where(Tenant.name == tenant_name)
                   .values(alert_config=json.loads(json.dumps(RULES).replace("{url}", url))))
        db.commit()


def _flag_sessions(ctx: Context, count: int) -> tuple[str, list]:  # type: ignore[type-arg]
    """`count` transcribed sessions ready for the analyze stage, of a tenant of their own."""
    tenant = make_tenant(ctx)
    return tenant.name, [transcribed_session(ctx, tenant) for _ in range(count)]


def _phase(ctx: Context, claims: list, receiver: Receiver) -> dict[str, object]:  # type: ignore[type-arg]
    analyzer = OfflineAnalyzer()
    started = time.time()
    for claim in claims:  # one after another, as the analyze stage commits them
        run_analyze(ctx, claim, analyzer)
    with ctx.system_db() as db:
        rows = db.execute(sa.select(Alert.id, Alert.created_at)
                          .where(Alert.session_id.in_([c.session_id for c in claims]))).all()
    flagged = {str(r.id): r.created_at.timestamp() for r in rows}
    deadline = time.time() + 600
    while time.time() < deadline:
        arrived = {h["x-vigil-delivery"] for h, _ in receiver.received}
        if flagged.keys() <= arrived:
            break
        time.sleep(0.2)
    first: dict[str, float] = {}
    for (headers, _), at in zip(receiver.received, receiver.arrived, strict=False):
        first.setdefault(headers["x-vigil-delivery"], at)
    latencies = sorted(first[i] - flagged[i] for i in flagged if i in first)
    copies = Counter(h["x-vigil-delivery"] for h, _ in receiver.received)
    return {"alerts": len(flagged), "delivered": len(latencies), "seconds": time.time() - started,
            "p50": statistics.median(latencies) if latencies else None,
            "p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else None,
            "max": max(latencies) if latencies else None,
            "duplicates": sum(n - 1 for n in copies.values()), "unknown_ids": len(set(copies) - set(flagged)),
            "last_arrival": max(first.values()) if first else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--down", type=float, default=60.0, help="seconds the receiver is down in (b)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-alerts-") as tmp:
        root = Path(tmp)
        server = start_embedded_postgres(root / "pg")
        ctx = make_context(server, root, signing_key="bench-signing-key")
        ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False,
                 log_to_driver=False)
        dispatcher = Dispatcher.remote(ctx.settings, ctx.database_url)  # delivers every ALERT_INTERVAL_SECONDS
        try:
            up_tenant, up_claims = _flag_sessions(ctx, args.sessions)
            down_tenant, down_claims = _flag_sessions(ctx, args.sessions)
            with webhook_receiver() as receiver:
                _rules_to(ctx, up_tenant, receiver.url)
                up = _phase(ctx, up_claims, receiver)

            port = _free_port()
            _rules_to(ctx, down_tenant, f"http://127.0.0.1:{port}/hook")
            late = Receiver()

            back_at: list[float] = []

            def come_back() -> None:
                time.sleep(args.down)
                with webhook_receiver(port) as back:
                    back_at.append(time.time())
                    late.received, late.arrived = back.received, back.arrived  # the same lists, filled from now
                    while not stop.is_set():
                        time.sleep(0.1)

            stop = threading.Event()
            thread = threading.Thread(target=come_back, daemon=True)
            thread.start()
            down = _phase(ctx, down_claims, late)
            stop.set()
            thread.join(timeout=10)
        finally:
            ray.get(dispatcher.stop.remote())
            ray.kill(dispatcher)
            ray.shutdown()
    print(f"alert delivery on loopback, {args.sessions} flagged sessions per run, delivery every "
          f"{ctx.settings.alert_interval_seconds:g} s, retry backoff {ctx.settings.alert_retry_base_seconds:g} s "
          f"doubling to at most {ctx.settings.alert_retry_max_seconds:g} s")
    print(f"{'run':<34}{'delivered':>11}{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'dupes':>7}{'stray':>7}")
    for name, run in (("(a) receiver up", up), (f"(b) receiver down first {args.down:g} s", down)):
        print(f"{name:<34}{run['delivered']:>5}/{run['alerts']:<5}{run['p50']:>9.2f}{run['p95']:>9.2f}"
              f"{run['max']:>9.2f}{run['duplicates']:>7}{run['unknown_ids']:>7}")
    print(f"(a) p95 target ≤ 5 s: {'met' if up['p95'] is not None and up['p95'] <= 5 else 'MISSED'}; "
          f"(b) every alert delivered after the outage: {'yes' if down['delivered'] == down['alerts'] else 'NO'}; "
          f"the last one {down['last_arrival'] - back_at[0]:.1f} s after the receiver came back "
          f"(retry waits are at most {ctx.settings.alert_retry_max_seconds:g} s)")


if __name__ == "__main__":
    main()
