"""The fitted half of risk detection: a text model of the client's own words, stacked with the rules.

Unit: the session. The client's turns, joined, go through a TF-IDF + logistic-regression model
(`textmodel.TextModel`, three classes: none / ideation / behavior, fitted on Reddit C-SSRS users and
AnnoMI sessions by `scripts/fit_risk_model.py`). Its log-odds, what the rules found and how the
client speaks about death and self-harm (mostly "I" or mostly "you") feed two small logistic
stackers: any suicide risk, and self-harm or suicidal behaviour. Each has a threshold chosen by
cross-validation inside the training folds. The counselor's words never reach the model.

The model flags only where a flag can quote something worth reading: somewhere the client speaks of
dying, suicide or self-harm as their own ("I keep thinking everyone would be fine if I was gone"),
read with the rules' grammar (whose clause, denied or not) after everyday idioms are set aside
("my parents would kill me", "cutting back", "bored to death"). Those sentences, ranked by the same
text model, are the evidence. Talk of others' deaths, support for someone else ("please don't kill
yourself") and figures of speech never open the way, however the bag of words scores them.
Two more guards: the model does not judge a client who has said little (`min_client_words`, stored
with the model), since it learnt from whole sessions and Reddit histories; and the stacker, whose
threshold is set low for recall, flags only where the text model on its own leans to risk
(`min_text_risk`).

Only numpy is needed here; the stackers and thresholds live in the artifact's `meta`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vigil.analysis.risk_language import (
    Person,
    clause_start,
    is_negated,
    speaks_of_recovery,
    speaks_of_the_past,
    subject_person,
)
from vigil.analysis.rules_self_directed import NOT_FIGURATIVE_KILL
from vigil.analysis.sentence_risk import ClientSentence
from vigil.analysis.sentences import Sentence, quote_around
from vigil.analysis.textmodel import StandardizedLogistic, TextModel
from vigil.analysis.turns import SpeakerRole, Turn
from vigil.schemas import RiskCategory, RiskLevel

if TYPE_CHECKING:  # risk_detection imports this module; the hits only need to be read here
    from vigil.analysis.risk_detection import RiskHit

MODEL_PATH = Path(__file__).parent / "models" / "risk-cssrs.json.gz"
FORMAT = "vigil-risk-stack/1"

NONE, IDEATION, BEHAVIOR = "none", "ideation", "behavior"
CLASSES = (NONE, IDEATION, BEHAVIOR)
ANY_RISK, SELF_HARM = "any_risk", "self_harm"

# Words that make a sentence worth reading for suicide or self-harm risk. Broad on purpose: the
# model decides what they mean; the list only keeps it from flagging sessions that never go there.
# Everyday idioms are not risk talk: "cutting back", "my parents would kill me", "dying to see it",
# "bored to death", and the figures of speech the rules already know ("killing myself at work").
_RISK_TOPIC = re.compile(
    r"\b(?:suicid\w*"
    r"|kill(?:s|ed|ing)?\s+(?:my|your)\s?self\b" + NOT_FIGURATIVE_KILL
    + r"|kill(?:s|ed|ing)?\b(?!\s+(?:me|us|for|(?:my|your)\s?self)\b)"
    r"|cut(?:s|ting)?\b(?!\s+(?:back|down|out|off|up|in|into|loose|short|ties|corners|costs?|class(?:es)?|school|"
    r"hair|grass)\b)"
    r"|(?:die|dies|dying|died)\b(?!\s+(?:to|for|laughing|of (?:boredom|embarrassment|shame|laughter))\b)"
    r"|dead|(?<!to )death|deaths|end(?:ing)? (?:it|my life|things|everything)|overdos\w*|od|self[- ]?harm\w*|"
    r"harm(?:ing)? (?:my|your)self|hurt(?:ing)? (?:my|your)self|pills|rope|noose|hang(?:ing)? (?:my|your)self|"
    r"jump(?:ing)? off|alive|exist|existing|hopeless|worthless|burden|wrists?|scars?|razor|blade|gun|"
    r"attempt(?:s|ed)?|gone|disappear)\b",
    re.IGNORECASE,
)
# "I haven't killed myself yet", "I never self-harmed until last year": denials that say it is there.
_NOT_YET = re.compile(r"(?:\s+\w+){0,3}?\s+(?:yet|until)\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:i|im|i['’]m|ive|i['’]ve|id|i['’]d|ill|i['’]ll|me|my|myself|mine)\b", re.IGNORECASE)
_SECOND_PERSON = re.compile(r"\b(?:you|your|youre|you['’]re|yourself|youve|you['’]ve|u|ur)\b", re.IGNORECASE)
# The text model's tokens are two characters or longer; "I" is the word that matters most here.
_PRONOUN_I = re.compile(r"\bi\b", re.IGNORECASE)

_SEVERITY_RANK = {level: level.rank for level in RiskLevel}
_MAX_EVIDENCE = 3
_MAX_CONFIDENCE = 0.99
# A model-only flag is "low" unless the model is this sure; "high" always needs a stated plan,
# means or act, which only the rules read.
_MEDIUM_FROM = 0.8


# ---------------------------------------------------------------- what the model reads
@dataclass(frozen=True)
class RuleSummary:
    """What the rules found, per category, as the stackers read it."""

    severity: dict[RiskCategory, int]
    hits: dict[RiskCategory, int]

    @classmethod
    def of(cls, hits: Iterable[RiskHit]) -> RuleSummary:
        severity: dict[RiskCategory, int] = {}
        counts: dict[RiskCategory, int] = {}
        for hit in hits:
            category = hit.rule.category
            severity[category] = max(severity.get(category, 0), _SEVERITY_RANK[hit.severity])
            counts[category] = counts.get(category, 0) + 1
        return cls(severity, counts)


@dataclass(frozen=True)
class ClientTalk:
    """A session as the model reads it: the client's sentences, those with a risk word, and those of
    them where the risk is the client's own."""

    spoken: tuple[ClientSentence, ...]
    topic: tuple[ClientSentence, ...]
    own: tuple[ClientSentence, ...]

    @classmethod
    def of(cls, turns: Iterable[Turn]) -> ClientTalk:
        spoken = tuple(ClientSentence(turn, sentence) for turn in turns if turn.role is SpeakerRole.client
                       for sentence in turn.sentences)
        topic = tuple(s for s in spoken if _RISK_TOPIC.search(s.sentence.text))
        return cls(spoken, topic, tuple(s for s in topic if speaks_of_own_risk(s.sentence.text)))

    @property
    def words(self) -> int:
        return sum(s.sentence.word_count for s in self.spoken)

    @property
    def document(self) -> str:
        return model_text(" ".join(s.sentence.text for s in self.spoken))


