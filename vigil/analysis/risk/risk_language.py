"""Reading the words around a risk phrase: whose experience it is, whether it is denied, when.

A rule matches a phrase ("kill myself"); these functions read the clause before it so that
"I would never hurt myself" is a denial while "I never told anyone, but I want to die" is not:
negation only counts inside the phrase's own clause and after its subject.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Person(StrEnum):
    first = "first"  # the speaker: "I", "my"
    second = "second"  # the listener: "you", "your"
    third = "third"  # someone else: "he", "people", "it"
    implicit = "implicit"  # no subject in the clause: "Just want to die."


# Words that end the clause a risk phrase sits in; a negation before them is about something else.
_CLAUSE_BOUNDARY = re.compile(
    r"[,;:()\"“”—–]|\s-+\s|\.\.\.|\b(?:but|although|though|however|yet|except|whereas|because|cause|"
    r"cuz|since|and|or|that|if|when|whenever|unless|until|while|then|even|how|why|what|whether|where|who|which)\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[a-z]+(?:['’][a-z]+)*", re.IGNORECASE)

_FIRST = frozenset("i i'm im i've ive i'd id i'll me my myself".split())
_SECOND = frozenset("you you're youre you've youve you'd youd you'll youll u ur your yourself yours".split())
_THIRD = frozenset(
    "he she they it we he's she's they're it's we're he'd she'd they'd we'd he'll she'll they'll "
    "his her their its our him them someone somebody anyone anybody everyone everybody people person "
    "nobody who whoever those others friends friend".split()
)
_NEGATORS = frozenset(
    "not never no cannot nor neither hardly nothing none "
    "don't dont doesn't doesnt didn't didnt won't wont wouldn't wouldnt can't cant couldn't couldnt "
    "isn't isnt aren't arent wasn't wasnt weren't werent haven't havent hasn't hasnt hadn't hadnt "
    "shouldn't shouldnt mustn't ain't aint avoid avoiding prevent preventing instead without".split()
)
# Negations that do not deny what follows: "I can't stop thinking about killing myself".
_NEGATION_THAT_AFFIRMS = re.compile(
    r"\b(?:can(?:['’]?t|not)|couldn['’]?t|won['’]?t|wouldn['’]?t|don['’]?t|doesn['’]?t|didn['’]?t|never|not)\s+"
    r"(?:stop(?:ped)?|help|shake|escape|resist|control|get (?:rid of|over|past|away from)|seem to stop|"
    r"quit|sure|know(?: (?:why|how|if|whether|what))?)\b"
    r"|\bno (?:one|body) (?:knows|knew|understands|cares)\b|\bno matter\b|\bno longer (?:able|afraid)\b",
    re.IGNORECASE,
)
# How far back (in words, after the subject) a negation may sit and still scope over the phrase.
_NEGATION_REACH = 4
# A clause longer than this with no subject at all is not read as the speaker's own.
_MAX_IMPLICIT_WORDS = 4
# How far back before the clause to look for a subject when the clause has none.
_LOOKBACK_WORDS = 12
_POSSESSIVES = frozenset("my your ur".split())

_HISTORY = re.compile(
    r"\b(?:used to|years? ago|(?:a|one|two|three|four|five|six|ten|few|couple of|many)\s+years?\s+ago|"
    r"when (?:i|you) (?:was|were) (?:younger|little|small|young|a (?:kid|child|teen(?:ager)?|boy|girl)|"
    r"in (?:high|middle|primary|elementary|secondary) school|\d+)|as a (?:kid|child|teen(?:ager)?)|"
    r"in the past|back (?:then|in (?:high school|college|the day)|when)|(?:in|during) (?:high|middle) school|"
    r"(?:my|your) childhood|growing up|in (?:my|your) (?:teens|twenties|youth)|long time ago|"
    r"(?:haven['’]?t|have not|hasn['’]?t)\b.{0,40}\b(?:in|for|since) (?:years|months|a (?:year|long time)))\b",
    re.IGNORECASE,
)
# Said of past thoughts: they are over ("but therapy helped me", "I'm in a better place now").
_RECOVERY = re.compile(
    r"\b(?:(?:therapy|treatment|medication|meds|counsel(?:l)?ing|talking|time|it|that|they|(?:my|a) \w+) "
    r"(?:really )?(?:helped|saved) (?:me|a lot)|got (?:me )?(?:through|past|over) (?:it|that|them)|"
    r"(?:i|i['’]m|i am|you['’]re|things|it) (?:got|get|getting|are|is|am|['’]m)? ?(?:so much |much |a lot )?better|"
    r"recovered|(?:am|['’]m) (?:in a )?(?:good|better|safe) place|(?:it|that|they) passed|"
    r"glad (?:i|that i) (?:didn['’]?t|did not|am still here|['’]m still here|stayed)|"
    r"(?:don['’]?t|do not) (?:feel|think) (?:that|like that|that way) any ?more|not any ?more|no longer)\b",
    re.IGNORECASE,
)
_RECENT = re.compile(
    r"\b(?:last night|yesterday|today|this (?:morning|afternoon|evening|week|weekend)|tonight|earlier|"
    r"just now|an hour ago|hours ago|last (?:week|weekend)|the other (?:day|night)|again|recently|"
    r"right now|still|every (?:day|night)|daily|(?:on |last |this )?(?:mon|tues|wednes|thurs|fri|satur|sun)day"
    r"(?: night| morning| evening)?|(?:a few|two|three|couple of) days ago|days ago)\b",
    re.IGNORECASE,
)
_IMMINENT = re.compile(
    r"\b(?:tonight|tomorrow|this (?:week|weekend|evening)|soon|when (?:everyone|they|he|she)"
    r"(?:['’]s| is| are)? (?:asleep|gone|leaves?|out)|after (?:everyone|they|he|she) (?:leaves?|goes)|"
    r"(?:on|by) (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"(?:pills|gun|rope|note|plan|bridge|method|means)\b)",
    re.IGNORECASE,
)
_MEDICAL_SEVERITY = re.compile(
    r"\b(?:stitches|hospital|a&e|emergency|ambulance|icu|too deep|so deep|deep cuts?|deeply|bled|bleeding|"
    r"blood everywhere|"
    r"passed out|unconscious|stomach pumped|resuscitat\w*|narcan|naloxone)\b",
    re.IGNORECASE,
)


def clause_start(text: str, position: int) -> int:
    """Where the clause holding `position` begins."""
    start = 0
    for boundary in _CLAUSE_BOUNDARY.finditer(text, 0, position):
        start = boundary.end()
    return start


def _tokens(text: str) -> list[str]:
    return [token.lower().replace("’", "'") for token in _TOKEN.findall(text)]


# Discourse markers carry a pronoun that is nobody's subject: "hurting him, you know".
_DISCOURSE_MARKER = re.compile(r"\b(?:you know|you see|i mean|ya know|y'know)\b", re.IGNORECASE)


def subject_person(clause: str, earlier: str = "") -> Person:
    """Whose phrase this is: the nearest person word before it in its clause, else earlier in the sentence.

    `clause` is the clause up to the phrase, `earlier` the sentence before that clause. "my" right
    before the phrase is the speaker's ("my suicidal thoughts"); "my" before another noun names
    someone else ("my boyfriend committed suicide").
    """
    tokens = _tokens(_DISCOURSE_MARKER.sub(" ", clause))
    found = _nearest_person(tokens)
    if found is not None:
        return found
    if len(tokens) > _MAX_IMPLICIT_WORDS:
        return Person.third
    before = _nearest_person(_tokens(_DISCOURSE_MARKER.sub(" ", earlier))[-_LOOKBACK_WORDS:])
    return before if before is not None else Person.implicit


def _nearest_person(tokens: list[str]) -> Person | None:
    for position in range(len(tokens) - 1, -1, -1):
        token = tokens[position]
        followed_by_noun = position < len(tokens) - 1 and tokens[position + 1] != "own"
        if token in _POSSESSIVES and followed_by_noun:
            return Person.third
        if token in _FIRST:
            return Person.first
        if token in _SECOND:
            return Person.second
        if token in _THIRD:
            return Person.third
    return None


def names_person(text: str, person: Person) -> bool:
    """Whether `text` itself says whose it is: "my wrists", "your partner", "myself"."""
    words = _FIRST if person is Person.first else _SECOND
    return any(token in words for token in _tokens(text))


def addresses_listener(text: str) -> bool:
    """Whether the text speaks to or about "you": what makes a counselor's words a reflection."""
    return any(token in _SECOND for token in _tokens(text))


def is_negated(window: str) -> bool:
    """Whether a negation in the clause, after its subject and close to the phrase, denies it."""
    tokens = _tokens(_NEGATION_THAT_AFFIRMS.sub(" ", window))
    after_subject: list[str] = []
    for token in reversed(tokens):
        if token in _FIRST or token in _SECOND or token in _THIRD:
            break
        after_subject.append(token)
    return any(token in _NEGATORS for token in after_subject[:_NEGATION_REACH])


def speaks_of_the_past(sentence: str) -> bool:
    """'used to', 'years ago', 'when I was a kid': history rather than the present."""
    return bool(_HISTORY.search(sentence))


def speaks_of_recovery(sentence: str) -> bool:
    """'but therapy helped me', 'I'm in a better place now': what was felt is said to be over."""
    return bool(_RECOVERY.search(sentence))


def speaks_of_recent_act(sentence: str) -> bool:
    return bool(_RECENT.search(sentence))


def speaks_of_imminence(sentence: str) -> bool:
    """A time frame or a means named alongside ideation: what turns a wish into a plan."""
    return bool(_IMMINENT.search(sentence))


def speaks_of_medical_harm(sentence: str) -> bool:
    return bool(_MEDICAL_SEVERITY.search(sentence))
