"""How a counselor's sentence reads: question form, reflection, collaboration, safety inquiry.

These are surface cues in the spirit of MITI coding (open vs closed questions, reflections,
partnership); they count what a coder would most often count, not every nuance.
"""

from __future__ import annotations

import re
from enum import StrEnum

from vigil.analysis.text.sentences import Sentence
from vigil.analysis.text.vocabulary import folded_content


class QuestionForm(StrEnum):
    open = "open"  # "What brings you here?": invites the client's own account
    closed = "closed"  # "Are you drinking every day?": yes/no; as a risk screen it asks, it discloses nothing
    declarative = "declarative"  # "So you've been cutting?": a statement said as a question


# Discourse fillers that come before the words that decide a sentence's form.
_LEADING_FILLER = re.compile(
    r"^(?:(?:and|so|but|well|okay|ok|alright|all right|um+|uh+|er|hmm+|mm-?hmm|right|yeah|yes|now|then|"
    r"just|like|oh|also|anyway|see)\b[\s,.-]*)+",
    re.IGNORECASE,
)
_OPEN_START = re.compile(
    r"^(?:what|how|why|where|when|which|who|whose|tell me|describe|explain|help me understand|"
    r"in what ways?|talk (?:to me )?about|walk me through)\b",
    re.IGNORECASE,
)
_CLOSED_START = re.compile(
    r"^(?:are|am|is|was|were|do|does|did|have|has|had|can|could|would|will|should|shall|may|might|"
    r"must|any|anything|anyone|ever|is there|are there|isn'?t|aren'?t|don'?t|didn'?t|won'?t|wouldn'?t)\b",
    re.IGNORECASE,
)
_REFLECTION_START = re.compile(
    r"^(?:it sounds like|sounds like|it seems(?: like)?|seems like|it looks like|looks like|"
    r"you(?:'re| are) (?:feeling|saying|worried|concerned|thinking|not sure|wondering|tired|frustrated|"
    r"angry|scared|afraid|hoping|ready|struggling|stuck)|you feel|you felt|you(?:'ve| have) been|"
    r"you want|you'd like|you would like|you don'?t want|you think|you said|you mentioned|you told me|"
    r"you noticed|you wish|you hope|you know that|you're|you are|you've|you have|you're not|"
    r"on (?:the )?one hand|on the other hand|what i'?m hearing|i'?m hearing|i hear|part of you|"
    r"for you|in other words|that must|that sounds|must be|i can (?:see|imagine|understand|tell))",
    re.IGNORECASE,
)
# Giving information, advice or warnings: the counselor's own content, not the client's mirrored back.
_ADVICE = re.compile(
    r"\b(?:should|need to|needs to|have to|has to|must|ought to|recommend|suggest|advise|let me|i'?d like|"
    r"i would like|i want you|can i|may i|information|research|studies|study|most people|some people|"
    r"other people|a lot of people|patients|clients|welcome|thank you|thanks|nice to|good to see|"
    r"you can'?t|you won'?t|you'?re going to have to|don'?t you|i'?m (?:worried|concerned)|honestly|"
    r"if you don'?t|or else|you better|i (?:think|feel|wish|hope) (?:that )?you|i need to|"
    r"(?:can|could|will|may|might) (?:have|affect|cause|lead|increase|raise|damage|harm|help|reduce)|"
    r"(?:it'?s|that'?s|is) (?:really |very )?(?:important|dangerous|harmful|bad for|good for|normal for)|"
    r"we (?:recommend|call|know|suggest|usually)|puts? you at|at risk|side effects?|dose|medication|"
    r"the (?:guidelines?|limit|recommended)|a lot of (?:kids|teens|people)|you could (?:try|get|lose|have))\b",
    re.IGNORECASE,
)
_ACKNOWLEDGEMENT = re.compile(
    r"^(?:ok(?:ay)?|all right|alright|right|yeah|yes|yep|mm+(?:-?hmm)?|uh-huh|hmm+|sure|good|great|i see|wow|"
    r"oh|no|excellent|fine|cool|gotcha|of course|absolutely|exactly|true|wonderful|perfect)[\s.!,]*$",
    re.IGNORECASE,
)
# "You've been thinking about this a lot.": the client as subject of a statement.
_CLIENT_AS_SUBJECT = re.compile(r"^(?:you|your)\b", re.IGNORECASE)
# A short statement sharing one content word with what the client just said ("The gym.") mirrors it;
# a longer one must share two.
_SHORT_STATEMENT_WORDS = 12
_COLLABORATION = re.compile(
    r"\b(?:is it (?:okay|ok|alright|all right) if|would it be (?:okay|ok|alright|all right)|"
    r"(?:do|would) you mind if|may i|can i (?:share|ask|tell|offer|give)|would you like (?:to|me to|some)|"
    r"what do you think|what would you like|how would you like|what would (?:work|help|be helpful)|"
    r"it'?s (?:up to you|your (?:choice|decision|call))|(?:your|you get to) (?:choose|decide)|"
    r"together|we could|we can|let'?s|what ideas|what options|how does that sound|does that sound)\b",
    re.IGNORECASE,
)
_PLANNING = re.compile(
    r"\b(?:i(?:'m| am) going to|i'?m gonna|i will|i'll|i plan to|my plan is|i(?:'ve| have) decided to|"
    r"i(?:'m| am) ready to|i could try|i want to (?:try|start|stop|quit|cut|reduce)|(?:your|the|our) plan "
    r"(?:is|would be|will be)|next step|you(?:'ve| have) decided to|you(?:'re| are) going to (?:try|start|stop|"
    r"call|talk|make|cut|reduce|quit|tell|see|book|ask|get|keep|come|go)|you'll (?:try|start|call|talk|make|"
    r"tell|book|ask)|set (?:a|the) (?:date|goal)|make an appointment|(?:by|before) (?:next|this) (?:week|month|"
    r"monday|tuesday|wednesday|thursday|friday|weekend))\b",
    re.IGNORECASE,
)
# "Sometimes I'll buy them at the store" is a habit, "See you next time" a goodbye: neither is a plan.
_NOT_A_PLAN = re.compile(
    r"\b(?:sometimes|usually|always|most times|often|normally|every time|whenever|see you)\b", re.IGNORECASE
)
_SAFETY_INQUIRY = re.compile(
    r"\b(?:suicid\w*|kill(?:ing)? yourself|end(?:ing)? your life|hurt(?:ing)? yourself|harm(?:ing)? yourself|"
    r"self[- ]?harm\w*|cutting|safe(?:ty)?|plan|means|pills|guns?|weapons?|crisis|hotline|helpline|lifeline|"
    r"988|911|999|112|emergency|hospital|a&e|urgent|psychiatrist|doctor|gp|who (?:can|could|would) you "
    r"(?:call|talk to|reach)|reach out|naloxone|narcan|overdos\w*|shelter|protect\w*|keep you safe|"
    r"right now|tonight|police|report|child protection)\b",
    re.IGNORECASE,
)


