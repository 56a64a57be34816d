"""Concrete follow-ups for the supervisor and counselor: one per risk found, then the session's plans."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.analysis.text.counselor_moves import is_planning
from vigil.analysis.text.turns import SpeakerRole, Turn
from vigil.schemas.analysis import RiskFlag, RubricScore
from vigil.schemas.enums import RiskCategory, RiskLevel

_RISK_ACTIONS: dict[RiskCategory, str] = {
    RiskCategory.suicidal_ideation: "Complete a safety plan with the client (suicidal ideation flagged).",
    RiskCategory.self_harm: (
        "Assess self-harm: method, frequency, wound care and what helps; agree on alternatives to self-harm."
    ),
    RiskCategory.harm_to_others: (
        "Assess risk to others (who, intent, means) and check duty-to-warn obligations."
    ),
    RiskCategory.abuse_disclosure: (
        "Assess the client's current safety and mandatory-reporting duties; offer abuse and "
        "domestic-violence support."
    ),
    RiskCategory.substance_crisis: (
        "Review overdose risk: naloxone access, not using alone, and a treatment referral."
    ),
    RiskCategory.other: "Ask directly about suicidal thoughts (hopelessness or feeling a burden noted).",
}
_URGENT_SUICIDE_ACTION = (
    "Same-day risk assessment: ask about plan, means and timing; restrict access to means."
)
_LOW_FOLLOW_UP_ACTION = "Supervisor review: risk was disclosed with little safety follow-up in the session."
_MAX_PLANS = 2
_MAX_PLAN_CHARS = 200
_WEAK_SAFETY_SCORE = 2


def list_action_items(
    turns: Sequence[Turn], flags: Sequence[RiskFlag], rubric: Sequence[RubricScore]
) -> list[str]:
    items: list[str] = []
    categories = {flag.category for flag in flags}
    for flag in flags:
        if flag.category is RiskCategory.suicidal_ideation and flag.severity is RiskLevel.high:
            items.append(_URGENT_SUICIDE_ACTION)
        if flag.category is RiskCategory.other and RiskCategory.suicidal_ideation in categories:
            continue  # already asked for by the safety plan
        items.append(_RISK_ACTIONS[flag.category])
    if any(s.key == "safety_follow_up" and s.score <= _WEAK_SAFETY_SCORE for s in rubric):
        items.append(_LOW_FOLLOW_UP_ACTION)
    items.extend(f"Follow up on the plan: {plan}" for plan in _session_plans(turns, flags))
    return items


def _session_plans(turns: Sequence[Turn], flags: Sequence[RiskFlag]) -> list[str]:
    """The last distinct planning statements, the client's own first: plans are agreed near the end."""
    evidence = {e.quote for flag in flags for e in flag.evidence}
    plans = [
        (turn.role is SpeakerRole.client, index, sentence.text)
        for index, turn in enumerate(turns)
        for sentence in turn.sentences
        if is_planning(sentence)
        and not sentence.is_question
        and len(sentence.text) <= _MAX_PLAN_CHARS
        and not any(q in sentence.text or sentence.text in q for q in evidence)
    ]
    chosen: list[str] = []
    for _, _, text in sorted(plans, key=lambda p: (p[0], p[1]), reverse=True):
        if text not in chosen:
            chosen.append(text)
        if len(chosen) == _MAX_PLANS:
            break
    return chosen
