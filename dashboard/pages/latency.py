"""Latency: how long pipeline stages, upload to analysis ready, API requests and supervisor reviews take, within
a time window. Each histogram marks its percentiles; the tables give them per stage and per route."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.analytics import (
    WINDOWS,
    bins,
    iso,
    marks,
    request_frame,
    route_percentiles,
    stage_frame,
    stage_percentiles,
    window_start,
    within,
)
from dashboard.tables import table

ALL_ROUTES = "All routes"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def histogram(values: pl.Series, unit: str, x_title: str, levels: tuple[float, ...] = (0.5, 0.9)) -> None:
    """Bars of `values` with each percentile in `levels` as a dashed, labelled line, and a caption saying n."""
    bars = bins(values)
    found = marks(values, levels)
    figure = go.Figure(go.Bar(x=((bars["start"] + bars["end"]) / 2).to_list(), y=bars["n"].to_list(),
                              width=(bars["end"] - bars["start"]).to_list(), name="count",
                              customdata=bars.select("start", "end").rows(),
                              hovertemplate="%{customdata[0]:.3g}–%{customdata[1]:.3g} " + unit + ": %{y}"))
    for (label, value), position in zip(found.items(), ("top left", "top right", "top"), strict=False):
        figure.add_vline(x=value, line_dash="dash", annotation_text=f"{label} {value:,.1f} {unit}",
                         annotation_position=position)
    figure.update_layout(xaxis_title=x_title, yaxis_title="count", height=300, margin={"t": 30, "b": 40},
                         bargap=0.05)
    st.plotly_chart(figure, width="stretch")
    st.caption(f"n = {values.drop_nulls().len():,} · " + " · ".join(f"{k} {v:,.1f} {unit}" for k, v in found.items()))


st.title("Latency")
window = st.radio("Time window", list(WINDOWS), index=1, horizontal=True, key="latency_window",
                  help="Stage and request timings by when they finished; sessions by when their analysis was ready "
                       "(upload → ready) or when they were first reviewed (review latency). UTC.")
start = window_start(window)
stages = stage_frame(api.load_or_stop(lambda: api.stage_timings(iso(start)), "stage timings"))
requests = request_frame(api.load_or_stop(lambda: api.request_timings(iso(start)), "request timings"))
facts = api.facts_or_stop()
to_ready = within(facts, "analysis_ready_at", start)["time_to_ready_seconds"].drop_nulls()
review_minutes = within(facts, "reviewed_at", start)["reviewLatencyMinutes"].drop_nulls()

ready_marks = marks(to_ready)
api_marks = marks(requests["duration_ms"], (0.95,))
cols = st.columns(4)
cols[0].metric("Upload → ready, p50", duration(ready_marks.get("p50")))
cols[1].metric("Upload → ready, p90", duration(ready_marks.get("p90")))
cols[2].metric("API latency, p95", f"{api_marks['p95']:,.0f} ms" if api_marks else "–")
cols[3].metric("Failed stage attempts", stages.filter(pl.col("event") == "failed").height)

st.subheader("Pipeline stages")
if stages.is_empty():
    st.caption("No pipeline stage timings yet in this window.")
else:
    st.caption("Seconds per attempt that finished ready; failed attempts are counted, not timed.")
    per_stage = stage_percentiles(stages)
    table(per_stage, "stage-percentiles")
    stage = st.selectbox("Stage", per_stage["stage"].to_list(), key="latency_stage")
    chosen = stages.filter((pl.col("stage") == stage) & (pl.col("event") == "ready"))["duration_seconds"]
    if chosen.is_empty():
        st.caption(f"No {stage} attempt finished ready in this window.")
    else:
        histogram(chosen, "s", f"{stage} duration (seconds)")

st.subheader("Upload → analysis ready")
if to_ready.is_empty():
    st.caption("No sessions ready yet in this window.")
else:
    histogram(to_ready, "s", "seconds from upload to analysis ready")

st.subheader("API requests")
if requests.is_empty():
    st.caption("No API requests recorded yet in this window.")
else:
    st.caption("Milliseconds per request by route template; error rate is the share of responses with status ≥ 500.")
    routes = route_percentiles(requests)
    table(routes, "route-percentiles")
    endpoint = st.selectbox("Route", [ALL_ROUTES, *(routes["method"] + " " + routes["route"]).to_list()],
                            key="latency_route")
    chosen = requests if endpoint == ALL_ROUTES else requests.filter(pl.col("endpoint") == endpoint)
    histogram(chosen["duration_ms"], "ms", f"{endpoint} latency (ms)", (0.5, 0.9, 0.99))

st.subheader("reviewLatencyMinutes")
if review_minutes.is_empty():
    st.caption("No reviewed sessions yet in this window.")
else:
    histogram(review_minutes, "min", "minutes from analysis ready to first review")
