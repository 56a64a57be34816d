"""Calibration (leads and admins): mark reviewed sessions as gold, send them to chosen reviewers, and see each
reviewer's answers scored against gold, per reviewer and per field."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain
from dashboard.tables import table

st.title("Calibration")
st.caption("Gold is the answer the team agreed on for a reviewed session. A round sends each chosen reviewer a copy "
           "of each gold session, which shows no review; their answers are scored against gold and never change it.")

golds = api.load_or_stop(api.gold, "gold sessions")
reviewed = api.load_or_stop(lambda: api.queue(limit=200, order="newest", reviewed=True), "reviewed sessions")
gold_ids = {g["session_id"] for g in golds}

st.subheader("Mark gold")
candidates = {s["id"]: f"{s['title'] or s['id'][:8]} · {s['risk_level']}" for s in reviewed
              if s["id"] not in gold_ids and s.get("purpose", "production") == "production"}
if candidates:
    with st.form("gold", clear_on_submit=True):
        chosen = st.selectbox("Reviewed session", list(candidates), format_func=candidates.get, key="gold_session")
        note = st.text_area("Why this is the answer (kept sealed)", key="gold_note")
        if st.form_submit_button("Mark as gold", type="primary"):
            try:
                api.mark_gold(chosen, note.strip() or None)
            except api.ApiError as exc:
                st.error(f"Not marked: {plain(exc.detail)}")
            else:
                st.rerun()
else:
    st.caption("No reviewed session left to mark.")

if golds:
    st.subheader("Send a round")
    with st.form("round", clear_on_submit=True):
        name = st.text_input("Round name", key="round_name")
        sessions = st.multiselect("Gold sessions", [g["session_id"] for g in golds], key="round_sessions",
                                  format_func=lambda sid: candidates.get(sid, sid[:8]))
        emails = st.text_area("Reviewers' emails, one per line", key="round_reviewers")
        if st.form_submit_button("Send", type="primary"):
            reviewers = [line.strip() for line in emails.splitlines() if line.strip()]
            try:
                api.create_calibration_round(name.strip(), sessions, reviewers)
            except api.ApiError as exc:
                st.error(f"Not sent: {plain(exc.detail)}")
            else:
                st.rerun()

rounds = api.load_or_stop(api.calibration_rounds, "calibration rounds")
st.subheader("Rounds")
if not rounds:
    st.caption("No rounds yet.")
for round_ in rounds:
    with st.expander(f"{round_['name']} · {round_['created_at'][:10]}", expanded=round_ is rounds[0]):
        table(pl.DataFrame([{"reviewer": r["reviewer_email"], "submitted": f"{r['submitted']}/{r['sheets']}",
                             "fields scored": r["fields"],
                             "agreement with gold": "–" if r["accuracy"] is None else f"{r['accuracy']:.0%}"}
                            for r in round_["reviewers"]]), f"round-{round_['id'][:8]}-reviewers")
        if round_["fields"]:
            table(pl.DataFrame([{"field": f["field"], "answers": f["answers"],
                                 "agreement with gold": f"{f['accuracy']:.0%}",
                                 "mean steps from gold": "–" if f["mean_distance"] is None
                                 else f"{f['mean_distance']:.2f}"} for f in round_["fields"]]),
                  f"round-{round_['id'][:8]}-fields")
