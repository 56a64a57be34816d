"""Review queue: flagged sessions awaiting review first (by severity, then age), then the rest; filtered by the API.
The counts and the table refresh themselves (a fragment rerun every DASHBOARD_REFRESH_SECONDS), so a newly flagged
session appears without a reload; the filters stay outside it, untouched by a refresh."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import LOAD_TEST_MARK, SEVERITY_ICON, label
from dashboard.tables import table

SHOWN = 500
SEVERITIES = ["unknown", "high", "medium", "low", "none"]

st.title("Review queue")
facets = api.load_or_stop(api.queue_summary, "the queue's filters")

with st.expander("Filters", expanded=False):
    cols = st.columns(4)
    category = cols[0].selectbox("Risk category", facets["categories"], index=None, format_func=label,
                                 placeholder="any", key="f_category")
    severities = cols[1].multiselect("Severity", SEVERITIES, key="f_severity", placeholder="any")
    counselor = cols[2].selectbox("Counselor", facets["counselors"], index=None, placeholder="any",
                                  key="f_counselor")
    team = cols[3].selectbox("Team", facets["teams"], index=None, placeholder="any", key="f_team")
    cols = st.columns(4)
    provider = cols[0].selectbox("Provider", facets["providers"], index=None, placeholder="any", key="f_provider")
    dates = cols[1].date_input("Uploaded between", value=(), key="f_dates", format="YYYY-MM-DD")
    failed_only = cols[2].toggle("Analysis failed", key="f_failed",
                                 help="Processing failed, or a task failed (e.g. risk unknown): read it yourself.")
    only_action = cols[3].toggle("Only sessions that need action", key="f_action",
                                 help="Flagged and not yet reviewed.")

filters: dict[str, Any] = {"category": category, "risk_level": severities, "counselor": counselor, "team": team,
                           "provider": provider, "analysis_failed": True if failed_only else None}
if only_action:
    filters.update(flagged=True, reviewed=False)
if len(dates) == 2:
    filters["created_from"] = datetime.combine(dates[0], time.min, UTC).isoformat()
    filters["created_to"] = (datetime.combine(dates[1], time.min, UTC) + timedelta(days=1)).isoformat()
narrowed = any(v not in (None, [], ()) for v in filters.values())


def _badge(s: dict[str, Any]) -> str:
    marks = [LOAD_TEST_MARK] if s.get("load_test_transcript") else []
    if s["status"] == "failed":
        marks.append("⚠ processing failed")
    elif s.get("attention"):
        marks.append("⚠ " + s["attention"])
    elif s["status"] != "ready":
        marks.append("⏳ analysis pending")
    return " · ".join(marks)


@st.fragment(run_every=api.refresh_seconds())
def live_queue(filters: dict[str, Any], narrowed: bool) -> None:
    counts = api.load_or_stop(lambda: api.queue_summary(**filters), "counts")
    cols = st.columns(4)
    cols[0].metric("Flagged, awaiting review", counts["awaiting_review"])
    cols[1].metric("Analysis failed", counts["analysis_failed"], help="Processing failed or a task failed.")
    cols[2].metric("Processing", counts["processing"])
    cols[3].metric("Matching sessions" if narrowed else "All sessions", counts["total"])

    rows = api.load_or_stop(lambda: api.queue(limit=SHOWN, **filters), "sessions")
    if not rows:
        if narrowed:
            st.info("No session matches these filters.")
        else:
            st.info("No sessions yet. Upload one on the Upload page, with `vigil ingest FILE --token …`, or "
                    "`POST /api/v1/sessions`.")
        return

    frame = pl.DataFrame([{
        "id": s["id"],
        "needs action": s["flagged"] and not s["reviewed"],
        "review": s.get("double_review") or "",  # your review | second review | disagreement | calibration …
        "risk": f"{SEVERITY_ICON.get(s['risk_level'], '…')} {s['risk_level'] or 'pending'}",
        "categories": ", ".join(label(c) for c in s.get("risk_categories") or []),
        "title": s["title"] or s["original_filename"] or s["id"][:8],
        "counselor": s.get("counselor") or "",
        "team": s.get("team") or "",
        "status": s["status"],
        "attention": _badge(s),
        "reviewed": "✔" if s["reviewed"] else "",
        "uploaded": s["created_at"][:16].replace("T", " "),
        "providers": ", ".join(s.get("providers") or []),
        "error": s["error"] or "",
    } for s in rows])
    if counts["total"] > len(rows):
        st.caption(f"Showing the first {len(rows)} of {counts['total']} in queue order; narrow with the filters.")
    picked = table(frame.drop("id"), "queue", on_select="rerun", selection_mode="single-row")

    ids = frame["id"].to_list()
    labels = {row["id"]: f"{row['risk']} · {row['title']} · {row['counselor'] or 'no counselor'} · {row['status']}"
              + (f" · {row['review']}" if row["review"] else "") for row in frame.iter_rows(named=True)}
    selected_rows = picked.selection.rows if picked is not None and hasattr(picked, "selection") else []
    # Only a click changes the choice: a refresh that moves rows (a new session on top) leaves the chosen one chosen.
    if selected_rows and selected_rows != st.session_state.get("queue_picked"):
        st.session_state["queue_choice"] = ids[selected_rows[0]]
    st.session_state["queue_picked"] = selected_rows
    if st.session_state.get("queue_choice") not in ids:
        st.session_state.pop("queue_choice", None)  # the filters hid it: start from the top of the queue
    chosen = st.selectbox("Open a session", options=ids, format_func=labels.get, key="queue_choice")
    if st.button("Open session", type="primary", shortcut="o", help="Shortcut: o"):
        st.session_state["session_id"] = chosen
        st.switch_page("pages/session.py")


live_queue(filters, narrowed)
