"""What the sentence model reads: the client's sentences that are not questions, idioms in plain words, and
everything it cannot be sure of read as said."""

from __future__ import annotations

import re

import pytest

from vigil.analysis.risk.plain_reading import model_sentences, plain_words
from vigil.analysis.text.turns import read_turns
from vigil.schemas.transcripts import Segment

RISK_WORDS = re.compile(r"\b(?:kill\w*|cut\w*|dying|die|died|dead|death|hurt)\b", re.IGNORECASE)


@pytest.mark.parametrize("idiom", [
    "My boss would kill me if I missed another deadline.",
    "My parents would kill me.",
    "I'm cutting back on drinking.",
    "This traffic is killing me.",
    "I could kill for a coffee.",
    "I'm dying to see it.",
    "I'm killing myself trying to finish this project.",
    "I hurt myself at the gym.",
    "I was bored to death in that meeting.",
    "I'm dead tired after that shift.",
    "We nearly died laughing.",
])
def test_an_everyday_idiom_reaches_the_model_without_its_risk_word(idiom: str) -> None:
    assert RISK_WORDS.search(idiom) and not RISK_WORDS.search(plain_words(idiom))


@pytest.mark.parametrize("said", [
    "He said he would kill me.",
    "My husband will kill me if I leave.",
    "I want to kill myself.",
    "I hurt myself last night.",
    "I cut myself again.",
    "I keep thinking I'd be better off dead.",
])
def test_what_may_be_meant_is_read_as_said(said: str) -> None:
    assert plain_words(said) == said


def test_only_the_clients_statements_are_read() -> None:
    segments = [Segment(index=0, start=0, end=1, speaker="counselor", text="Have you hurt yourself? You said so."),
                Segment(index=1, start=1, end=2, speaker="client",
                        text="Where would I even start? My boss would kill me. Work is hard.")]
    read = [s.text for s in model_sentences(read_turns(segments))]
    assert read == ["My boss would be furious with me.", "Work is hard."]
