"""Sentences of a segment, kept with their character offsets so evidence can be quoted verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.schemas.transcripts import Segment

# A sentence runs to its closing punctuation or line break. Abbreviations ("Dr.") split early;
# that only shortens a quote, it never makes one non-verbatim.
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+[\"'”’)\]]*|\n|$)")
_TRAILING_CLOSERS = " \t\"'”’)]"
_QUOTE_MAX_CHARS = 240
_QUOTE_CONTEXT_CHARS = 100


@dataclass(frozen=True)
class Sentence:
    segment_index: int
    start: int
    end: int
    text: str

    @property
    def is_question(self) -> bool:
        return self.text.rstrip(_TRAILING_CLOSERS).endswith("?")

    @property
    def word_count(self) -> int:
        return len(self.text.split())


def split_sentences(segment: Segment) -> tuple[Sentence, ...]:
    """Split a segment's text; each sentence's `text` equals `segment.text[start:end]`."""
    sentences: list[Sentence] = []
    for match in _SENTENCE.finditer(segment.text):
        raw = match.group(0)
        stripped = raw.strip()
        if not any(ch.isalnum() for ch in stripped):
            continue
        start = match.start() + (len(raw) - len(raw.lstrip()))
        sentences.append(Sentence(segment.index, start, start + len(stripped), stripped))
    return tuple(sentences)


def quote_around(sentence: Sentence, match_start: int, match_end: int) -> str:
    """The sentence itself, or for a long one the words around the match; always a verbatim slice.

    `match_start`/`match_end` are offsets within `sentence.text`.
    """
    text = sentence.text
    if len(text) <= _QUOTE_MAX_CHARS:
        return text
    left = max(0, match_start - _QUOTE_CONTEXT_CHARS)
    right = min(len(text), match_end + _QUOTE_CONTEXT_CHARS)
    if left > 0:
        space = text.find(" ", left, match_start)
        left = space + 1 if space != -1 else left
    if right < len(text):
        space = text.rfind(" ", match_end, right)
        right = space if space != -1 else right
    return text[left:right].strip()
