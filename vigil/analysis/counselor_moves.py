"""How a counselor's sentence reads: question form, reflection, collaboration, safety inquiry.

These are surface cues in the spirit of MITI coding (open vs closed questions, reflections,
partnership); they count what a coder would most often count, not every nuance.
"""

from __future__ import annotations

import re
from enum import StrEnum

from vigil.analysis.sentences import Sentence


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
_COLLABORATION = re.compile(
    r"\b(?:is it (?:okay|ok|alright|all right) if|would it be (?:okay|ok|alright|all right)|"
    r"(?:do|would) you mind if|may i|can i (?:share|ask|tell|offer|give)|would you like (?:to|me to|some)|"
    r"what do you think|what would you like|how would you like|what would (?:work|help|be helpful)|"
    r"it'?s (?:up to you|your (?:choice|decision|call))|(?:your|you get to) (?:choose|decide)|"
    r"together|we could|we can|let'?s|what ideas|what options|how does that sound|does that sound)\b",
    re.IGNORECASE,
)
_PLANNING = re.compile(
    r"\b(?:i(?:'m| am) going to|i'?m gonna|i will|i'll|i plan to|my plan is|i(?:'ve| have) decided|"
    r"i(?:'m| am) ready to|i could try|i want to (?:try|start|stop|quit|cut|reduce)|next step|"
    r"your plan|you(?:'re| are) going to|you'll|you will|the plan is|(?:a|the|our) goal|"
    r"by (?:next|this) (?:week|month|monday|tuesday|wednesday|thursday|friday|weekend)|"
    r"next (?:week|time|session|appointment)|make an appointment|set a (?:date|goal))\b",
    re.IGNORECASE,
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


def is_reflection(sentence: Sentence) -> bool:
    """A statement (or statement-shaped question) that mirrors the client's experience back."""
    if question_form(sentence) in (QuestionForm.open, QuestionForm.closed):
        return False
    return bool(_REFLECTION_START.match(strip_leading_filler(sentence.text)))


def is_collaboration(sentence: Sentence) -> bool:
    """Asking permission, eliciting the client's ideas, or stressing their choice."""
    return bool(_COLLABORATION.search(sentence.text))


def is_planning(sentence: Sentence) -> bool:
    """Talk of a concrete next step or commitment."""
    return bool(_PLANNING.search(sentence.text))


def is_safety_inquiry(sentence: Sentence) -> bool:
    """A counselor sentence that asks about or attends to safety."""
    return bool(_SAFETY_INQUIRY.search(sentence.text))
