"""Quality trends: per week, for all sessions or per counselor or team, how often sessions are flagged, how
often supervisors change the AI's answer, the AI's rubric scores, transcription quality and model cost."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.analytics import GROUPINGS, overall_quality, rubric_items, weekly_trends
from dashboard.tables import table


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def line(frame: pl.DataFrame, y: str, title: str, *, color: str | None = None, dash: str | None = None,
         rate: bool = False, hover: list[str] | None = None) -> None:
    # Weeks as labels: plotly zooms a lone date to microseconds, and a week is a category here anyway.
    frame = frame.sort("week").with_columns(pl.col("week").dt.strftime("%Y-%m-%d"))
    figure = px.line(frame, x="week", y=y, color=color, line_dash=dash, markers=True, title=title,
                     hover_data=hover)
    figure.update_layout(height=320, margin={"t": 50, "b": 40}, xaxis_title="week (from Monday, UTC)",
                         yaxis_title=None, legend_title_text="")
    figure.update_xaxes(type="category")
    if rate:
        figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    st.plotly_chart(figure, width="stretch")


st.title("Quality trends")
grouping = st.radio("Group by", list(GROUPINGS), horizontal=True, key="trends_group")
by = GROUPINGS[grouping]
facts = api.facts_or_stop()
if facts.is_empty():
    st.caption("No sessions yet: trends appear once sessions are uploaded.")
    st.stop()

overall = overall_quality(facts)
cols = st.columns(4)
cols[0].metric("Sessions", overall["sessions"])
cols[1].metric("Risk rate", percent(overall["risk_rate"]), help="share of sessions flagged")
cols[2].metric("Override rate", percent(overall["override_rate"]),
               help="reviewed sessions where a supervisor changed at least one AI answer ÷ reviewed sessions")
cols[3].metric("Model cost", f"${overall['cost_usd']:,.2f}", help=f"{overall['tokens']:,} tokens")

trends = weekly_trends(facts, by)
left, right = st.columns(2)
with left:
    line(trends, "risk_rate", "Risk rate (flagged share)", color=by, rate=True, hover=["sessions"])
with right:
    line(trends, "override_rate", "Override rate (of reviewed sessions)", color=by, rate=True, hover=["reviewed"])

items = rubric_items(facts)
if not items:
    st.caption("No rubric scores yet.")
elif by is None:
    scores = trends.unpivot([f"rubric.{key}" for key in items], index="week", variable_name="item",
                            value_name="mean score").with_columns(pl.col("item").str.strip_prefix("rubric."))
    line(scores, "mean score", "Rubric: mean AI score per item", color="item")
else:
    item = st.selectbox("Rubric item", items, key="trends_rubric_item")
    line(trends, f"rubric.{item}", f"Rubric: mean AI score for {item}", color=by)

speech = (trends.unpivot(["transcription_confidence", "provider_agreement"], index=["week", *([by] if by else [])],
                         variable_name="measure", value_name="mean")
          .with_columns(pl.col("measure").str.replace("_", " ")))
if speech["mean"].is_null().all():
    st.caption("No transcription confidence or provider agreement yet.")
else:
    line(speech, "mean", "Transcription confidence and provider agreement", color=by or "measure",
         dash="measure" if by else None, rate=True)
    if trends["provider_agreement"].is_null().all():
        st.caption("Provider agreement needs sessions transcribed by several providers; none are yet.")

line(trends, "cost_usd", "Model cost (USD)", color=by, hover=["tokens", "sessions"])

st.subheader("Per week")
table(trends, "quality-trends")
