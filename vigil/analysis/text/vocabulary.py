"""Content words: what is left of a text once stopwords and conversational fillers are removed."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_MIN_LETTERS = 4
STOPWORDS = frozenset(
    """a about above after again against all almost also although always am an and any anyone anything are
    around as at back be because been before being below between both but by can can't cannot could couldn't
    did didn't do does doesn't doing don't done down during each either else enough even ever every everything
    few for from further get gets getting give go goes going gone gonna good got gotta had hadn't has hasn't
    have haven't having he he'd he'll he's her here hers herself him himself his how i i'd i'll i'm i've if in
    into is isn't it it's its itself just kind kinda know like little lot lots make makes making many may maybe
    me mean might mine more most much must my myself need needs never no nor not nothing now of off oh okay ok
    on once one only or other others our ours out over own pretty quite rather really right said same say says
    see seem seems she she'd she'll she's should shouldn't so some something sometimes sort still such sure take
    tell than that that's the their theirs them themselves then there there's these they they'd they'll they're
    they've thing things think this those though through time times to today too try trying uh um umm uh-huh
    under until up upon us use used very wanna want wanted was wasn't way we we'd we'll we're we've well went
    were weren't what what's whatever when where whether which while who whom why will with without won't
    would wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves mm hmm mm-hmm
    actually basically probably definitely stuff feel feeling felt guess let's look looking talk talking
    told thank thanks great alright anyway else lot bit yep nope gonna gotta okay hey wow cause come coming
    came year years day days week weeks last first next another able ago keep keeps keeping kept thinking
    thought start started stop stopped put puts made getting happen happened ask asked""".split()
)


def content_words(text: str) -> list[str]:
    """Lower-cased words of four letters or more that are not stopwords, in order."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    return [w for w in words if len(w) >= _MIN_LETTERS and w not in STOPWORDS]


def fold(word: str) -> str:
    """Fold common English endings so "drink", "drinks" and "drinking" count as one word."""
    for ending in ("ing", "ed", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_LETTERS:
            return word[: -len(ending)]
    return word


def folded_content(text: str) -> set[str]:
    return {fold(word) for word in content_words(text)}
