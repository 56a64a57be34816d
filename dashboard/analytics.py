"""Latency and quality-trend figures from the API's rows, in polars: stage and request percentiles, the marks a
histogram carries, and per-week quality trends. Pure functions of frames, so they are tested without Streamlit.
Percentiles interpolate linearly between observations, as numpy's default does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

NONE_LABEL = "(none)"
WINDOWS: dict[str, timedelta | None] = {"Last 24 h": timedelta(hours=24), "Last 7 days": timedelta(days=7),
                                        "Last 30 days": timedelta(days=30), "All": None}
STAGE_SCHEMA = {"stage": pl.String, "event": pl.String, "attempt": pl.Int64, "duration_seconds": pl.Float64,
                "created_at": pl.Datetime("us", "UTC"), "session_id": pl.String}
REQUEST_SCHEMA = {"method": pl.String, "route": pl.String, "status_code": pl.Int64, "duration_ms": pl.Float64,
                  "created_at": pl.Datetime("us", "UTC")}
GROUPINGS: dict[str, str | None] = {"All sessions": None, "Counselor": "counselor", "Team": "team"}


def window_start(window: str, now: datetime | None = None) -> datetime | None:
    """Where a time window begins, to the minute (so the API calls it feeds stay cached across reruns)."""
    span = WINDOWS[window]
    if span is None:
        return None
    return (now or datetime.now(UTC)).replace(second=0, microsecond=0) - span


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _typed(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame(schema=schema)
    # Read with the schema given (inference over 100,000 rows costs more than the rest), timestamps as ISO text.
    frame = pl.DataFrame(rows, schema={**schema, "created_at": pl.String})
    return frame.with_columns(pl.col("created_at").str.to_datetime(time_zone="UTC"))


def stage_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Stage timings as a typed frame; only finished attempts (a deferral is a wait, not an attempt)."""
    return _typed(rows, STAGE_SCHEMA).filter(pl.col("event").is_in(["ready", "failed"]))


