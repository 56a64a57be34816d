"""Replay runs side by side: each run's metrics flattened to one value per measure, one column per run."""

from __future__ import annotations

from typing import Any

import polars as pl

RISK_FIELDS = (("precision", "P"), ("recall", "R"), ("f1", "F1"))
AGREEMENT = {"mi_quality": ("accuracy", "kappa"), "turns": ("accuracy", "kappa", "macro_f1")}


def measures(side: dict[str, Any]) -> dict[str, float | None]:
    """One side of a run (candidate or baseline) as {measure: value}, e.g. "risk any R" → 0.88."""
    flat: dict[str, float | None] = {}
    for category, scores in side.get("risk", {}).items():
        for key, short in RISK_FIELDS:
            flat[f"risk {category} {short}"] = scores.get(key)
    for part, fields in AGREEMENT.items():
        for name in fields:
            if part in side:
                flat[f"{part} {name}"] = side[part].get(name)
    for item, scores in side.get("rubric", {}).items():
        for name in ("accuracy", "kappa"):
            flat[f"rubric {item} {name}"] = scores.get(name)
    return flat


def side_by_side(runs: list[dict[str, Any]], names: list[str]) -> pl.DataFrame:
    """Rows are measures; a column per run's candidate (named by `names`), then the first run's baseline, so
    several candidates can be read against one reference."""
    columns: dict[str, dict[str, float | None]] = {
        name: measures(run["metrics"].get("candidate", {})) for name, run in zip(names, runs, strict=True)}
    if runs:
        columns[f"baseline ({runs[0]['baseline']})"] = measures(runs[0]["metrics"].get("baseline", {}))
    order: list[str] = []
    for values in columns.values():
        order.extend(m for m in values if m not in order)
    return pl.DataFrame({"measure": order, **{name: [values.get(m) for m in order]
                                              for name, values in columns.items()}},
                        schema={"measure": pl.String, **{name: pl.Float64 for name in columns}})
