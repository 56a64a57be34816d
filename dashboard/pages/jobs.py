"""Jobs: where the work stands, and the work that gave up (dead) with its reason and a retry button."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain
from dashboard.tables import table

STATUSES = ["dead", "failed", "waiting", "running", "queued", "succeeded"]

st.title("Jobs")
st.caption("Each job walks a session through extract → transcribe → analyze. Transient errors retry with backoff; "
           "a job that runs out of attempts is **dead** and keeps its reason. Retrying runs the pipeline again.")

counts = api.load_or_stop(api.job_counts, "job counts")
by_status = {status: sum(c["jobs"] for c in counts if c["status"] == status) for status in STATUSES}
cols = st.columns(len(STATUSES))
for col, status in zip(cols, STATUSES, strict=True):
    col.metric(status.capitalize(), by_status[status])

if counts:
    pivot = (pl.DataFrame(counts).pivot(on="stage", index="status", values="jobs", aggregate_function="sum")
             .fill_null(0).sort("status"))
    st.subheader("Jobs by status and stage")
    table(pivot, "job-counts")

status = st.selectbox("Show", STATUSES + ["all"], index=0, key="jobs_status",
                      format_func=lambda s: "all jobs" if s == "all" else f"{s} jobs")
rows = api.load_or_stop(lambda: api.jobs(None if status == "all" else status), "jobs")
if not rows:
    st.info(f"No {'' if status == 'all' else status + ' '}jobs.")
    st.stop()

frame = pl.DataFrame([{
    "job": j["job_id"], "session": j["session_id"], "kind": j["kind"], "stage": j["stage"], "status": j["status"],
    "attempt": f"{j['attempt']}/{j['max_attempts']}", "error code": j["error_code"] or "",
    "reason": j["error_detail"] or "", "updated": j["updated_at"][:19].replace("T", " "),
} for j in rows])
table(frame, f"jobs-{status}")

retryable = [j for j in rows if j["status"] in ("dead", "failed")]
if retryable and api.can("reprocess"):
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
