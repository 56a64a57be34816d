"""What the sentence model reads of a session: the client's sentences that are not questions, in plain words.

A sentence encoder reads topic better than grammar: "this traffic is killing me" sits near "I want to kill
myself". So before a sentence is encoded, everyday idioms built on risk words are put in plain words
(`IDIOMS`: "my parents would kill me" → "my parents would be furious with me", "is killing me" → "is wearing
me out", "cutting back on" → "reducing", ...), the idioms the rules already set aside. An idiom is only
rewritten where the words around it make it one ("my parents would kill me", not "he said he would kill me");
anything else is read as said: when unsure, the model reads the risk word.

Measured by nested cross-validation on the development data (2026-12-07, rules + model at `high`): with the
idioms in plain words, recall 0.931 on C-SSRS and 0.853 on the written sessions, 46 of 100 written and 5 of 78
AnnoMI negatives flagged; reading every sentence as said, 0.931, 0.865, 43 and 3, a difference of two or three
sessions. Leaving out the clauses where a rule's phrase is denied ("I would never hurt myself") was tried too
and cost recall (0.916 and 0.829), so denials are read as said and left to the rules, which read negation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from vigil.analysis.text.sentences import Sentence
from vigil.analysis.text.turns import SpeakerRole, Turn

_WORK = (r"(?:trying|working|studying|to (?:get|finish|make|meet|please|impress|pay)|at (?:work|the gym)|"
         r"over (?:this|it|work))")
_PLACE = r"(?:with|in|near|at|closer|somewhere|abroad|alone|together|there|here)"
_ACCIDENT = (r"(?:at (?:the )?(?:gym|work|practice|park)|playing|lifting|running|training|skiing|cooking|chopping|"
             r"shaving|falling|when (?:i )?(?:fell|tripped|slipped)|in (?:the|a|an) (?:gym|game|match|accident|"
             r"kitchen|fall|crash)|by accident|accidentally)")
# (pattern, plain words): the idiom, and what it means.
_IDIOMS = (
    # Not a partner's or a stranger's "would kill me": that may be a threat, and is read as said.
    (r"\b((?:mum|mom|mother|dad|father|parents|folks|boss|manager|teacher|coach|gran|nan|grandma|grandpa)\s+"
     r"(?:would|will|'ll|gonna|is going to|are going to)\s+(?:literally\s+)?)kill\s+(me|us)\b",
     r"\1be furious with \2"),
    (r"\b(is|are|was|were|'s|'re)\s+(?:just\s+|really\s+|absolutely\s+)?killing\s+(me|us)\b", r"\1 wearing \2 out"),
    (rf"\bkill(?:ing)?\s+my\s?self\s+(?={_WORK})", "pushing myself "),
    (r"\b(?:could|would)\s+(?:kill|murder)\s+for\b", "would love"),
    (r"\b(?:dying|dyin')\s+to\b", "eager to"),
    (r"\b(?:dying|dyin')\s+for\b", "longing for"),
    (r"\bcut(?:s|ting)?\s+(?:back|down)\s+on\b", "reducing"),
    (r"\b(?:died|dying|die|dead)\s+(?:of\s+)?laugh\w*\b", "laughed a lot"),
    (r"\b(?:bored|scared|worried|frightened)\s+to\s+death\b", "very worried"),
    (r"\bdead\s+(?:tired|on my feet|beat)\b", "very tired"),
    (r"\bit\s+hit\s+me\b", "I realised"),
    (rf"\b(want(?:s|ed)?|going|have|had)\s+to\s+live\s+(?={_PLACE})", r"\1 to stay "),
    (rf"\bhurt\s+my\s?self\s+(?={_ACCIDENT})", "got injured "),
)
IDIOMS = tuple((re.compile(pattern, re.IGNORECASE), plain) for pattern, plain in _IDIOMS)


@dataclass(frozen=True)
class ClientSentence:
    """A sentence the model reads: where it was said, and the words the encoder is given."""

    turn: Turn
    sentence: Sentence
    text: str


def plain_words(text: str) -> str:
    for pattern, plain in IDIOMS:
        text = pattern.sub(plain, text)
    return text


def model_sentences(turns: Sequence[Turn]) -> list[ClientSentence]:
    """The sentences of turns that are (or may be) the client's, questions left out, idioms in plain words.
    A turn whose role was only guessed is read too, so a wrong guess cannot hide a disclosure."""
    out = []
    for turn in turns:
        if turn.role is not SpeakerRole.client and not turn.role_inferred:
            continue
        out += [ClientSentence(turn, sentence, plain_words(sentence.text)) for sentence in turn.sentences
                if not sentence.is_question]
    return out
