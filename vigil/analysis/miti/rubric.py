"""Rubrics are data: the default follows MITI 4.2.1, and any other `RubricDefinition` is scored the same way.

A rubric item names an offline measure (`vigil.analysis.miti.measures`) and the thresholds that turn it
into the item's scale; an item with no measure is for a model analyzer, which reads its description.

The default leaves complex reflections to model analyzers on purpose: the shipped reflection-subtype
model's per-session % complex reflections agrees with AnnoMI's experts no better than saying the
expert average every time (cross-validated figures in `models/miti-reflection.json.gz`). The measure
`percent_complex_reflections` is there for a rubric that wants it anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from vigil.errors import ValidationFailure
from vigil.schemas.analysis import RubricDefinition

RUBRICS_DIR = Path(__file__).parent / "rubrics"
DEFAULT_RUBRIC_FILE = RUBRICS_DIR / "miti-4.2.1.json"


def load_default_rubric() -> RubricDefinition:
    """The MITI 4.2.1 rubric shipped with Vigil (a fresh copy: callers may change theirs)."""
    return load_rubric(DEFAULT_RUBRIC_FILE)


def load_rubric(path: Path) -> RubricDefinition:
    try:
        definition = RubricDefinition.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise ValidationFailure(f"{path}: not a rubric definition: {exc}") from exc
    check_rubric(definition)
    return definition


def check_rubric(definition: RubricDefinition) -> None:
    """What the schema cannot say alone: unique keys, a real scale, ascending thresholds."""
    keys = [item.key for item in definition.items]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValidationFailure(f"rubric {definition.name!r}: duplicate item keys {duplicates}")
    for item in definition.items:
        if item.scale_max <= item.scale_min:
            raise ValidationFailure(f"rubric item {item.key!r}: scale_max must exceed scale_min")
        if item.thresholds is not None and list(item.thresholds) != sorted(item.thresholds):
            raise ValidationFailure(f"rubric item {item.key!r}: thresholds must be ascending")
