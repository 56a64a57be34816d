"""A pydantic model's JSON schema in the form OpenAI's structured outputs take with `strict: true`.

Strict mode wants every object closed (`additionalProperties: false`) with every property in `required`, a `$ref`
standing alone, and none of the validation keywords it does not support. Those keywords (lengths, bounds, defaults)
are dropped here because pydantic checks the answer against the full model afterwards; a keyword that changes the
shape of the data (`oneOf`, `prefixItems`, a free-form mapping, ...) cannot be dropped without changing what is
asked for, so it is refused instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Kept as they are (after their sub-schemas are made strict).
STRUCTURAL = frozenset({"type", "properties", "required", "additionalProperties", "items", "anyOf", "enum", "const",
                        "$ref", "$defs", "description"})
# Dropped: strict mode refuses (or ignores) them, and pydantic still enforces them on the answer.
VALIDATION_ONLY = frozenset({"title", "default", "examples", "minLength", "maxLength", "pattern", "format",
                             "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
                             "minItems", "maxItems", "uniqueItems"})
DEFS_PREFIX = "#/$defs/"


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema for a strict `json_schema` response format; `ValueError` if it cannot be one."""
    schema = model.model_json_schema()
    if schema.get("type") != "object":
        raise ValueError(f"{model.__name__}: a structured output must be an object at the top")
    return _strict(schema, schema.get("$defs", {}), model.__name__)


def _strict(node: dict[str, Any], defs: dict[str, Any], where: str) -> dict[str, Any]:
    node = _alone_ref(_single_all_of(node), defs, where)
    unknown = set(node) - STRUCTURAL - VALIDATION_ONLY
    if unknown:
        raise ValueError(f"{where}: strict mode cannot express {sorted(unknown)}")
    strict: dict[str, Any] = {}
    for key, value in node.items():
        if key in VALIDATION_ONLY:
            continue
        if key in ("properties", "$defs"):
            strict[key] = {name: _strict(sub, defs, f"{where}.{name}") for name, sub in value.items()}
        elif key == "items":
            strict[key] = _strict(value, defs, f"{where}[]")
        elif key == "anyOf":
            strict[key] = [_strict(option, defs, where) for option in value]
        else:
            strict[key] = value
    if strict.get("type") == "object":
        if isinstance(strict.get("additionalProperties"), dict):
            raise ValueError(f"{where}: strict mode cannot express a free-form mapping")
        strict["additionalProperties"] = False
        strict["properties"] = strict.get("properties", {})
        strict["required"] = list(strict["properties"])
    return strict


def _single_all_of(node: dict[str, Any]) -> dict[str, Any]:
    """`allOf: [X]` (how some pydantic versions attach a description to a `$ref`) is X with the siblings."""
    all_of = node.get("allOf")
    if not (isinstance(all_of, list) and len(all_of) == 1):
        return node
    return {**all_of[0], **{key: value for key, value in node.items() if key != "allOf"}}


def _alone_ref(node: dict[str, Any], defs: dict[str, Any], where: str) -> dict[str, Any]:
    """A `$ref` with siblings (a field's description, say) is inlined: strict mode takes a `$ref` only alone."""
    ref = node.get("$ref")
    if ref is None or len(node) == 1:
        return node
    name = ref.removeprefix(DEFS_PREFIX)
    if not ref.startswith(DEFS_PREFIX) or name not in defs:
        raise ValueError(f"{where}: cannot resolve {ref}")
    return {**defs[name], **{key: value for key, value in node.items() if key != "$ref"}}
