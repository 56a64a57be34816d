"""KPIs from per-session review facts, in polars: what needs action, how fast supervisors review, how often
they change the AI's answer. Pure functions of a frame, so they are tested without Streamlit."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import polars as pl

SCHEMA = {"id": pl.String, "created_at": pl.Datetime("us", "UTC"), "status": pl.String, "flagged": pl.Boolean,
          "ai_risk_level": pl.String, "risk_level": pl.String, "attention": pl.String,
          "analysis_ready_at": pl.Datetime("us", "UTC"), "reviewed_at": pl.Datetime("us", "UTC"),
          "reviewLatencyMinutes": pl.Float64, "reviewed_fields": pl.List(pl.String),
          "overridden_fields": pl.List(pl.String), "counselor": pl.String, "team": pl.String,
          "risk_categories": pl.List(pl.String), "time_to_ready_seconds": pl.Float64, "model": pl.String,
          "tokens": pl.Int64, "cost_usd": pl.Float64, "providers": pl.List(pl.String),
          "transcription_confidence": pl.Float64, "provider_agreement": pl.Float64}


def facts_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The API's review facts as a typed frame (timestamps parsed, empty input still has every column)."""
    return _typed(pl.DataFrame(rows, infer_schema_length=None)) if rows else pl.DataFrame(schema=SCHEMA)


def facts_frame_from_json(body: bytes) -> pl.DataFrame:
    """The same frame straight from the API's JSON body: polars parses and infers in Rust, about ten times faster
    than building it from Python dicts (10,000 sessions: tenths of a second saved on every page that uses it)."""
    if not body.strip().strip(b"[]").strip():
        return pl.DataFrame(schema=SCHEMA)
    return _typed(pl.read_json(io.BytesIO(body), infer_schema_length=None))


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    if "rubric" in frame.columns and frame["rubric"].dtype == pl.Struct([]):
        frame = frame.drop("rubric")  # no session has rubric scores: nothing to average
    timestamps = [pl.col(c).str.to_datetime(time_zone="UTC") for c in ("created_at", "analysis_ready_at",
                                                                         "reviewed_at") if frame[c].dtype == pl.String]
    frame = frame.with_columns(timestamps).cast({k: v for k, v in SCHEMA.items() if k in frame.columns})
    return frame.with_columns([pl.lit(None, dtype).alias(k) for k, dtype in SCHEMA.items() if k not in frame.columns])


def load_test_sessions(frame: pl.DataFrame) -> int:
    """Sessions transcribed by the load-test `standin` provider, whose words and analyses are not real."""
    return frame.filter(pl.col("providers").list.contains("standin")).height if frame.height else 0


def summary(frame: pl.DataFrame, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    awaiting = frame.filter(pl.col("flagged") & pl.col("reviewed_at").is_null())
    latency = frame["reviewLatencyMinutes"].drop_nulls()
    oldest = awaiting["analysis_ready_at"].drop_nulls().min()
    reviewed = frame.filter(pl.col("reviewed_at").is_not_null())
    return {
        "sessions": frame.height,
        "processed": frame.filter(pl.col("status") == "ready").height,
        "flagged": frame.filter(pl.col("flagged")).height,
        "awaiting_review": awaiting.height,
        "analysis_failed": frame.filter(pl.col("attention").is_not_null() | (pl.col("status") == "failed")).height,
        "review_latency_median": latency.median() if latency.len() else None,
        "review_latency_p90": latency.quantile(0.9, "linear") if latency.len() else None,
        "backlog_age_hours": round((now - oldest).total_seconds() / 3600, 1) if oldest is not None else None,
        "reviewed": reviewed.height,
        "sessions_with_override": reviewed.filter(pl.col("overridden_fields").list.len() > 0).height,
    }


def override_rates(frame: pl.DataFrame) -> pl.DataFrame:
    """Per field: how many reviewed sessions a supervisor reviewed it in, how often they changed the AI's value
    (override rate) and how often they kept it (agreement)."""
    reviewed = frame.select("id", pl.col("reviewed_fields").alias("field")).explode("field").drop_nulls("field")
    changed = frame.select("id", pl.col("overridden_fields").alias("field")).explode("field").drop_nulls("field") \
        .with_columns(pl.lit(True).alias("changed"))
    if reviewed.is_empty():
        return pl.DataFrame(schema={"field": pl.String, "reviewed": pl.UInt32, "overridden": pl.UInt32,
                                    "override_rate": pl.Float64, "agreement": pl.Float64})
    return (reviewed.join(changed, on=["id", "field"], how="left")
            .group_by("field")
            .agg(pl.len().alias("reviewed"),
                 pl.col("changed").fill_null(False).sum().cast(pl.UInt32).alias("overridden"))
            .with_columns((pl.col("overridden") / pl.col("reviewed")).round(3).alias("override_rate"))
            .with_columns((1 - pl.col("override_rate")).round(3).alias("agreement"))
            .sort(["reviewed", "field"], descending=[True, False]))
