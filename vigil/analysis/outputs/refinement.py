"""Refinement: the transcript made easier to read — casing and punctuation cleaned up — without changing words.

Speech engines often return lower-case runs without sentence ends ("i think so um i dont know"). This
capitalises sentence starts and the pronoun "I", ends each segment with punctuation, and tidies spacing.
Words are never added, dropped or reordered, so every evidence quote found in the raw transcript is
still found (case-insensitively) in the refined one; the raw transcript stays the record.
"""

from __future__ import annotations

import re

from vigil.schemas.transcripts import AgentTranscript, Segment

_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_PRONOUN_I = re.compile(r"\bi(?=\b|')")
_SENTENCE_START = re.compile(r"(^|[.!?]\s+)([a-z])")
# A question opens with one of these, perhaps after a greeting or filler ("hi, how are you", "so what happened").
_QUESTION_START = re.compile(
    r"^(?:(?:hi|hey|hello|so|and|but|okay|ok|well|um|uh|now)\b[\s,]*)*"
    r"(who|what|when|where|why|how|do|does|did|is|are|was|were|can|could|would|will|should|have|has)\b", re.I)


def refine_text(text: str) -> str:
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text).strip())
    if not text:
        return text
    text = _PRONOUN_I.sub("I", text)
    text = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)
    if text[-1] not in ".!?\"'”’)":
        text += "?" if _QUESTION_START.match(text.split(". ")[-1]) else "."
    return text


def refine_transcript(transcript: AgentTranscript) -> AgentTranscript:
    segments = [Segment(**{**s.model_dump(), "text": refine_text(s.text)}) for s in transcript.segments]
    return transcript.model_copy(update={"segments": segments, "text": " ".join(s.text for s in segments)})
