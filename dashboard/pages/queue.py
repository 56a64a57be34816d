"""Review queue: flagged sessions awaiting review first (by severity, then age), then the rest."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import SEVERITY_ICON, queue_order

st.title("Review queue")
rows = api.load_or_stop(api.sessions, "sessions")

awaiting = [s for s in rows if s["flagged"] and not s["reviewed"]]
cols = st.columns(4)
cols[0].metric("Flagged, awaiting review", len(awaiting))
cols[1].metric("Processing", sum(s["status"] in ("uploaded", "processing") for s in rows))
cols[2].metric("Failed", sum(s["status"] == "failed" for s in rows))
cols[3].metric("All sessions", len(rows))

if not rows:
    st.info("No sessions yet. Upload one with `vigil ingest FILE --token …` or `POST /api/v1/sessions`.")
    st.stop()

frame = pl.DataFrame([{
    "id": s["id"],
    "needs action": s["flagged"] and not s["reviewed"],
    "risk": f"{SEVERITY_ICON.get(s['risk_level'], '…')} {s['risk_level'] or 'pending'}",
    "title": s["title"] or s["original_filename"] or s["id"][:8],
    "status": s["status"] + (" ⚠ analysis failed" if s["status"] == "failed" else ""),
    "attention": s.get("attention") or "",
    "reviewed": "✔" if s["reviewed"] else "",
    "uploaded": s["created_at"][:16].replace("T", " "),
    "error": s["error"] or "",
} for s in queue_order(rows)])

only_action = st.toggle("Only sessions that need action", value=False)
shown = frame.filter(pl.col("needs action")) if only_action else frame
st.dataframe(shown.drop("id").to_pandas(), hide_index=True, width="stretch")

labels = {row["id"]: f"{row['risk']} · {row['title']} · {row['status']}" for row in shown.iter_rows(named=True)}
if labels:
    chosen = st.selectbox("Open a session", options=list(labels), format_func=labels.get, key="queue_choice")
    if st.button("Open session", type="primary"):
        st.session_state["session_id"] = chosen
        st.switch_page("pages/session.py")
