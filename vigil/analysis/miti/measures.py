"""The offline measures a rubric item can name, and scoring a rubric definition with them.

A measure reads the session (turns, MITI turn codes, risk flags) and returns its value with a short
citation of what it counted, or None when the session gives it nothing to measure. `score_rubric`
turns each item's measured value into the item's scale by the item's thresholds; items whose
measure is unknown here or not measurable in this session are left out (a model analyzer scores
those from their description).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vigil.analysis.miti.miti import miti_counts
from vigil.analysis.miti.rubric import check_rubric
from vigil.analysis.text.counselor_moves import is_collaboration, is_safety_inquiry
from vigil.analysis.text.turns import SpeakerRole, Turn
from vigil.schemas.analysis import RiskFlag, RubricDefinition, RubricItem, RubricScore, TurnCode


@dataclass(frozen=True)
class SessionEvidence:
    turns: Sequence[Turn]
    codes: Sequence[TurnCode]
    flags: Sequence[RiskFlag]


@dataclass(frozen=True)
class Measurement:
    value: float
    detail: str  # what was counted, for the rationale: "6 of 9 counselor questions were open (67%)."


@dataclass(frozen=True)
class Measure:
    name: str
    description: str
    measure: Callable[[SessionEvidence], Measurement | None]


def _percent_open_questions(session: SessionEvidence) -> Measurement | None:
    miti = miti_counts(session.codes)
    if miti.percent_open_questions is None:
        return None
    return Measurement(miti.percent_open_questions, f"{miti.open_questions} of {miti.questions} counselor questions "
                                                    f"were open ({miti.percent_open_questions:.0f}%).")


def _reflection_to_question(session: SessionEvidence) -> Measurement | None:
    miti = miti_counts(session.codes)
    if miti.reflections == 0 and miti.questions == 0:
        return None
    # Reflections without a single question is as reflective as listening gets.
    value = miti.reflection_to_question if miti.reflection_to_question is not None else math.inf
    ratio = f" (reflection:question {value:.1f}:1)" if miti.questions else ""
    return Measurement(value, f"{miti.reflections} reflections to {miti.questions} questions{ratio}.")


def _percent_complex_reflections(session: SessionEvidence) -> Measurement | None:
    miti = miti_counts(session.codes)
    if miti.percent_complex_reflections is None:
        return None
    return Measurement(miti.percent_complex_reflections,
                       f"{miti.complex_reflections} of {miti.reflections} reflections were complex "
                       f"({miti.percent_complex_reflections:.0f}%).")


def _telling_share(session: SessionEvidence) -> Measurement | None:
    if not session.codes:
        return None
    telling = sum(1 for code in session.codes if code.behaviour == "therapist_input")
    share = telling / len(session.codes)
    return Measurement(share, f"{telling} of {len(session.codes)} counselor turns gave information, advice or "
                              f"warnings ({share:.0%}).")


def _client_talk_share(session: SessionEvidence) -> Measurement | None:
    counselor = sum(t.word_count for t in session.turns if t.role is SpeakerRole.counselor)
    client = sum(t.word_count for t in session.turns if t.role is SpeakerRole.client)
    if counselor == 0 or counselor + client == 0:
        return None
    return Measurement(client / (counselor + client),
                       f"Counselor spoke {counselor} of {counselor + client} words "
                       f"({counselor / (counselor + client):.0%}).")


def _collaboration(session: SessionEvidence) -> Measurement | None:
    counselor = [t for t in session.turns if t.role is SpeakerRole.counselor]
    if not counselor:
        return None
    moves = sum(1 for t in counselor for s in t.sentences if is_collaboration(s))
    return Measurement(moves / len(counselor), f"{moves} collaborative moves (asking permission, eliciting ideas, "
                                               f"stressing choice) over {len(counselor)} counselor turns.")


def _safety_follow_up(session: SessionEvidence) -> Measurement | None:
    if not session.flags:
        return None  # nothing to follow up; a filler score would skew trends
    first = min(e.segment_index for flag in session.flags for e in flag.evidence)
    inquiries = sum(1 for t in session.turns if t.role is SpeakerRole.counselor and t.segment.index >= first
                    for s in t.sentences if is_safety_inquiry(s))
    return Measurement(float(inquiries), f"{inquiries} counselor sentence{'s' if inquiries != 1 else ''} about "
                                         f"safety after the first risk disclosure (segment {first}).")


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("percent_open_questions", "Open questions as a percentage of counselor questions (0..100).",
            _percent_open_questions),
    Measure("reflection_to_question", "Reflections per question (MITI 4.2.1: fair 1, good 2).",
            _reflection_to_question),
    Measure("percent_complex_reflections", "Complex reflections as a percentage of reflections (MITI 4.2.1: "
                                           "fair 40, good 50).", _percent_complex_reflections),
    Measure("telling_share", "Share of counselor turns coded as giving information or advice (0..1).",
            _telling_share),
    Measure("client_talk_share", "Share of the session's words spoken by the client (0..1).", _client_talk_share),
    Measure("collaboration", "Collaborative moves (asking permission, eliciting ideas, stressing choice) per "
                             "counselor turn.", _collaboration),
    Measure("safety_follow_up", "Counselor sentences about safety after the first risk disclosure; measured only "
                                "when a risk was flagged.", _safety_follow_up),
)}


def score_rubric(definition: RubricDefinition, turns: Sequence[Turn], codes: Sequence[TurnCode],
                 flags: Sequence[RiskFlag]) -> list[RubricScore]:
    """A score for each item whose measure is known here and measurable in this session, in the rubric's order."""
    check_rubric(definition)
    session = SessionEvidence(turns, codes, flags)
    scores = []
    for item in definition.items:
        measure = MEASURES.get(item.measure or "")
        measured = measure.measure(session) if measure is not None else None
        if measured is not None:
            scores.append(RubricScore(key=item.key, label=item.label, score=on_scale(item, measured.value),
                                      rationale=measured.detail, scale_max=item.scale_max))
    return scores


def on_scale(item: RubricItem, value: float) -> int:
    """One point above `scale_min` per threshold reached (at or above it; at or below when lower is better);
    without thresholds the value is already on the scale. Always within the item's scale."""
    if item.thresholds is None:
        points = round(value) if math.isfinite(value) else item.scale_max
        return max(item.scale_min, min(item.scale_max, points))
    reached = sum(1 for t in item.thresholds if (value >= t if item.higher_is_better else value <= t))
    return min(item.scale_max, item.scale_min + reached)