def speaks_of_own_risk(text: str) -> bool:
    """Whether some risk word in `text` is the speaker's own: the subject of its clause is "I" (or
    unsaid) and nothing there denies it. "I keep thinking everyone would be fine if I was gone" is;
    "My parents would kill me", "Please don't kill yourself" and "my dad died" are not."""
    for match in _RISK_TOPIC.finditer(text):
        start = clause_start(text, match.start())
        window = text[start : match.start()]
        if not window.strip() and not _speaks_of_self_only(text):
            continue  # the risk word is the subject, about no one: "Suicide is never the answer"
        if speaks_of_the_past(text) and speaks_of_recovery(text):
            return False  # "I used to think about suicide but therapy helped me"
        denied = is_negated(window) and not _NOT_YET.match(text, match.end())
        if subject_person(window, text[:start]) in (Person.first, Person.implicit) and not denied:
            return True
    return False


def _speaks_of_self_only(text: str) -> bool:
    """'Death is as close as I can get': the speaker in the sentence, the listener not."""
    return bool(_FIRST_PERSON.search(text)) and not _SECOND_PERSON.search(text)


def model_text(text: str) -> str:
    """The text as the model reads it (fitting and predicting alike)."""
    return _PRONOUN_I.sub("i_", text)


def judges(talk: ClientTalk, min_client_words: int) -> bool:
    """Whether the model judges a session at all: enough of the client's words, and somewhere the
    client speaks of dying, suicide or self-harm as their own (what a flag must be able to quote)."""
    return bool(talk.own) and talk.words >= min_client_words


def stack_features(class_probabilities: np.ndarray, rules: RuleSummary, talk: ClientTalk) -> dict[str, float]:
    """The stackers' inputs for one session; `class_probabilities` in `CLASSES` order."""
    p_none, _, p_behavior = (float(p) for p in np.clip(class_probabilities, 1e-6, 1.0))
    # Who the talk of death is about: the speaker ("I want to die") or the listener ("don't kill yourself").
    persons = [(bool(_FIRST_PERSON.search(s.sentence.text)), bool(_SECOND_PERSON.search(s.sentence.text)))
               for s in talk.topic]
    first = sum(1 for mine, yours in persons if mine and not yours)
    second = sum(1 for mine, yours in persons if yours and not mine)
    si, sh = RiskCategory.suicidal_ideation, RiskCategory.self_harm
    return {
        "text_risk": math.log(max(1.0 - p_none, 1e-6) / p_none),
        "text_behavior": math.log(p_behavior / max(1.0 - p_behavior, 1e-6)),
        "rule_si_severity": float(rules.severity.get(si, 0)),
        "rule_si_hits": math.log1p(rules.hits.get(si, 0)),
        "rule_sh_severity": float(rules.severity.get(sh, 0)),
        "rule_sh_hits": math.log1p(rules.hits.get(sh, 0)),
        "rule_other_categories": float(sum(1 for c in rules.severity if c not in (si, sh))),
        "topic_own": math.log1p(len(talk.own)),
        "topic_first_person": math.log1p(first),
        "topic_second_person": math.log1p(second),
        "topic_first_share": (first + 1) / (first + second + 2),
        "topic_sentences": math.log1p(len(talk.topic)),
    }