def request_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Request timings as a typed frame, with `endpoint` = method and route template (GET and POST on one route
    are different work)."""
    return _typed(rows, REQUEST_SCHEMA).with_columns(
        pl.concat_str(pl.col("method"), pl.lit(" "), pl.col("route")).alias("endpoint"))


def within(frame: pl.DataFrame, column: str, start: datetime | None) -> pl.DataFrame:
    """Rows whose `column` is at or after `start` (all rows when there is no start; none where it is null)."""
    if start is None:
        return frame.filter(pl.col(column).is_not_null())
    return frame.filter(pl.col(column) >= start)


def marks(values: pl.Series, levels: tuple[float, ...] = (0.5, 0.9)) -> dict[str, float]:
    """The percentiles a histogram marks, {"p50": …, "p90": …}, of the non-null values; {} when there are none."""
    present = values.drop_nulls()
    if present.is_empty():
        return {}
    return {f"p{round(level * 100)}": float(present.quantile(level, "linear")) for level in levels}  # type: ignore[arg-type]


def bins(values: pl.Series, count: int = 40) -> pl.DataFrame:
    """Histogram bars of the non-null values: `count` equal-width bins from the minimum to the maximum (the last
    one closed), each with its `start`, `end` and `n`; empty bins are left out. Binned here rather than in the
    browser so 100,000 request timings become 40 bars, not 100,000 points."""
    present = values.drop_nulls().cast(pl.Float64)
    if present.is_empty():
        return pl.DataFrame(schema={"start": pl.Float64, "end": pl.Float64, "n": pl.UInt32})
    low, high = float(present.min()), float(present.max())  # type: ignore[arg-type]
    width = (high - low) / count if high > low else 1.0
    if high == low:
        low -= width / 2  # one bar centred on the only value
    index = ((present - low) / width).floor().clip(0, count - 1).cast(pl.Int64)
    return (index.value_counts(name="n").sort(index.name)
            .select((low + pl.col(index.name) * width).alias("start"),
                    (low + (pl.col(index.name) + 1) * width).alias("end"), pl.col("n").cast(pl.UInt32)))


def _q(column: str, level: float) -> pl.Expr:
    return pl.col(column).quantile(level, "linear").round(3).alias(f"p{round(level * 100)}")


def stage_percentiles(stages: pl.DataFrame) -> pl.DataFrame:
    """Per stage: attempts that finished ready (n) and their duration percentiles and maximum in seconds, and
    how many attempts failed. Ordered as the pipeline runs where the stage is known."""
    ready = pl.col("event") == "ready"
    seconds = pl.col("duration_seconds").filter(ready)
    order = {"extract": 0, "transcribe": 1, "analyze": 2}
    return (stages.group_by("stage")
            .agg(ready.sum().cast(pl.UInt32).alias("n"),
                 *[seconds.quantile(level, "linear").round(3).alias(f"p{round(level * 100)}")
                   for level in (0.5, 0.9, 0.95, 0.99)],
                 seconds.max().round(3).alias("max"),
                 (pl.col("event") == "failed").sum().cast(pl.UInt32).alias("failed_attempts"))
            .sort(pl.col("stage").replace_strict(order, default=len(order), return_dtype=pl.Int64), "stage"))


def route_percentiles(requests: pl.DataFrame) -> pl.DataFrame:
    """Per method and route template: requests, latency percentiles in ms, and the error rate (share of
    responses with status 500 or above). Busiest first."""
    return (requests.group_by("method", "route")
            .agg(pl.len().cast(pl.UInt32).alias("n"), *[_q("duration_ms", level) for level in (0.5, 0.95, 0.99)],
                 (pl.col("status_code") >= 500).mean().round(4).alias("error_rate"))
            .sort(["n", "route", "method"], descending=[True, False, False]))


def rubric_items(facts: pl.DataFrame) -> list[str]:
    """The rubric item keys any session has AI scores for (none when facts_frame dropped the column)."""
    rubric = facts.schema.get("rubric")
    return [field.name for field in rubric.fields] if isinstance(rubric, pl.Struct) else []


def _quality(facts: pl.DataFrame) -> list[pl.Expr]:
    reviewed = pl.col("reviewed_at").is_not_null()
    overridden = reviewed & (pl.col("overridden_fields").list.len() > 0)
    return [
        pl.len().cast(pl.UInt32).alias("sessions"),
        pl.col("flagged").fill_null(False).mean().round(3).alias("risk_rate"),
        reviewed.sum().cast(pl.UInt32).alias("reviewed"),
        pl.when(reviewed.sum() > 0).then((overridden.sum() / reviewed.sum()).round(3)).alias("override_rate"),
        *[pl.col("rubric").struct.field(key).cast(pl.Float64).mean().round(3).alias(f"rubric.{key}")
          for key in rubric_items(facts)],
        pl.col("transcription_confidence").mean().round(3).alias("transcription_confidence"),
        pl.col("provider_agreement").mean().round(3).alias("provider_agreement"),
        pl.col("cost_usd").sum().round(6).alias("cost_usd"),
        pl.col("tokens").sum().alias("tokens"),
    ]


def overall_quality(facts: pl.DataFrame) -> dict[str, Any]:
    """The trend measures over every session in `facts`, as one row."""
    return facts.select(_quality(facts)).row(0, named=True)


def weekly_trends(facts: pl.DataFrame, by: str | None = None) -> pl.DataFrame:
    """Per week (Monday, UTC) of `created_at`, and per `by` ("counselor" or "team", missing as "(none)") when
    given: sessions, risk rate (flagged share), reviewed sessions, override rate (reviewed sessions with at least
    one overridden field ÷ reviewed; null when none was reviewed), the mean AI score of each rubric item
    (`rubric.<key>`), mean transcription confidence, mean provider agreement (null without multi-provider
    sessions), cost and tokens."""
    keys = ["week"] if by is None else ["week", by]
    frame = facts.with_columns(pl.col("created_at").dt.truncate("1w").dt.date().alias("week"))
    if by is not None:
        frame = frame.with_columns(pl.col(by).fill_null(NONE_LABEL))
    return frame.group_by(keys).agg(_quality(facts)).sort(keys)