def strip_leading_filler(text: str) -> str:
    return _LEADING_FILLER.sub("", text.lstrip(" \t\"'“‘-–—")).lstrip()


def question_form(sentence: Sentence) -> QuestionForm | None:
    """The form of a question sentence; None when the sentence is not a question."""
    if not sentence.is_question:
        return None
    core = strip_leading_filler(sentence.text)
    if _OPEN_START.match(core):
        return QuestionForm.open
    if _CLOSED_START.match(core):
        return QuestionForm.closed
    # "I'm wondering, what ...?" / "And then, are you ...?": look at the last clause.
    last_clause = strip_leading_filler(re.split(r"[,;:—–]\s*", core)[-1])
    if _OPEN_START.match(last_clause):
        return QuestionForm.open
    if _CLOSED_START.match(last_clause):
        return QuestionForm.closed
    return QuestionForm.declarative


def is_reflection(sentence: Sentence, client_said: str = "") -> bool:
    """A statement (or statement-shaped question) that mirrors the client's experience back.

    `client_said` is the client's preceding turn, when known: repeating its words is a reflection.
    """
    if question_form(sentence) in (QuestionForm.open, QuestionForm.closed):
        return False
    core = strip_leading_filler(sentence.text)
    if not core or _ACKNOWLEDGEMENT.match(core):
        return False
    if _REFLECTION_START.match(core):
        return True
    if _ADVICE.search(core):
        return False
    if _CLIENT_AS_SUBJECT.match(core):
        return True
    if not client_said:
        return False
    shared = folded_content(core) & folded_content(client_said)
    return len(shared) >= (1 if sentence.word_count <= _SHORT_STATEMENT_WORDS else 2)


def is_acknowledgement(sentence: Sentence) -> bool:
    """"Okay.", "Mm-hmm.", "Right, yeah.": a backchannel, not a question, reflection or input."""
    core = strip_leading_filler(sentence.text)
    return not core.strip(" .,!-") or bool(_ACKNOWLEDGEMENT.match(core))


def is_information_or_advice(sentence: Sentence) -> bool:
    """Telling rather than listening: information, advice, warnings, the counselor's own opinion."""
    return not sentence.is_question and bool(_ADVICE.search(sentence.text))


def is_collaboration(sentence: Sentence) -> bool:
    """Asking permission, eliciting the client's ideas, or stressing their choice."""
    return bool(_COLLABORATION.search(sentence.text))


def is_planning(sentence: Sentence) -> bool:
    """Talk of a concrete next step or commitment."""
    return bool(_PLANNING.search(sentence.text)) and not _NOT_A_PLAN.search(sentence.text)


def is_safety_inquiry(sentence: Sentence) -> bool:
    """A counselor sentence that asks about or attends to safety."""
    return bool(_SAFETY_INQUIRY.search(sentence.text))
