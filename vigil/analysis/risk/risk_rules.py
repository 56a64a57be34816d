"""What a risk rule is, the shared vocabulary rules are written in, and how rules are compiled.

Rules are written once, in the speaker's own voice, with person placeholders:
`<I>`, `<IM>` (I'm), `<ME>`, `<MY>`, `<MYSELF>`. Each rule compiles to a first-person form
("I cut myself"), read in a client's turn, and a second-person form ("you cut yourself"),
read in a counselor's turn, where it is the counselor reflecting back what the client said.
A straight apostrophe in a pattern also matches a curly one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from vigil.analysis.risk.risk_language import Person
from vigil.schemas.enums import RiskCategory, RiskLevel


class Escalation(StrEnum):
    """What raises a rule's severity to high when the sentence also says it."""

    none = "none"
    imminence = "imminence"  # a time frame or means alongside ideation ("tonight", "the pills")
    recent_act = "recent_act"  # an act that is recent, ongoing or medically serious


@dataclass(frozen=True)
class RiskRule:
    key: str
    category: RiskCategory
    severity: RiskLevel
    confidence: float
    pattern: str
    describes: str
    # True when the phrase itself does not say whose it is ("want to die"), so the clause's
    # subject must: "I want to die" counts, "people who want to die" does not.
    subject_led: bool = True
    # True for names of a condition ("suicidal thoughts", "self-harm"), which people also use about
    # others or in general: only an explicit "I"/"my" makes them a disclosure.
    needs_named_person: bool = False
    escalation: Escalation = Escalation.none


@dataclass(frozen=True)
class CompiledRule:
    rule: RiskRule
    forms: dict[Person, re.Pattern[str]] = field(hash=False)
    # True when the pattern has person placeholders (my, yourself ...), so the two forms differ.
    has_person_slots: bool = False


_PERSON_FORMS: dict[Person, dict[str, str]] = {
    Person.first: {
        "<MYSELF>": r"(?:my ?self)",
        "<IM>": r"(?:I'm|I am|im)",
        "<MY>": r"(?:my)",
        "<ME>": r"(?:me)",
        "<I>": r"(?:I)",
    },
    Person.second: {
        "<MYSELF>": r"(?:your ?self)",
        "<IM>": r"(?:you're|you are|youre|ur)",
        "<MY>": r"(?:your|ur)",
        "<ME>": r"(?:you)",
        "<I>": r"(?:you)",
    },
}

# ---------------------------------------------------------------- shared vocabulary
PILLS = (
    r"(?:pills|tablets|meds|medications?|sleeping (?:pills|tablets)|painkillers|pain killers|paracetamol|"
    r"tylenol|acetaminophen|ibuprofen|aspirin|xanax|valium|benzos|oxy\w*|opioids|insulin|antidepressants|"
    r"lithium|prescription)"
)
_CLOSE_PEOPLE = (
    r"(?:partner|wife|husband|boyfriend|girlfriend|ex|ex-\w+|missus|misses|fianc[ée]e?|spouse|kids?|"
    r"children|child|baby|babies|son|daughter|step-?(?:son|daughter|kids?)|dad|father|mom|mum|mother|"
    r"brother|sister|family|parents?)"
)
_OTHER_PEOPLE = (
    r"(?:boss|neighbou?r|roommate|flatmate|teacher|coworkers?|co-workers?|colleagues?|manager|"
    r"step-?(?:dad|father|mom|mother)|friends?|cousin|uncle|aunt|auntie|landlord|classmates?)"
)
_EXCLUDE_FIGURATIVE_OBJECT = (
    r"(?!'s|\s+(?:feelings|chances|career|reputation|pride|business|wallet|credit|score|ego|heart|up\b|"
    r"at (?:chess|cards|pool|tennis|golf|\w+ing)|in (?:a|the) (?:race|game|match|final)|to it|back up))"
)
# Whom a threat or act of violence is aimed at.
VICTIM = (
    rf"(?:(?:him|her|them|someone|somebody|anyone|anybody|people|everyone|everybody|others|other people|"
    rf"<MY> (?:\w+ )?(?:{_CLOSE_PEOPLE}|{_OTHER_PEOPLE})|(?:that|this|the) (?:guy|man|woman|bitch|bastard|"
    rf"prick|person|kid|teacher|boss|idiot|asshole|dude|girl|boy))\b{_EXCLUDE_FIGURATIVE_OBJECT})"
)
# Violence inside a family or relationship: the people a perpetration disclosure is about.
VICTIM_CLOSE = rf"(?:(?:him|her|<MY> (?:\w+ )?{_CLOSE_PEOPLE})\b{_EXCLUDE_FIGURATIVE_OBJECT})"
# Who a disclosure of abuse names as the one doing it: a person, never "it" or "that".
AGENT = (
    rf"(?:\b(?:he|she|they|<MY> (?:\w+ )?(?:{_CLOSE_PEOPLE}|{_OTHER_PEOPLE}|coach|priest|pastor|babysitter|"
    r"grandfather|grandpa|grandmother|grandma|carer|caregiver|foster \w+|step-?(?:brother|sister)|tutor|"
    r"doctor|pimp|husband's \w+)|(?:a|an|the|this|that|some) (?:older )?(?:man|guy|woman|boy|stranger|"
    r"teacher|coach|priest|neighbou?r|relative))\b)"
)


def _expand(pattern: str, person: Person) -> str:
    for placeholder, form in _PERSON_FORMS[person].items():
        pattern = pattern.replace(placeholder, form)
    return pattern.replace("'", "['’]")


def compile_rule(rule: RiskRule) -> CompiledRule:
    forms = {
        person: re.compile(rf"\b(?:{_expand(rule.pattern, person)})", re.IGNORECASE)
        for person in (Person.first, Person.second)
    }
    has_person_slots = any(placeholder in rule.pattern for placeholder in _PERSON_FORMS[Person.first])
    return CompiledRule(rule, forms, has_person_slots)
