"""Find risk disclosures in a transcript's turns and turn them into flags with verbatim evidence.

Who says a phrase decides whether it counts:
- a client's own words are read in the first person ("I want to die");
- a counselor's words are read in the second person, as a reflection of what the client said
  ("you've been cutting", "So you've been cutting?"), and count less; a question put to the client
  ("Are you having thoughts of ending your life?", "Where did you cut yourself?") only asks, so it
  never counts;
- a turn whose speaker was guessed to be the counselor is also read in the first person, at
  reduced confidence, so a wrong guess cannot hide a client's disclosure.

The rules are joined by the sentence model (`sentence_risk`: a pretrained encoder and a head per category
scoring each client sentence that is not a question), which catches risk said in ways no rule spells out,
combined by recall: a rule's flag always stands, and the model adds the categories the rules did not find,
quoting the sentences that carried its score. Where both flag a category, the rules' severity stands (they
read tense, denial and time frames).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vigil.analysis.risk.plain_reading import model_sentences
from vigil.analysis.risk.risk_language import (
    Person,
    addresses_listener,
    clause_start,
    is_negated,
    names_person,
    speaks_of_imminence,
    speaks_of_medical_harm,
    speaks_of_recent_act,
    speaks_of_recovery,
    speaks_of_the_past,
    subject_person,
)
from vigil.analysis.risk.risk_rules import CompiledRule, Escalation, RiskRule, compile_rule
from vigil.analysis.risk.rules_interpersonal import INTERPERSONAL_RULES
from vigil.analysis.risk.rules_self_directed import SELF_DIRECTED_RULES
from vigil.analysis.risk.rules_substance import SUBSTANCE_RULES
from vigil.analysis.risk.sentence_risk import (
    DEFAULT_SENSITIVITY,
    SentenceEncoder,
    SentenceFinding,
    SentenceRiskModel,
    find_sentence_risks,
    shipped_sentence_model,
)
from vigil.analysis.text.counselor_moves import QuestionForm, question_form
from vigil.analysis.text.sentences import Sentence, quote_around
from vigil.analysis.text.turns import SpeakerRole, Turn
from vigil.schemas.analysis import Evidence, RiskFlag
from vigil.schemas.enums import RiskCategory, RiskLevel

COMPILED_RULES: tuple[CompiledRule, ...] = tuple(
    compile_rule(rule) for rule in (*SELF_DIRECTED_RULES, *INTERPERSONAL_RULES, *SUBSTANCE_RULES)
)
_MAX_EVIDENCE = 3
_MAX_CONFIDENCE = 0.99
_REFLECTION_WEIGHT = 0.6
_GUESSED_COUNSELOR_WEIGHT = 0.8
_GUESSED_CLIENT_WEIGHT = 0.95
_IMPLICIT_SUBJECT_WEIGHT = 0.9
_PAST_WEIGHT = 0.8
_CATEGORY_ORDER = list(RiskCategory)
_LEVELS = list(RiskLevel)
_PAST_NOTE = "described as past"


@dataclass(frozen=True)
class RiskHit:
    """One rule matching one sentence, after negation, person and time have been read."""

    rule: RiskRule
    severity: RiskLevel
    confidence: float
    turn: Turn
    sentence: Sentence
    quote: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class _Reading:
    person: Person
    weight: float
    note: str | None = None


def find_risk_hits(turns: Iterable[Turn]) -> list[RiskHit]:
    hits: list[RiskHit] = []
    for turn in turns:
        for sentence in turn.sentences:
            for reading in _readings(turn, sentence):
                hits.extend(_hits_in_sentence(turn, sentence, reading))
    return hits


def flags_from_hits(hits: Sequence[RiskHit]) -> list[RiskFlag]:
    """One flag per category: severity of the strongest hit, evidence from the best sentences."""
    by_category: dict[RiskCategory, dict[tuple[int, int], RiskHit]] = defaultdict(dict)
    for hit in hits:
        key = (hit.sentence.segment_index, hit.sentence.start)
        kept = by_category[hit.rule.category].get(key)
        if kept is None or _strength(hit) > _strength(kept):
            by_category[hit.rule.category][key] = hit
    flags = [_flag(category, list(group.values())) for category, group in by_category.items()]
    return sorted(flags, key=lambda f: (-f.severity.rank, _CATEGORY_ORDER.index(f.category)))


def _sentence_flag(finding: SentenceFinding, model_name: str) -> RiskFlag:
    evidence = [_evidence(quote_around(item.sentence, 0, 0), item.turn) for item in finding.evidence]
    rationale = (
        f"Sentence model {model_name}: probability {finding.probability:.2f} (flags from {finding.threshold:.2f}) "
        f"from the client's own words; no rule matched. Quoted: the sentences that carried the score."
    )
    return RiskFlag(category=finding.category, severity=finding.severity, confidence=finding.confidence,
                    evidence=evidence, rationale=rationale)


def _evidence(quote: str, turn: Turn) -> Evidence:
    return Evidence(quote=quote, segment_index=turn.segment.index, start=turn.segment.start, end=turn.segment.end)


def detect_risks(turns: Sequence[Turn], encoder: SentenceEncoder | None = None,
                             model: SentenceRiskModel | None = None,
                             sensitivity: str = DEFAULT_SENSITIVITY) -> list[RiskFlag]:
    """Rules and the sentence model (`model`, default the shipped one); `encoder` defaults to the one in this
    process."""
    from vigil.analysis.risk.encoder import shipped_encoder  # onnxruntime and the model: only when encoding here

    model = model or shipped_sentence_model()
    findings = find_sentence_risks(model, model_sentences(turns), encoder or shipped_encoder(), sensitivity)
    flags = {flag.category: flag for flag in flags_from_hits(find_risk_hits(turns))}
    for finding in findings:
        ruled = flags.get(finding.category)
        if ruled is None:
            flags[finding.category] = _sentence_flag(finding, model.name)
        else:  # the rules' severity stands: they read tense, denial and time frames, which the model does not
            agreement = f" The sentence model agrees (p={finding.probability:.2f})."
            flags[finding.category] = ruled.model_copy(update={"rationale": ruled.rationale + agreement})
    return _ordered(flags)


def _ordered(flags: dict[RiskCategory, RiskFlag]) -> list[RiskFlag]:
    _raise_behaviour_with_intent(flags)
    return sorted(flags.values(), key=lambda f: (-f.severity.rank, _CATEGORY_ORDER.index(f.category)))


def _raise_behaviour_with_intent(flags: dict[RiskCategory, RiskFlag]) -> None:
    """Recent or medically serious self-harm alongside suicidal thinking is high (C-SSRS: behaviour with intent)."""
    harm = flags.get(RiskCategory.self_harm)
    if harm is None or harm.severity is RiskLevel.high or RiskCategory.suicidal_ideation not in flags:
        return
    if any(speaks_of_recent_act(e.quote) or speaks_of_medical_harm(e.quote) for e in harm.evidence):
        note = " Recent or serious self-harm alongside suicidal thinking: high (behaviour with intent)."
        flags[RiskCategory.self_harm] = harm.model_copy(update={"severity": RiskLevel.high,
                                                                "rationale": harm.rationale + note})


def _readings(turn: Turn, sentence: Sentence) -> list[_Reading]:
    if turn.role is SpeakerRole.client:
        return [_Reading(Person.first, _GUESSED_CLIENT_WEIGHT if turn.role_inferred else 1.0)]
    readings: list[_Reading] = []
    if question_form(sentence) in (None, QuestionForm.declarative):  # a question put to the client only asks
        readings.append(_Reading(Person.second, _REFLECTION_WEIGHT, "reflected by the counselor"))
    if turn.role_inferred:
        readings.append(_Reading(Person.first, _GUESSED_COUNSELOR_WEIGHT))
    return readings


def _hits_in_sentence(turn: Turn, sentence: Sentence, reading: _Reading) -> list[RiskHit]:
    hits: list[RiskHit] = []
    for compiled in COMPILED_RULES:
        rule = compiled.rule
        if reading.person is Person.second and not (compiled.has_person_slots or rule.subject_led):
            continue  # nothing in the phrase or its clause could say it is about the client
        for match in compiled.forms[reading.person].finditer(sentence.text):
            hit = _read_match(turn, sentence, reading, compiled, match)
            if hit is not None:
                hits.append(hit)
                break  # one hit per rule per sentence is enough evidence
    return hits


def _read_match(
    turn: Turn, sentence: Sentence, reading: _Reading, compiled: CompiledRule, match: re.Match[str]
) -> RiskHit | None:
    rule = compiled.rule
    text = sentence.text
    if reading.person is Person.second and not addresses_listener(text[: match.start()]):
        return None  # "like injuring yourself" in general advice is not about this client
    start = clause_start(text, match.start())
    window = text[start : match.start()]
    weight = reading.weight
    if rule.subject_led:
        # A phrase that names the client itself ("your partner") needs no subject from further back.
        anchored = names_person(match.group(0), reading.person)
        subject = subject_person(window, "" if anchored else text[:start])
        if not _subject_fits(subject, reading.person, anchored, rule.needs_named_person):
            return None
        if subject is Person.implicit:
            weight *= _IMPLICIT_SUBJECT_WEIGHT
    elif not compiled.has_person_slots and subject_person(window, text[:start]) is Person.second:
        return None  # "Are you convinced that life is not worth living?" asks about the listener
    if is_negated(window) or _is_resolved_ideation(rule, text):
        return None
    severity, notes = _severity_in_context(rule, text)
    if _PAST_NOTE in notes:
        weight *= _PAST_WEIGHT
    if reading.note:
        notes = (*notes, reading.note)
    quote = quote_around(sentence, match.start(), match.end())
    return RiskHit(rule, severity, round(rule.confidence * weight, 2), turn, sentence, quote, notes)


def _is_resolved_ideation(rule: RiskRule, text: str) -> bool:
    """Thoughts (not plans, attempts or acts) told as past and over: "I used to think about suicide
    but therapy helped me". What supporters say to people in crisis; history of acts still counts."""
    is_ideation = rule.category is RiskCategory.suicidal_ideation and rule.severity is not RiskLevel.high
    return is_ideation and speaks_of_the_past(text) and speaks_of_recovery(text)


