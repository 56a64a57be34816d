"""Jobs: where the work stands, and the work that gave up (dead) with its reason and a retry button.

The counts and the list refresh themselves (a fragment rerun every DASHBOARD_REFRESH_SECONDS); what a user works
(which jobs to show, the retry form) stays outside it, so a refresh never resets a choice. The page is its sections,
called in order at the bottom: a new panel is one more call there."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.alerts_panel import dead_alerts_panel
from dashboard.formatting import plain
from dashboard.tables import table

STATUSES = ["dead", "failed", "waiting", "running", "queued", "succeeded"]


def choose_status() -> str:
    return st.selectbox("Show", STATUSES + ["all"], index=0, key="jobs_status",
                        format_func=lambda s: "all jobs" if s == "all" else f"{s} jobs")


def _rows(status: str) -> list[dict]:
    return api.load_or_stop(lambda: api.jobs(None if status == "all" else status), "jobs")


@st.fragment(run_every=api.refresh_seconds())
def live_jobs(status: str) -> None:
    counts = api.load_or_stop(api.job_counts, "job counts")
    by_status = {s: sum(c["jobs"] for c in counts if c["status"] == s) for s in STATUSES}
    for col, shown in zip(st.columns(len(STATUSES)), STATUSES, strict=True):
        col.metric(shown.capitalize(), by_status[shown])
    if counts:
        pivot = (pl.DataFrame(counts).pivot(on="stage", index="status", values="jobs", aggregate_function="sum")
                 .fill_null(0).sort("status"))
        st.subheader("Jobs by status and stage")
        table(pivot, "job-counts")

    st.subheader("all jobs" if status == "all" else f"{status.capitalize()} jobs")
    rows = _rows(status)
    if not rows:
        st.info(f"No {'' if status == 'all' else status + ' '}jobs.")
        return
    frame = pl.DataFrame([{
        "job": j["job_id"], "session": j["session_id"], "kind": j["kind"], "stage": j["stage"], "status": j["status"],
        "attempt": f"{j['attempt']}/{j['max_attempts']}", "error code": j["error_code"] or "",
        "reason": j["error_detail"] or "", "updated": j["updated_at"][:19].replace("T", " "),
    } for j in rows])
    table(frame, f"jobs-{status}")


def retry_dead_work(status: str) -> None:
    retryable = [j for j in _rows(status) if j["status"] in ("dead", "failed")]
    if not retryable or not api.can("reprocess"):
        return
    st.subheader("Retry")
    labels = {j["job_id"]: f"{j['stage']} · {j['error_code'] or j['status']} · session {j['session_id'][:8]}"
              for j in retryable}
    chosen = st.selectbox("Job", list(labels), format_func=labels.get, key="retry_job")
    job = next(j for j in retryable if j["job_id"] == chosen)
    cols = st.columns([1, 1, 4])
    if cols[0].button("Retry", type="primary", key="retry"):
        try:
            accepted = api.reprocess(job["session_id"])
        except api.ApiError as exc:
            st.error(f"Not queued: {plain(exc.detail)}")
        else:
            st.success(f"Queued again as job {accepted['job_id'][:8]}.")
    if cols[1].button("Open session", key="jobs_open"):
        st.session_state["session_id"] = job["session_id"]
        st.switch_page("pages/session.py")


st.title("Jobs")
st.caption("Each job walks a session through extract → transcribe → analyze. Transient errors retry with backoff; "
           "a job that runs out of attempts is **dead** and keeps its reason. Retrying runs the pipeline again.")
status = choose_status()
live_jobs(status)
retry_dead_work(status)
dead_alerts_panel()
