"""The session page's double review: the caller's own blind answer sheet, who else reviews, and, once both are in,
both answers, their disagreements and (for leads and admins) the form that settles one."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import label, plain
from dashboard.tables import table

RISK_LEVELS = ["none", "low", "medium", "high"]
JUDGED = ("risk_level", "mi_quality")


def is_judged(field: str) -> bool:
    return field in JUDGED or field.startswith(("flag.", "rubric."))


def _input(field: str, current: Any, key: str) -> Any:
    if field == "risk_level":
        return st.selectbox("Risk level", RISK_LEVELS, index=RISK_LEVELS.index(current) if current in RISK_LEVELS
                            else None, placeholder="Choose the risk level", key=key)
    if field == "mi_quality":
        return st.radio("MI quality", ["high", "low"], index=["high", "low"].index(current) if current else None,
                        horizontal=True, key=key)
    if field.startswith("flag."):
        return st.radio(label(field.removeprefix("flag.")), ["confirmed", "dismissed"],
                        index=["confirmed", "dismissed"].index(current) if current else None, horizontal=True,
                        key=key)
    return st.number_input(field.removeprefix("rubric."), min_value=1, max_value=100, step=1,
                           value=int(current) if current is not None else None, key=key)


def _sheet_form(sid: str, review: dict[str, Any], calibration: bool = False) -> None:
    mine = review["mine"]
    current = {**review["fields"], **mine["answers"]}
    if calibration:
        st.info("**Calibration review.** Judge each field as you would any session; your answers are compared "
                "with the team's agreed answer, and change nothing on the original.")
    else:
        st.info(f"**Your {'first' if mine['slot'] == 1 else 'second'} review.** Judge each field yourself; you see "
                "the other reviewer's answers only when both are in.")
    with st.form("double_review_sheet"):
        answers = {field: _input(field, value, f"sheet_{field}") for field, value in current.items()}
        note = st.text_area("Note (optional; kept sealed)", mine.get("note") or "", key="sheet_note")
        save, submit = st.columns(2)
        saved = save.form_submit_button("Save draft")
        submitted = submit.form_submit_button("Submit review", type="primary")
    if saved or submitted:
        save_sheet = api.save_calibration_sheet if calibration else api.save_double_review
        try:
            save_sheet(sid, {f: v for f, v in answers.items() if v is not None}, note or None, submitted)
        except api.ApiError as exc:
            st.error(f"Not saved: {plain(exc.detail)}")
        else:
            st.success("Submitted." if submitted else "Draft saved.")
            st.rerun()


def _adjudication(sid: str, review: dict[str, Any]) -> None:
    open_fields = [d for d in review["disagreements"] if d["adjudicated"] is None]
    if not open_fields or "adjudicate" not in st.session_state.get("me", {}).get("permissions", []):
        return
    st.markdown("**Settle a disagreement**")
    field = st.selectbox("Field", [d["field"] for d in open_fields], key="adjudicate_field")
    with st.form("adjudicate", clear_on_submit=True):
        value = _input(field, None, "adjudicate_value")
        reason = st.text_area("Reason (required)", key="adjudicate_reason")
        if st.form_submit_button("Adjudicate", type="primary"):
            if len(reason.strip()) < 3 or value is None:
                st.error("A value and a reason are required.")
            else:
                try:
                    api.adjudicate(sid, field, value, reason.strip())
                except api.ApiError as exc:
                    st.error(f"Not saved: {plain(exc.detail)}")
                else:
                    st.rerun()


def calibration_section(sid: str) -> None:
    """A calibration copy: the caller's sheet while open, what they answered once submitted."""
    try:
        review = api.calibration_sheet(sid)
    except api.ApiError as exc:
        st.caption(f"Calibration sheet not available: {plain(exc.detail)}")
        return
    st.subheader("Calibration")
    mine = review["mine"]
    if mine and mine["status"] == "open":
        _sheet_form(sid, review, calibration=True)
    elif mine:
        st.success("Submitted. Your lead sees how it compares with the agreed answer.")
    else:
        st.caption("A calibration copy sent to another reviewer.")


def double_review_section(sid: str) -> str:
    """Show the session's double review; returns its status (none | open | disagreement | settled)."""
    try:
        review = api.double_review(sid)
    except api.ApiError:
        return "none"
    if review["status"] == "none":
        return "none"
    st.subheader("Double review")
    who = ", ".join(f"{r['reviewer_email']} ({r['status']})" for r in review["reviewers"])
    st.caption(f"Two supervisors judge this session blind to each other: {who}.")
    mine = review["mine"]
    if mine and mine["status"] == "open":
        _sheet_form(sid, review)
    elif review["status"] == "open":
        st.caption("Waiting for both answers; the risk level, flags, rubric and MI quality are settled here, not "
                   "by single overrides.")
    if review["sheets"]:
        table(pl.DataFrame([{"field": field, **{f"reviewer {s['slot']}": str(s["answers"].get(field))
                                                 for s in review["sheets"]},
                             "AI": str(review["fields"].get(field))} for field in review["fields"]]),
              "double-review")
        for d in review["disagreements"]:
            values = " vs ".join(str(v) for v in d["values"].values())
            settled = f" → settled at **{plain(d['adjudicated'])}**" if d["adjudicated"] is not None else ""
            st.warning(f"Disagreement on {plain(d['field'])}: {plain(values)}{settled}")
        _adjudication(sid, review)
    return str(review["status"])
