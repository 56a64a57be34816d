"""What of an analysis or a review the database may keep in the clear: only what queries need. Text (the summary,
action items, evidence quotes, rationales, a reviewer's reason, a text field's values) is sealed: an analysis's whole
result is in the object store (`analysis/v<n>.json`, sealed like transcripts), a review's text in its `sealed`
column. Kept free of the database and the services so the migration and the services share one definition."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

# Reviewable fields whose values are text (the others are levels, scores, decisions and speaker labels).
TEXT_REVIEW_FIELDS = frozenset({"summary", "action_items"})


def blank_text(result: dict[str, Any]) -> dict[str, Any]:
    """An analysis result (its JSON form) with every text emptied and everything else kept: risk level and status,
    flags' categories, severities, confidences and evidence places, rubric scores, turn codes, MITI counts,
    analytics, versions, cost, task outcomes and where the speakers' roles came from. It still validates as an
    AnalysisResult."""
    facts = copy.deepcopy(result)
    _blank(facts, "summary", "")
    _blank(facts, "action_items", [])
    for flag in facts.get("flags") or []:
        _blank(flag, "rationale", "")
        for evidence in flag.get("evidence") or []:
            _blank(evidence, "quote", "")
    for score in facts.get("rubric") or []:
        _blank(score, "rationale", "")
    if facts.get("roles"):  # speaker labels a supervisor typed may be names; the roles' source and basis stay
        _blank(facts["roles"], "by_speaker", {})
    return facts


def _blank(holder: dict[str, Any], key: str, empty: Any) -> None:
    if key in holder:
        holder[key] = empty


def has_text(result: dict[str, Any]) -> bool:
    return result != blank_text(result)


def digest(value: Any) -> dict[str, str]:
    """What the database keeps of a text value: enough to tell two values apart, nothing of the words."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return {"sha256": hashlib.sha256(canonical.encode()).hexdigest()}