def _subject_fits(subject: Person, reading: Person, anchored: bool, needs_named_person: bool) -> bool:
    if subject is reading:
        return True
    if subject is not Person.implicit or needs_named_person:
        return False
    # A clause without a subject is the speaker's own ("Just want to die."); in a counselor's
    # turn only when the phrase itself points at the client ("being violent towards your partner").
    return reading is Person.first or anchored


def _severity_in_context(rule: RiskRule, text: str) -> tuple[RiskLevel, tuple[str, ...]]:
    if speaks_of_the_past(text):
        return _severity_when_past(rule), (_PAST_NOTE,)
    if rule.escalation is Escalation.imminence and speaks_of_imminence(text):
        return RiskLevel.high, ("time frame or means named",)
    if rule.escalation is Escalation.recent_act and (speaks_of_recent_act(text) or speaks_of_medical_harm(text)):
        return RiskLevel.high, ("recent, ongoing or medically serious",)
    return rule.severity, ()


def _severity_when_past(rule: RiskRule) -> RiskLevel:
    """History still matters (a past attempt is the strongest predictor), so it lowers, never clears."""
    if rule.category in (RiskCategory.abuse_disclosure, RiskCategory.harm_to_others):
        return min(rule.severity, RiskLevel.medium, key=lambda level: level.rank)
    if rule.category is RiskCategory.other:
        return rule.severity
    return _LEVELS[max(1, rule.severity.rank - 1)]


