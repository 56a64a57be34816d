"""A small motivational-interviewing rubric scored from the transcript itself.

Each item is a count a MITI coder would recognise, turned into 1..5 with thresholds from
MITI 4 practice (open questions: 50% fair, 70% good; reflection:question 1:1 fair, 2:1
good), plus how much the counselor tells rather than listens, and a rationale that cites the
count. Counselor and client turns come from `turns.py`,
including its fallback when speakers are unknown. The safety item is scored only when a risk
was flagged: with no risk there is nothing to follow up, and a filler score would skew trends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vigil.analysis.counselor_moves import (
    QuestionForm,
    is_collaboration,
    is_information_or_advice,
    is_planning,
    is_reflection,
    is_safety_inquiry,
    question_form,
)
from vigil.analysis.turns import SpeakerRole, Turn
from vigil.schemas import RiskFlag, RubricScore


@dataclass(frozen=True)
class CounselorBehaviour:
    """What the counselor did, counted per turn, plus how much each side talked."""

    counselor_turns: int
    question_turns: int
    open_question_turns: int
    reflection_turns: int
    telling_turns: int
    collaboration_moves: int
    planning_statements: int
    counselor_words: int
    client_words: int


def classify_counselor_turn(turn: Turn, client_said: str = "") -> str:
    """The turn's main behaviour: "question", "reflection" or "other" (as AnnoMI codes a turn).

    `client_said` is the client's turn just before, which a reflection mirrors.
    """
    forms = [question_form(s) for s in turn.sentences]
    asks = [f for f in forms if f in (QuestionForm.open, QuestionForm.closed)]
    ends_with_question = bool(forms) and forms[-1] in (QuestionForm.open, QuestionForm.closed)
    if ends_with_question:
        return "question"
    reflections = sum(1 for s in turn.sentences if is_reflection(s, client_said))
    telling = sum(1 for s in turn.sentences if is_information_or_advice(s))
    if reflections and not telling:
        return "reflection"
    if telling:
        return "other"
    return "question" if asks else "other"


def classify_counselor_turns(turns: Sequence[Turn]) -> list[tuple[Turn, str]]:
    """Each counselor turn with its main behaviour, read against the client turn before it."""
    classified: list[tuple[Turn, str]] = []
    client_said = ""
    for turn in turns:
        if turn.role is SpeakerRole.client:
            client_said = turn.segment.text
            continue
        classified.append((turn, classify_counselor_turn(turn, client_said)))
    return classified


def is_open_question_turn(turn: Turn) -> bool:
    """Whether the question a turn ends on (or its last one) is open."""
    asks = [f for f in (question_form(s) for s in turn.sentences) if f in (QuestionForm.open, QuestionForm.closed)]
    return bool(asks) and asks[-1] is QuestionForm.open


def count_behaviour(turns: Sequence[Turn]) -> CounselorBehaviour:
    classified = classify_counselor_turns(turns)
    counselor = [turn for turn, _ in classified]
    question_turns = [turn for turn, kind in classified if kind == "question"]
    return CounselorBehaviour(
        counselor_turns=len(counselor),
        question_turns=len(question_turns),
        open_question_turns=sum(1 for t in question_turns if is_open_question_turn(t)),
        reflection_turns=sum(1 for _, kind in classified if kind == "reflection"),
        telling_turns=sum(1 for t in counselor if any(is_information_or_advice(s) for s in t.sentences)),
        collaboration_moves=sum(1 for t in counselor for s in t.sentences if is_collaboration(s)),
        planning_statements=sum(1 for t in turns for s in t.sentences if is_planning(s) and not s.is_question),
        counselor_words=sum(t.word_count for t in counselor),
        client_words=sum(t.word_count for t in turns if t.role is SpeakerRole.client),
    )


def score_rubric(turns: Sequence[Turn], flags: Sequence[RiskFlag]) -> list[RubricScore]:
    behaviour = count_behaviour(turns)
    scores = [
        _score_open_questions(behaviour),
        _score_reflections(behaviour),
        _score_listening(behaviour),
        _score_talk_balance(behaviour),
        _score_collaboration(behaviour),
    ]
    if flags:
        scores.append(_score_safety_follow_up(turns, flags))
    return scores


def _by_threshold(value: float, thresholds: tuple[float, float, float, float]) -> int:
    """1..5: one point for each threshold `value` reaches (thresholds ascending)."""
    return 1 + sum(1 for t in thresholds if value >= t)


def _score_open_questions(b: CounselorBehaviour) -> RubricScore:
    label = "Open questions"
    if b.question_turns == 0:
        return RubricScore(key="open_questions", label=label, score=1, rationale="No counselor questions found.")
    share = b.open_question_turns / b.question_turns
    return RubricScore(
        key="open_questions",
        label=label,
        score=_by_threshold(share, (0.2, 0.35, 0.5, 0.7)),
        rationale=f"{b.open_question_turns} of {b.question_turns} counselor questions were open ({share:.0%}).",
    )


def _score_reflections(b: CounselorBehaviour) -> RubricScore:
    label = "Reflective listening"
    if b.counselor_turns == 0:
        return RubricScore(key="reflections", label=label, score=1, rationale="No counselor turns identified.")
    ratio = b.reflection_turns / max(b.question_turns, 1)
    return RubricScore(
        key="reflections",
        label=label,
        score=_by_threshold(ratio, (0.25, 0.5, 1.0, 2.0)),
        rationale=(
            f"{b.reflection_turns} reflections to {b.question_turns} questions "
            f"(reflection:question {ratio:.1f}:1)."
        ),
    )


def _score_listening(b: CounselorBehaviour) -> RubricScore:
    label = "Listening over telling"
    if b.counselor_turns == 0:
        return RubricScore(key="listening", label=label, score=1, rationale="No counselor turns identified.")
    share = b.telling_turns / b.counselor_turns
    # Unsolicited advice, warnings and information crowd out the client's own reasons to change.
    return RubricScore(
        key="listening",
        label=label,
        score=_by_threshold(1.0 - share, (0.55, 0.7, 0.8, 0.9)),
        rationale=(
            f"{b.telling_turns} of {b.counselor_turns} counselor turns gave information, advice or "
            f"warnings ({share:.0%})."
        ),
    )


def _score_talk_balance(b: CounselorBehaviour) -> RubricScore:
    label = "Talk balance"
    total = b.counselor_words + b.client_words
    if b.counselor_turns == 0 or total == 0:
        return RubricScore(key="talk_balance", label=label, score=1, rationale="No counselor turns identified.")
    share = b.counselor_words / total
    # In MI the client should do most of the talking, so a lower counselor share scores higher.
    return RubricScore(
        key="talk_balance",
        label=label,
        score=_by_threshold(1.0 - share, (0.35, 0.45, 0.55, 0.65)),
        rationale=f"Counselor spoke {b.counselor_words} of {total} words ({share:.0%}).",
    )


def _score_collaboration(b: CounselorBehaviour) -> RubricScore:
    label = "Collaboration and planning"
    # Scored on the counselor's partnership moves; plans are cited, not scored, because a client
    # announcing "I'll just keep smoking" is planning too.
    rate = b.collaboration_moves / max(b.counselor_turns, 1)
    return RubricScore(
        key="collaboration",
        label=label,
        score=_by_threshold(rate, (0.02, 0.05, 0.08, 0.12)),
        rationale=(
            f"{b.collaboration_moves} collaborative moves (asking permission, eliciting ideas, stressing "
            f"choice) over {b.counselor_turns} counselor turns; {b.planning_statements} planning statements."
        ),
    )


def _score_safety_follow_up(turns: Sequence[Turn], flags: Sequence[RiskFlag]) -> RubricScore:
    first_disclosure = min(e.segment_index for flag in flags for e in flag.evidence)
    inquiries = [
        s
        for t in turns
        if t.role is SpeakerRole.counselor and t.segment.index >= first_disclosure
        for s in t.sentences
        if is_safety_inquiry(s)
    ]
    return RubricScore(
        key="safety_follow_up",
        label="Safety follow-up",
        score=min(5, 1 + len(inquiries)),
        rationale=(
            f"{len(inquiries)} counselor sentence{'s' if len(inquiries) != 1 else ''} about safety after "
            f"the first risk disclosure (segment {first_disclosure})."
        ),
    )
