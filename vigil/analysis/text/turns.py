"""Turns: a transcript's segments with their sentences and who is (probably) speaking.

Speaker labels come in three kinds, and each gets a rule:
- a role word ("counselor", "therapist", "client", "caller" ...): taken as given;
- anonymous labels from diarization ("A"/"B", "SPEAKER_00"): the label whose turns are most
  often questions or reflections is taken as the counselor, the others as clients;
- no label at all (`speaker` is None): each segment on its own; one made mostly of questions or
  opening with a reflection stem is treated as a counselor turn, any other as a client turn.
Guessed roles are marked `role_inferred`, so callers can weigh them less than given ones.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vigil.analysis.text.counselor_moves import is_reflection
from vigil.analysis.text.sentences import Sentence, split_sentences
from vigil.schemas.transcripts import Segment


class SpeakerRole(StrEnum):
    counselor = "counselor"
    client = "client"


@dataclass(frozen=True)
class Turn:
    segment: Segment
    role: SpeakerRole
    role_inferred: bool
    sentences: tuple[Sentence, ...]

    @property
    def word_count(self) -> int:
        return len(self.segment.text.split())


_COUNSELOR_WORDS = frozenset(
    "counselor counsellor therapist coach agent clinician interviewer provider practitioner supervisor "
    "staff advisor adviser doctor nurse worker facilitator psychologist psychiatrist mentor host".split()
)
_CLIENT_WORDS = frozenset(
    "client patient caller customer member participant student coachee guest youth consumer".split()
)
# An anonymous label must lead the others by this much before we call it the counselor.
_MIN_COUNSELOR_LEAD = 0.05


def read_turns(segments: Sequence[Segment]) -> list[Turn]:
    sentences = {segment.index: split_sentences(segment) for segment in segments}
    anonymous_roles = _roles_of_anonymous_labels(segments, sentences)
    turns: list[Turn] = []
    for segment in segments:
        own = sentences[segment.index]
        named = _role_from_label(segment.speaker)
        if named is not None:
            turns.append(Turn(segment, named, False, own))
        elif segment.speaker is not None and segment.speaker in anonymous_roles:
            turns.append(Turn(segment, anonymous_roles[segment.speaker], True, own))
        else:
            turns.append(Turn(segment, _role_from_turn_shape(own), True, own))
    return turns


def _role_from_label(speaker: str | None) -> SpeakerRole | None:
    if not speaker:
        return None
    words = set(re.findall(r"[a-z]+", speaker.lower()))
    if words & _COUNSELOR_WORDS:
        return SpeakerRole.counselor
    if words & _CLIENT_WORDS:
        return SpeakerRole.client
    return None


def _counselor_likeness(sentences: Sequence[Sentence]) -> float:
    """Share of sentences that are questions or reflections: what counselors mostly say."""
    if not sentences:
        return 0.0
    return sum(1 for s in sentences if s.is_question or is_reflection(s)) / len(sentences)


def _roles_of_anonymous_labels(
    segments: Sequence[Segment], sentences: dict[int, tuple[Sentence, ...]]
) -> dict[str, SpeakerRole]:
    by_label: dict[str, list[Sentence]] = defaultdict(list)
    for segment in segments:
        if segment.speaker and _role_from_label(segment.speaker) is None:
            by_label[segment.speaker].extend(sentences[segment.index])
    if len(by_label) < 2:
        return {}
    ranked = sorted(by_label, key=lambda label: _counselor_likeness(by_label[label]), reverse=True)
    lead = _counselor_likeness(by_label[ranked[0]]) - _counselor_likeness(by_label[ranked[1]])
    if lead < _MIN_COUNSELOR_LEAD:
        return {}
    return {
        label: SpeakerRole.counselor if label == ranked[0] else SpeakerRole.client for label in ranked
    }


def _role_from_turn_shape(sentences: Sequence[Sentence]) -> SpeakerRole:
    if not sentences:
        return SpeakerRole.client
    questions = sum(1 for s in sentences if s.is_question)
    if questions * 2 >= len(sentences) or is_reflection(sentences[0]):
        return SpeakerRole.counselor
    return SpeakerRole.client