def _strength(hit: RiskHit) -> tuple[int, float]:
    return hit.severity.rank, hit.confidence


def _flag(category: RiskCategory, hits: list[RiskHit]) -> RiskFlag:
    ranked = sorted(hits, key=lambda h: (-h.severity.rank, -h.confidence, h.sentence.segment_index))
    strongest = ranked[0]
    chosen = sorted(ranked[:_MAX_EVIDENCE], key=lambda h: (h.sentence.segment_index, h.sentence.start))
    evidence = [
        Evidence(
            quote=hit.quote,
            segment_index=hit.turn.segment.index,
            start=hit.turn.segment.start,
            end=hit.turn.segment.end,
        )
        for hit in chosen
    ]
    # Independent statements add up: three medium-confidence disclosures are near-certain.
    confidence = 1.0 - math.prod(1.0 - hit.confidence for hit in hits)
    segments = {hit.sentence.segment_index for hit in hits}
    detail = "; ".join((strongest.severity.value, *strongest.notes))
    rationale = (
        f"Strongest: {strongest.rule.describes} ({detail}). "
        f"{len(hits)} statement{'s' if len(hits) != 1 else ''} across {len(segments)} "
        f"segment{'s' if len(segments) != 1 else ''}."
    )
    return RiskFlag(
        category=category,
        severity=strongest.severity,
        confidence=round(min(confidence, _MAX_CONFIDENCE), 2),
        evidence=evidence,
        rationale=rationale,
    )
