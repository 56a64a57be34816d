"""Disputes: counselors' disagreements with reviewed values. A supervisor sees those in their queue (values they set or
accepted) and upholds or changes each with a reason; admins and leads see all of the tenant's (leads read only)."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import field_label, field_value, plain
from dashboard.tables import table

RISK_LEVELS = ["none", "low", "medium", "high"]
SHOW = {"open": "Open", "upheld": "Upheld", "changed": "Changed", "all": "All"}


def _when(stamp: str | None) -> str:
    return stamp[:16].replace("T", " ") if stamp else ""


def new_value(field: str) -> Any:
    """The widget for a changed value, by the field's kind (the API checks it like any review)."""
    if field == "risk_level":
        return st.selectbox("New value", RISK_LEVELS, key="dispute_value_risk")
    if field.startswith("flag."):
        return st.selectbox("New value", ["confirmed", "dismissed"], key="dispute_value_flag")
    if field == "mi_quality":
        return st.selectbox("New value", ["high", "low"], key="dispute_value_mi")
    if field.startswith("rubric."):
        return int(st.number_input("New score", min_value=1, max_value=10, step=1, key="dispute_value_score"))
    text = st.text_area("New value" + (" (one item a line)" if field == "action_items" else ""),
                        key="dispute_value_text")
    return [line.strip() for line in text.splitlines() if line.strip()] if field == "action_items" else text


st.title("Disputes")
reviewer = api.can("review")
st.caption("Disputes of values you set or accepted." if st.session_state.get("me", {}).get("role") == "supervisor"
           else "Every dispute of this tenant.")
show = st.segmented_control("Show", list(SHOW), format_func=SHOW.get, default="open", key="dispute_status")
rows = api.load_or_stop(lambda: api.disputes(None if show in (None, "all") else show), "disputes")
if not rows:
    st.info("No disputes here.")
    st.stop()

table(pl.DataFrame([{
    "session": d["session_title"] or d["session_id"][:8],
    "counselor": d["counselor"] or "",
    "field": field_label(d["field"]),
    "disputed value": field_value(d["disputed_value"]),
    "note": d["note"],
    "status": d["status"],
    "assigned to": d["assignee_email"] or "(an admin)",
    "opened": _when(d["created_at"]),
    "reason": d["reason"] or "",
    "resolved by": d["resolved_by_email"] or "",
} for d in rows]), "disputes")

open_ones = {d["id"]: d for d in rows if d["status"] == "open"}
if not reviewer or not open_ones:
    st.stop()

st.markdown("#### Resolve a dispute")
chosen = st.selectbox("Dispute", list(open_ones), key="dispute_choice", format_func=lambda i: (
    f"{open_ones[i]['session_title'] or open_ones[i]['session_id'][:8]} · {field_label(open_ones[i]['field'])} · "
    f"{open_ones[i]['opened_by_email']}"))
dispute = open_ones[chosen]
st.text(f"Counselor's note: {dispute['note']}")
with st.form("resolve", clear_on_submit=True):
    outcome = st.radio("Outcome", ["upheld", "changed"], horizontal=True, key="dispute_outcome",
                       format_func={"upheld": "Uphold: the value stays", "changed": "Change it"}.get)
    value = new_value(dispute["field"])
    reason = st.text_area("Reason (the counselor sees it)", max_chars=4000, key="dispute_reason")
    sent = st.form_submit_button("Resolve", type="primary")
if sent:
    try:
        done = api.resolve_dispute(chosen, outcome, reason, value if outcome == "changed" else None)
    except api.ApiError as exc:
        st.error(f"Not resolved: {plain(exc.detail)}")
    else:
        st.success(f"{done['status'].capitalize()}: {plain(field_label(done['field']))} is "
                   f"{plain(field_value(done['resolved_value']))}.")
