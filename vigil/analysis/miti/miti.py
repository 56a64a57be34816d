"""MITI 4.2.1 coding of counselor turns and the session's summary scores, from small shipped models.

Each counselor turn gets its main behaviour (question, reflection, therapist input, other) and, for
questions and reflections, the subtype (open/closed, simple/complex), as AnnoMI's experts coded them.
Three linear text models (`textmodel.TextModel`) read the turn's words, the client turn before it
(its tokens prefixed, since a reflection mirrors the client) and a few surface cues from
`counselor_moves`. The overall MI quality (high/low) comes from a small session model reading the
MITI numbers, the talk balance and a text model's score of everything the counselor said.
`scripts/fit_miti_model.py` fits them all on AnnoMI and stores its cross-validated agreement in each
artifact's `meta`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vigil.analysis.text.counselor_moves import (
    is_acknowledgement,
    is_collaboration,
    is_information_or_advice,
    is_reflection,
    question_form,
)
from vigil.analysis.text.textmodel import StandardizedLogistic, TextModel, read_artifact, write_artifact
from vigil.analysis.text.turns import SpeakerRole, Turn
from vigil.analysis.text.vocabulary import folded_content
from vigil.schemas.analysis import Behaviour, MitiScores, TurnCode

MODELS_DIR = Path(__file__).parent / "models"
BEHAVIOUR_ARTIFACT = "miti-behaviour.json.gz"
QUESTION_ARTIFACT = "miti-question.json.gz"
REFLECTION_ARTIFACT = "miti-reflection.json.gz"
SESSION_TEXT_ARTIFACT = "miti-session-text.json.gz"
QUALITY_ARTIFACT = "miti-quality.json.gz"
ARTIFACTS = (BEHAVIOUR_ARTIFACT, QUESTION_ARTIFACT, REFLECTION_ARTIFACT, SESSION_TEXT_ARTIFACT, QUALITY_ARTIFACT)
BEHAVIOURS: tuple[Behaviour, ...] = ("question", "reflection", "therapist_input", "other")
QUALITY_FORMAT = "vigil-sessionmodel/1"
CLIENT_PREFIX = "client_"
_WORD = re.compile(r"(?u)\b\w\w+\b")  # the text model's own tokens, so a prefixed client word stays one token


@dataclass(frozen=True)
class CounselorTurn:
    """A counselor turn read with what the client said last before it."""

    turn: Turn
    client_before: str


def counselor_turns(turns: Sequence[Turn]) -> list[CounselorTurn]:
    found: list[CounselorTurn] = []
    client_said = ""
    for turn in turns:
        if turn.role is SpeakerRole.client:
            client_said = turn.segment.text
        else:
            found.append(CounselorTurn(turn, client_said))
    return found


def turn_features(counselor_turn: CounselorTurn) -> str:
    """The text the turn models read: the client's tokens (prefixed), the turn, then cue tokens."""
    turn, client_said = counselor_turn.turn, counselor_turn.client_before
    client = " ".join(CLIENT_PREFIX + word for word in _WORD.findall(client_said.lower()))
    return f"{client} {turn.segment.text} {' '.join(_cues(turn, client_said))}".strip()


def _cues(turn: Turn, client_said: str) -> list[str]:
    """Surface cues the word n-grams miss: punctuation, question form, mirroring, length."""
    sentences = turn.sentences
    cues = [f"cue_words_{_bucket(turn.word_count, (3, 10, 25, 60))}"]
    if not sentences:
        return cues
    if sentences[-1].is_question:
        cues.append("cue_ends_question")
    forms = [form for form in (question_form(s) for s in sentences) if form is not None]
    if forms:
        cues.append(f"cue_last_question_{forms[-1].value}")
    if any(is_reflection(s, client_said) for s in sentences):
        cues.append("cue_reflection")
    if any(is_information_or_advice(s) for s in sentences):
        cues.append("cue_advice")
    if any(is_collaboration(s) for s in sentences):
        cues.append("cue_collaboration")
    if all(is_acknowledgement(s) for s in sentences):
        cues.append("cue_acknowledgement")
    if client_said:
        mine = folded_content(turn.segment.text)
        shared = len(mine & folded_content(client_said)) / len(mine) if mine else 0.0
        cues.append(f"cue_mirrors_{_bucket(shared, (0.0001, 0.2, 0.4))}")
    return cues


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    return sum(1 for edge in edges if value >= edge)


