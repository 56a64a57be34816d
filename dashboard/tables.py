"""Every table on the dashboard is shown the same way: the frame, then CSV and Parquet downloads of exactly it."""

from __future__ import annotations

import io
from functools import partial
from typing import Any

import polars as pl
import streamlit as st

from dashboard.api_client import record_export


def export(frame: pl.DataFrame, kind: str) -> bytes:
    """CSV or Parquet bytes of a table (list and struct columns flattened for CSV, which has neither)."""
    if kind == "parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()
    flat = frame.with_columns(
        [pl.col(c).cast(pl.List(pl.String)).list.join(";") for c, t in frame.schema.items() if isinstance(t, pl.List)]
        + [pl.col(c).struct.json_encode() for c, t in frame.schema.items() if isinstance(t, pl.Struct)])
    return flat.write_csv().encode()


def table(frame: pl.DataFrame, name: str, **options: Any) -> Any:
    """Show `frame` with download buttons named after `name` (also the widget keys, so names must be unique on
    a page). Extra options go to `st.dataframe` (e.g. `on_select`, `column_config`); its return value is given back."""
    shown = st.dataframe(frame, hide_index=True, width="stretch", key=options.pop("key", f"table-{name}"), **options)
    left, right, _ = st.columns([1, 1, 6])
    # The files are made only when a button is clicked (not on every rerun), and every download is audited.
    left.download_button("⬇ CSV", partial(export, frame, "csv"), f"{name}.csv", "text/csv", key=f"{name}-csv",
                         help=f"{frame.height} rows as CSV", on_click=record_export,
                         args=(name, frame.height, "csv"))
    right.download_button("⬇ Parquet", partial(export, frame, "parquet"), f"{name}.parquet", "application/octet-stream",
                          key=f"{name}-parquet", help=f"{frame.height} rows as Parquet", on_click=record_export,
                          args=(name, frame.height, "parquet"))
    return shown
