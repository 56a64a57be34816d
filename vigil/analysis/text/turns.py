"""Turns: a transcript's segments with their sentences and who is speaking.

Roles come per speaker label (`vigil.analysis.text.roles`: a role word in the label, the tenant's first-speaker
setting, or what each speaker says). A segment with no speaker is read on its own: one made mostly of questions
or opening with a reflection stem is treated as a counselor turn, any other as a client turn. Roles guessed per
segment, or per speaker when the speakers barely differ, are marked `role_inferred`, so callers can weigh them
less than given ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vigil.analysis.text.counselor_moves import is_reflection
from vigil.analysis.text.roles import assign_roles
from vigil.analysis.text.sentences import Sentence, split_sentences
from vigil.schemas.transcripts import Segment, SpeakerRoles


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


def read_turns(segments: Sequence[Segment], roles: SpeakerRoles | None = None) -> list[Turn]:
    """`roles`: as the analyze stage assigned them (tenant setting, corrections); None → from the labels alone."""
    roles = roles or assign_roles(segments)
    by_speaker = roles.by_speaker
    guessed = roles.basis == "per_segment" or roles.ambiguous
    turns: list[Turn] = []
    for segment in segments:
        own = split_sentences(segment)
        if segment.speaker is not None and segment.speaker in by_speaker:
            turns.append(Turn(segment, SpeakerRole(by_speaker[segment.speaker]), guessed, own))
        else:
            turns.append(Turn(segment, _role_from_turn_shape(own), True, own))
    return turns


def _role_from_turn_shape(sentences: Sequence[Sentence]) -> SpeakerRole:
    if not sentences:
        return SpeakerRole.client
    questions = sum(1 for s in sentences if s.is_question)
    if questions * 2 >= len(sentences) or is_reflection(sentences[0]):
        return SpeakerRole.counselor
    return SpeakerRole.client