# ---------------------------------------------------------------- coding turns
@dataclass(frozen=True)
class TurnReading:
    """The turn models' view of a session's counselor turns: the codes, and the probabilities behind them."""

    codes: list[TurnCode]
    behaviour: np.ndarray  # (turns, 4), columns in BEHAVIOURS order
    complex: np.ndarray  # P(complex) if the turn is a reflection
    open: np.ndarray  # P(open) if the turn is a question


@dataclass(frozen=True)
class TurnCoder:
    behaviour: TextModel
    question: TextModel  # open / closed
    reflection: TextModel  # simple / complex

    def read(self, turns: Sequence[Turn]) -> TurnReading:
        mine = counselor_turns(turns)
        texts = [turn_features(t) for t in mine]
        columns = [self.behaviour.classes.index(b) for b in BEHAVIOURS]
        behaviour = self.behaviour.predict_proba(texts)[:, columns]
        complex_ = self.reflection.probability(texts, "complex") if texts else np.zeros(0)
        open_ = self.question.probability(texts, "open") if texts else np.zeros(0)
        codes = []
        for i, counselor_turn in enumerate(mine):
            best = int(behaviour[i].argmax())
            kind = BEHAVIOURS[best]
            subtype = (("open" if open_[i] >= 0.5 else "closed") if kind == "question" else
                       ("complex" if complex_[i] >= 0.5 else "simple") if kind == "reflection" else None)
            codes.append(TurnCode(segment_index=counselor_turn.turn.segment.index, behaviour=kind, subtype=subtype,
                                  confidence=round(float(behaviour[i][best]), 4)))
        return TurnReading(codes, behaviour, complex_, open_)

    def code(self, turns: Sequence[Turn]) -> list[TurnCode]:
        """One code per counselor turn, in order; confidence is the behaviour's probability."""
        return self.read(turns).codes

    @classmethod
    def load(cls, directory: Path = MODELS_DIR) -> TurnCoder:
        return cls(behaviour=TextModel.load(directory / BEHAVIOUR_ARTIFACT),
                   question=TextModel.load(directory / QUESTION_ARTIFACT),
                   reflection=TextModel.load(directory / REFLECTION_ARTIFACT))


# ---------------------------------------------------------------- summary scores
def miti_counts(codes: Sequence[TurnCode]) -> MitiScores:
    """The MITI summary scores from turn codes alone (no overall quality)."""
    count = {kind: sum(1 for c in codes if c.behaviour == kind) for kind in BEHAVIOURS}
    open_questions = sum(1 for c in codes if c.behaviour == "question" and c.subtype == "open")
    complex_reflections = sum(1 for c in codes if c.behaviour == "reflection" and c.subtype == "complex")
    questions, reflections = count["question"], count["reflection"]
    return MitiScores(
        questions=questions, open_questions=open_questions, reflections=reflections,
        complex_reflections=complex_reflections, therapist_input=count["therapist_input"], other=count["other"],
        reflection_to_question=round(reflections / questions, 3) if questions else None,
        percent_complex_reflections=round(100 * complex_reflections / reflections, 1) if reflections else None,
        percent_open_questions=round(100 * open_questions / questions, 1) if questions else None)


def counselor_text(turns: Sequence[Turn]) -> str:
    """Everything the counselor said: what the session text model reads."""
    return "\n".join(t.segment.text for t in turns if t.role is SpeakerRole.counselor)