# ---------------------------------------------------------------- the fitted model
class Stacker(StandardizedLogistic):
    """Logistic regression over standardized `stack_features`, with its decision threshold."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stacker:
        return cls(**cls.fields_from_json(data))


@dataclass(frozen=True)
class SessionRisk:
    text_risk: float  # the text model alone: P(ideation or behaviour)
    any_risk: float
    self_harm: float
    quotable: tuple[ClientSentence, ...]  # the client's own risk talk


@dataclass(frozen=True)
class RiskModel:
    text: TextModel
    stackers: dict[str, Stacker]
    min_client_words: int
    min_text_risk: float

    @property
    def name(self) -> str:
        return str(self.text.meta.get("name", "risk-model"))

    def class_probabilities(self, documents: Sequence[str]) -> np.ndarray:
        """(documents, 3) probabilities in `CLASSES` order, whatever order the text model stored."""
        columns = [self.text.classes.index(label) for label in CLASSES]
        return self.text.predict_proba(documents)[:, columns]

    def assess(self, turns: Sequence[Turn], hits: Iterable[RiskHit]) -> SessionRisk | None:
        """Both stackers' probabilities for the session; None when the model does not judge it (the
        client said little, or never spoke of their own death, suicide or self-harm)."""
        talk = ClientTalk.of(turns)
        if not judges(talk, self.min_client_words):
            return None
        session = self.class_probabilities([talk.document])[0]
        features = stack_features(session, RuleSummary.of(hits), talk)
        return SessionRisk(float(1.0 - session[0]), self.stackers[ANY_RISK].probability(features),
                           self.stackers[SELF_HARM].probability(features), talk.own)

    def strongest(self, sentences: Sequence[ClientSentence], category: RiskCategory) -> tuple[ClientSentence, ...]:
        """The sentences the text model scores highest for `category`, best first."""
        probabilities = self.class_probabilities([model_text(s.sentence.text) for s in sentences])
        scores = probabilities[:, 2] if category is RiskCategory.self_harm else 1.0 - probabilities[:, 0]
        ranked = sorted(zip(sentences, scores, strict=True),
                        key=lambda item: (-item[1], item[0].sentence.segment_index, item[0].sentence.start))
        return tuple(sentence for sentence, _ in ranked[:_MAX_EVIDENCE])

    def save(self, path: Path) -> None:
        meta = {**self.text.meta, "format": FORMAT, "min_client_words": self.min_client_words,
                "min_text_risk": self.min_text_risk,
                "stackers": {key: stacker.as_json() for key, stacker in self.stackers.items()}}
        dataclasses.replace(self.text, meta=meta).save(path)

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        text = TextModel.load(path)
        if text.meta.get("format") != FORMAT or set(text.classes) != set(CLASSES):
            raise ValueError(f"{path}: not a {FORMAT} artifact")
        stackers = {key: Stacker.from_json(data) for key, data in text.meta["stackers"].items()}
        return cls(text, stackers, int(text.meta["min_client_words"]), float(text.meta["min_text_risk"]))


@lru_cache(maxsize=1)
def shipped_model() -> RiskModel:
    return RiskModel.load(MODEL_PATH)


# ---------------------------------------------------------------- from probabilities to flags
@dataclass(frozen=True)
class ModelFinding:
    """One category the model would flag, with what to quote."""

    category: RiskCategory
    probability: float
    threshold: float
    quotes: tuple[ClientSentence, ...]

    @property
    def severity(self) -> RiskLevel:
        return RiskLevel.medium if self.probability >= _MEDIUM_FROM else RiskLevel.low

    @property
    def confidence(self) -> float:
        return round(min(self.probability, _MAX_CONFIDENCE), 2)


def model_findings(model: RiskModel, turns: Sequence[Turn], hits: Iterable[RiskHit]) -> list[ModelFinding]:
    """Suicidal ideation when the any-risk stacker passes its threshold; self-harm when, in addition,
    the behaviour stacker passes its own (C-SSRS behaviour and attempts imply ideation)."""
    risk = model.assess(turns, hits)
    if risk is None or risk.text_risk < model.min_text_risk:
        return []
    passed: list[tuple[RiskCategory, float, float]] = []
    any_threshold = model.stackers[ANY_RISK].threshold
    if risk.any_risk >= any_threshold:
        passed.append((RiskCategory.suicidal_ideation, risk.any_risk, any_threshold))
        sh_threshold = model.stackers[SELF_HARM].threshold
        if risk.self_harm >= sh_threshold:
            passed.append((RiskCategory.self_harm, risk.self_harm, sh_threshold))
    return [ModelFinding(category, probability, threshold, model.strongest(risk.quotable, category))
            for category, probability, threshold in passed]


def evidence_quote(sentence: Sentence) -> str:
    """The sentence, or for a long one the words around its first risk-topic word; always verbatim."""
    match = _RISK_TOPIC.search(sentence.text)
    start, end = (match.start(), match.end()) if match else (0, 0)
    return quote_around(sentence, start, end)
