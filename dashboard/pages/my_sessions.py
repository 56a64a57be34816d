"""My sessions (counselors): the reviewed results of the sessions you held, with the reviewers' comments; acknowledge
a review, dispute a field with a note, and see what became of your disputes. Only what the API gives a counselor.

Tables here are plain `st.dataframe`s without the download buttons of `tables.table`: downloads are audited through
POST /exports, which a counselor may not call, and an unaudited copy of a review is not what this page is for."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import SEVERITY_ICON, clock, field_label, field_value, plain

SOURCE = {"reviewer": "set by the reviewer", "accepted": "AI's, accepted by the reviewer"}
STATUS = {"open": "⏳ open", "upheld": "✔ upheld", "changed": "✎ changed"}


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else ""


st.title("My sessions")
sessions = api.load_or_stop(api.my_sessions, "your sessions")
if not sessions:
    st.info("No reviewed sessions yet. A session appears here once a supervisor has reviewed it. If you expected "
            "some, ask an admin to link your account to your name as it is given at upload.")
    st.stop()

st.dataframe(pl.DataFrame([{
    "title": s["title"] or s["id"][:8],
    "risk (reviewed)": f"{SEVERITY_ICON.get(s['risk_level'], '…')} {s['risk_level'] or '–'}",
    "reviewed": _when(s["reviewed_at"]),
    "acknowledged": "✔" if s["acknowledged_at"] else "",
    "open disputes": s["open_disputes"],
} for s in sessions]), hide_index=True, width="stretch", key="my-sessions")

titles = {s["id"]: f"{s['title'] or s['id'][:8]} · reviewed {_when(s['reviewed_at'])}" for s in sessions}
sid = st.selectbox("Session", list(titles), format_func=titles.get, key="my_session_picker")
detail: dict[str, Any] = api.load_or_stop(lambda: api.my_session(sid), "the session")

st.subheader(plain(detail["title"] or sid[:8]))
st.caption(f"{plain(detail['counselor'] or '')} · {clock(detail['duration_seconds'])} · uploaded "
           f"{_when(detail['created_at'])} · reviewed {_when(detail['reviewed_at'])}")

acknowledgement = detail["acknowledgement"]
if acknowledgement:
    st.success(f"You acknowledged this review on {_when(acknowledgement['acknowledged_at'])}.")
    if acknowledgement["changed_since"]:
        st.warning("A reviewer changed a value since you acknowledged it: see the comments below.")
elif st.button("Acknowledge review", type="primary", key="acknowledge",
               help="Tells your supervisor you have read this review. Once; recorded."):
    try:
        api.acknowledge_review(sid)
    except api.ApiError as exc:
        st.error(f"Not acknowledged: {plain(exc.detail)}")
    else:
        st.rerun()

st.markdown("#### Reviewed results")
st.caption("Each value as your supervisor's review left it: theirs, with their comment, or the AI's they accepted.")
fields = detail["fields"]
st.dataframe(pl.DataFrame([{
    "field": field_label(f["field"]),
    "value": field_value(f["value"]),
    "decided": SOURCE[f["source"]],
    "reviewer's comment": f["comment"] or "",
    "reviewer": f["reviewer_email"] or "",
} for f in fields]), hide_index=True, width="stretch", key="my-session-fields")

st.markdown("#### Dispute a value")
with st.form("dispute", clear_on_submit=True):
    field = st.selectbox("Field", [f["field"] for f in fields], format_func=field_label, key="dispute_field")
    note = st.text_area("Why you disagree", max_chars=4000, key="dispute_note",
                        help="Goes to the supervisor who set or accepted this value.")
    sent = st.form_submit_button("Send dispute")
if sent:
    try:
        opened = api.dispute(sid, field, note)
    except api.ApiError as exc:
        st.error(f"Not sent: {plain(exc.detail)}")
    else:
        st.success(f"Sent to {plain(opened['assignee_email'] or 'an admin')}.")
        detail = api.load_or_stop(lambda: api.my_session(sid), "the session")

st.markdown("#### Your disputes")
if not detail["disputes"]:
    st.caption("None for this session.")
else:
    st.dataframe(pl.DataFrame([{
        "field": field_label(d["field"]),
        "disputed value": field_value(d["disputed_value"]),
        "your note": d["note"],
        "status": STATUS[d["status"]],
        "outcome": field_value(d["resolved_value"]) if d["status"] != "open" else "",
        "reason": d["reason"] or "",
        "by": d["resolved_by_email"] or d["assignee_email"] or "",
        "opened": _when(d["created_at"]),
    } for d in detail["disputes"]]), hide_index=True, width="stretch", key="my-disputes")
