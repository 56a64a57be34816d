"""A short extractive summary: the main topics, the client's most representative sentences, the risk.

Topics are the most frequent content words (stopwords and conversational fillers removed, word
endings folded). Representative sentences are the client sentences that carry most of those
words, quoted as said.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from vigil.analysis.text.sentences import Sentence
from vigil.analysis.text.turns import SpeakerRole, Turn
from vigil.analysis.text.vocabulary import content_words, fold
from vigil.schemas.analysis import RiskFlag
from vigil.schemas.enums import RiskCategory

# Words after the first of a sentence, with their case, to tell names from topics.
_INNER_WORD = re.compile(r"(?<=\s)[A-Za-z][a-z]+")
_TOPIC_COUNT = 3
_CATEGORY_NAMES = {
    RiskCategory.suicidal_ideation: "suicidal ideation",
    RiskCategory.self_harm: "self-harm",
    RiskCategory.harm_to_others: "harm to others",
    RiskCategory.abuse_disclosure: "abuse disclosure",
    RiskCategory.substance_crisis: "substance crisis",
    RiskCategory.other: "other risk factors",
}
_KEY_SENTENCES = 2
_MIN_KEY_WORDS, _MAX_KEY_WORDS = 6, 45
_MAX_QUOTE_CHARS = 180


def main_topics(turns: Sequence[Turn], limit: int = _TOPIC_COUNT) -> list[str]:
    """The most frequent content words, each shown in its most common spelling; names left out."""
    names = _names(turns)
    by_stem: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for turn in turns:
        for word in content_words(turn.segment.text):
            if word in names:
                continue
            stem = fold(word)
            by_stem[stem] += 1
            spellings.setdefault(stem, Counter())[word] += 1
    return [spellings[stem].most_common(1)[0][0] for stem, count in by_stem.most_common(limit) if count > 1]


def _names(turns: Sequence[Turn]) -> set[str]:
    """Words mostly written with a capital inside a sentence: people and places, not topics."""
    capitalised: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for turn in turns:
        for sentence in turn.sentences:
            for word in _INNER_WORD.findall(sentence.text):
                seen[word.lower()] += 1
                capitalised[word.lower()] += word[0].isupper()
    return {word for word, count in seen.items() if capitalised[word] * 2 > count}


def summarize(turns: Sequence[Turn], flags: Sequence[RiskFlag], duration_seconds: float) -> str:
    topics = main_topics(turns)
    parts = [_opening(turns, topics, duration_seconds)]
    for sentence in _representative_sentences(turns, topics, flags):
        parts.append(f"Client: “{_shorten(sentence.text)}”")
    parts.append(_risk_sentence(flags))
    return " ".join(parts)


def _opening(turns: Sequence[Turn], topics: Sequence[str], duration_seconds: float) -> str:
    length = f"{len(turns)}-turn session"
    if duration_seconds > 0:
        length += f" ({duration_seconds / 60:.0f} min)"
    if not topics:
        return f"A {length}."
    listed = topics[0] if len(topics) == 1 else ", ".join(topics[:-1]) + f" and {topics[-1]}"
    return f"A {length} mainly about {listed}."


def _representative_sentences(
    turns: Sequence[Turn], topics: Sequence[str], flags: Sequence[RiskFlag]
) -> list[Sentence]:
    client = [t for t in turns if t.role is SpeakerRole.client] or list(turns)
    evidence = {e.quote for flag in flags for e in flag.evidence}
    weights = Counter(fold(w) for t in turns for w in content_words(t.segment.text))
    candidates = [
        s
        for t in client
        for s in t.sentences
        if _MIN_KEY_WORDS <= s.word_count <= _MAX_KEY_WORDS
        and not s.is_question
        and not any(q in s.text or s.text in q for q in evidence)
    ]
    if not topics or not candidates:
        return []

    def weight(sentence: Sentence) -> float:
        words = {fold(w) for w in content_words(sentence.text)}
        return sum(weights[w] for w in words) / math.sqrt(sentence.word_count)

    best = sorted(candidates, key=weight, reverse=True)[:_KEY_SENTENCES]
    return sorted(best, key=lambda s: (s.segment_index, s.start))


def _shorten(text: str) -> str:
    if len(text) <= _MAX_QUOTE_CHARS:
        return text
    return text[: text.rfind(" ", 0, _MAX_QUOTE_CHARS)].rstrip(",;:") + "…"


def _risk_sentence(flags: Sequence[RiskFlag]) -> str:
    if not flags:
        return "No risk indicators were found."
    named = ", ".join(f"{_CATEGORY_NAMES[flag.category]} ({flag.severity.value})" for flag in flags)
    return f"Risk flagged: {named}."
