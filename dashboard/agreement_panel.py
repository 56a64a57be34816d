"""The KPI page's reviewer agreement: how far two supervisors agree on the sessions both judged (double review),
per field with its interval and against the AI, a reviewer-by-reviewer matrix and the trend by week."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import api_client as api
from dashboard.formatting import plain
from dashboard.tables import table

STATISTIC = {"cohen_kappa": "Cohen's κ", "krippendorff_alpha": "Krippendorff's α (ordinal)"}


def _number(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:.2f} – {high:.2f}"


def fields_frame(stats: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([{
        "field": f["field"], "sessions": f["sessions"],
        "agreement": _number(f["percent_agreement"] * 100 if f["percent_agreement"] is not None else None, 0) + " %",
        "statistic": STATISTIC[f["statistic"]], "value": _number(f["value"]),
        "95 % interval": _interval(f["ci_low"], f["ci_high"]),
        "reviewers vs AI": _number(f["ai_value"]), "vs AI agreement": _number(
            f["ai_percent_agreement"] * 100 if f["ai_percent_agreement"] is not None else None, 0) + " %",
    } for f in stats["fields"]])


def reviewer_agreement_section() -> None:
    st.subheader("Reviewer agreement (double review)")
    try:
        stats = api.agreement()
    except api.ApiError as exc:
        st.caption(f"Not available: {plain(exc.detail)}")
        return
    if not stats["sessions"]:
        st.caption("No double reviews with both answers in yet. An admin sets the share of sessions two "
                   "supervisors judge (Governance, or PUT /api/v1/tenants/{id}/double-review).")
        return
    st.caption(f"{stats['sessions']} sessions judged by two supervisors, blind to each other. κ and α: 1 is "
               "perfect agreement, 0 what chance alone would give; intervals are 95 % bootstrap intervals.")
    table(fields_frame(stats), "reviewer-agreement")
    names = [f["field"] for f in stats["fields"]]
    field = st.selectbox("Field", names, key="agreement_field")
    focus = stats if field == stats["matrix"]["field"] else api.agreement(field)
    matrix = focus["matrix"]
    left, right = st.columns(2)
    heat = go.Figure(go.Heatmap(z=[[None if v is None else v * 100 for v in row] for row in matrix["percent"]],
                                x=matrix["reviewers"], y=matrix["reviewers"], zmin=0, zmax=100,
                                colorscale="Blues", colorbar={"title": "% agree"},
                                text=[[str(n) if n else "" for n in row] for row in matrix["sessions"]],
                                texttemplate="%{text}"))
    heat.update_layout(title=f"{field}: reviewer by reviewer (cells: shared sessions)", height=360,
                       margin={"t": 40, "b": 40})
    left.plotly_chart(heat, width="stretch")
    weeks = focus["trend"]
    trend = go.Figure(go.Scatter(x=[w["week"] for w in weeks], y=[w["value"] for w in weeks], mode="lines+markers",
                                 text=[f"{w['sessions']} sessions" for w in weeks]))
    trend.update_layout(title=f"{field}: {STATISTIC[weeks[0]['statistic']] if weeks else ''} by week", height=360,
                        yaxis={"range": [-0.2, 1.0]}, margin={"t": 40, "b": 40})
    right.plotly_chart(trend, width="stretch")