SESSION_FEATURES = ("reflections_per_question", "complex_share", "open_share", "question_share", "reflection_share",
                    "input_share", "counselor_word_share", "log_counselor_words_per_turn", "counselor_text_score")


def session_features(turns: Sequence[Turn], reading: TurnReading, text_score: float) -> dict[str, float]:
    """What the quality model reads: the MITI numbers as the turn models expect them (probability-weighted,
    steadier than counts of their best guesses), how much the counselor talks, and the session text score."""
    p = reading.behaviour
    questions, reflections = p[:, 0].sum(), p[:, 1].sum()
    counselor_words = sum(t.word_count for t in turns if t.role is SpeakerRole.counselor)
    all_words = sum(t.word_count for t in turns)
    n = max(len(reading.codes), 1)
    return {
        # Capped: a session of reflections and one question is not five times better than one at 2:1.
        "reflections_per_question": float(min(reflections / max(questions, 1.0), 4.0)),
        "complex_share": float((p[:, 1] * reading.complex).sum() / reflections) if reflections else 0.0,
        "open_share": float((p[:, 0] * reading.open).sum() / questions) if questions else 0.0,
        "question_share": float(questions / n),
        "reflection_share": float(reflections / n),
        "input_share": float(p[:, 2].sum() / n),
        "counselor_word_share": counselor_words / all_words if all_words else 0.0,
        "log_counselor_words_per_turn": math.log1p(counselor_words / n),
        "counselor_text_score": text_score,
    }


def text_score(session_text: TextModel, turns: Sequence[Turn]) -> float:
    """The session text model's log-odds that the counselor's words read like high-quality MI (clipped)."""
    p_high = float(session_text.probability([counselor_text(turns)], "high")[0])
    p_high = min(max(p_high, 1e-4), 1 - 1e-4)
    return math.log(p_high / (1 - p_high))


@dataclass(frozen=True)
class QualityModel(StandardizedLogistic):
    """Logistic regression on standardised session features; "high" when P(high) reaches `threshold`."""

    meta: dict[str, Any]

    def probability_high(self, values: Mapping[str, float]) -> float:
        return self.probability(values)

    def verdict(self, values: Mapping[str, float]) -> tuple[Literal["high", "low"], float]:
        """"high" or "low", and the probability of that verdict."""
        p_high = self.probability_high(values)
        return ("high", p_high) if p_high >= self.threshold else ("low", 1.0 - p_high)

    def save(self, path: Path) -> None:
        write_artifact(path, {"format": QUALITY_FORMAT, **self.as_json(), "meta": self.meta})

    @classmethod
    def load(cls, path: Path) -> QualityModel:
        payload = read_artifact(path, QUALITY_FORMAT)
        return cls(**cls.fields_from_json(payload), meta=payload["meta"])


# ---------------------------------------------------------------- the shipped models
@dataclass(frozen=True)
class MitiModels:
    coder: TurnCoder
    session_text: TextModel  # high / low, on everything the counselor said
    quality: QualityModel

    def assess(self, turns: Sequence[Turn]) -> tuple[list[TurnCode], MitiScores]:
        """The session's turn codes and its MITI summary, with the overall MI quality when a counselor spoke."""
        reading = self.coder.read(turns)
        scores = miti_counts(reading.codes)
        if not reading.codes:
            return reading.codes, scores
        verdict, confidence = self.quality.verdict(session_features(turns, reading, text_score(self.session_text,
                                                                                                turns)))
        return reading.codes, scores.model_copy(update={"mi_quality": verdict,
                                                        "mi_quality_confidence": round(confidence, 4)})

    @classmethod
    def load(cls, directory: Path = MODELS_DIR) -> MitiModels:
        return cls(coder=TurnCoder.load(directory), session_text=TextModel.load(directory / SESSION_TEXT_ARTIFACT),
                   quality=QualityModel.load(directory / QUALITY_ARTIFACT))


@lru_cache(maxsize=4)
def shipped_models(directory: Path = MODELS_DIR) -> MitiModels:
    return MitiModels.load(directory)
