"""KPIs: what needs action, how fast supervisors review (`reviewLatencyMinutes`), how often they change the AI."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard import api_client as api
from dashboard.agreement_panel import reviewer_agreement_section
from dashboard.kpis import override_rates, summary
from dashboard.tables import table

st.title("KPIs")
frame = api.facts_or_stop()

kpi = summary(frame)


def _minutes(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} min"


cols = st.columns(4)
cols[0].metric("Sessions processed", kpi["processed"], help=f"of {kpi['sessions']} uploaded")
cols[1].metric("Flagged", kpi["flagged"])
cols[2].metric("Awaiting review", kpi["awaiting_review"],
               help="flagged and not yet reviewed; includes sessions whose risk analysis failed")
cols[3].metric("Oldest in backlog", "–" if kpi["backlog_age_hours"] is None else f"{kpi['backlog_age_hours']} h")
cols = st.columns(4)
cols[0].metric("Review latency, median", _minutes(kpi["review_latency_median"]))
cols[1].metric("Review latency, p90", _minutes(kpi["review_latency_p90"]))
cols[2].metric("Reviewed", kpi["reviewed"])
cols[3].metric("Reviews that changed the AI", kpi["sessions_with_override"])

latency = frame["reviewLatencyMinutes"].drop_nulls()
st.subheader("reviewLatencyMinutes")
if latency.len():
    figure = go.Figure(go.Histogram(x=latency.to_list(), nbinsx=30, name="sessions"))
    for label, value, side in (("median", kpi["review_latency_median"], "top left"),
                               ("p90", kpi["review_latency_p90"], "top right")):
        figure.add_vline(x=value, line_dash="dash", annotation_text=f"{label} {value:.1f}", annotation_position=side)
    figure.update_layout(xaxis_title="minutes from analysis ready to first review", yaxis_title="sessions",
                         height=320, margin={"t": 30, "b": 40})
    st.plotly_chart(figure, width="stretch")
else:
    st.caption("No reviewed sessions yet.")

st.subheader("AI–supervisor agreement per field")
rates = override_rates(frame)
if rates.is_empty():
    st.caption("No reviews yet.")
else:
    table(rates, "agreement")

reviewer_agreement_section()

if api.can("calibrate"):
    st.subheader("Every human score and comment")
    st.caption("Reviews, adjudications, double-review and calibration sheets, disputes and gold, with reviewer ids. "
               "Comments are in the clear, so loading them is audited, and so is each download.")
    if st.toggle("Load human scores", key="load_human_scores"):
        scores = api.human_scores()
        if scores.is_empty():
            st.caption("No human scores yet.")
        else:
            table(scores, "human-scores")

st.subheader("Sessions")
table(frame.select("id", "created_at", "counselor", "team", "status", "flagged", "ai_risk_level", "risk_level",
                   "reviewLatencyMinutes", "reviewed_fields", "overridden_fields"), "review-facts")
