"""A pydantic model's schema made fit for OpenAI's strict structured outputs
(vigil/analysis/analyzers/strict_schema.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # a test dependency through schemathesis
import pytest
from pydantic import BaseModel, Field

from vigil.analysis.analyzers.openai_analyzer import AssessOutput, SummaryOutput
from vigil.analysis.analyzers.strict_schema import VALIDATION_ONLY, strict_json_schema
from vigil.schemas.enums import RiskLevel

ASSESS_ANSWER: dict[str, Any] = {
    "risk_level": "high",
    "flags": [{"category": "suicidal_ideation", "severity": "high", "confidence": 0.9,
               "evidence": [{"quote": "thinking about killing myself", "segment_index": 1}], "rationale": "Said so."}],
    "rubric": [{"key": "empathy", "label": "Empathy", "score": 4, "rationale": "Warm.", "scale_max": 5}],
}


def nodes(schema: Any) -> Iterator[dict[str, Any]]:
    """Every sub-schema, `$defs` included."""
    if isinstance(schema, list):
        for item in schema:
            yield from nodes(item)
    elif isinstance(schema, dict):
        yield schema
        for key in ("properties", "$defs"):
            for sub in schema.get(key, {}).values():
                yield from nodes(sub)
        for key in ("items", "anyOf"):
            if key in schema:
                yield from nodes(schema[key])


@pytest.mark.parametrize("model", [AssessOutput, SummaryOutput])
def test_every_object_is_closed_and_requires_all_its_properties(model: type[BaseModel]) -> None:
    objects = [node for node in nodes(strict_json_schema(model)) if node.get("type") == "object"]
    assert objects, "the walk found the objects"
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])


@pytest.mark.parametrize("model", [AssessOutput, SummaryOutput])
def test_no_keyword_strict_mode_refuses_is_left(model: type[BaseModel]) -> None:
    left = {key for node in nodes(strict_json_schema(model)) for key in node} & VALIDATION_ONLY
    assert left == set()


def test_assess_schema_keeps_its_defs_enums_and_descriptions() -> None:
    schema = strict_json_schema(AssessOutput)
    assert schema["properties"]["risk_level"] == {"$ref": "#/$defs/RiskLevel"}
    assert schema["$defs"]["RiskLevel"]["enum"] == ["none", "low", "medium", "high"]
    quote = schema["$defs"]["ModelEvidence"]["properties"]["quote"]
    assert quote == {"description": "Verbatim words from the cited segment.", "type": "string"}
    assert "rationale" in schema["$defs"]["ModelFlag"]["required"]  # had a default: strict mode requires it anyway


def test_the_strict_schema_accepts_a_full_answer_and_refuses_an_extra_or_missing_key() -> None:
    schema = strict_json_schema(AssessOutput)
    jsonschema.validate(ASSESS_ANSWER, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ASSESS_ANSWER, "summary": "not asked for"}, schema)
    without_rubric = {key: value for key, value in ASSESS_ANSWER.items() if key != "rubric"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(without_rubric, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ASSESS_ANSWER, "risk_level": "catastrophic"}, schema)


class Described(BaseModel):
    level: RiskLevel = Field(description="The level, from the transcript.")
    note: str | None = None


def test_a_ref_with_a_description_is_inlined_and_an_optional_field_is_required_but_nullable() -> None:
    schema = strict_json_schema(Described)
    level = schema["properties"]["level"]
    assert "$ref" not in level
    assert level["enum"] == ["none", "low", "medium", "high"]
    assert level["description"] == "The level, from the transcript."
    assert schema["required"] == ["level", "note"]
    assert schema["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}


class Mapping(BaseModel):
    counts: dict[str, int]


class Tupled(BaseModel):
    pair: tuple[int, str]


@pytest.mark.parametrize("model", [Mapping, Tupled])
def test_a_shape_strict_mode_cannot_express_is_refused_not_dropped(model: type[BaseModel]) -> None:
    with pytest.raises(ValueError, match="strict mode cannot express"):
        strict_json_schema(model)
