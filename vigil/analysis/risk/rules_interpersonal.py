"""Rules for risk between people: harm the speaker may do to others, abuse done to the speaker.

Harm to others needs the speaker as the actor ("I'm going to hurt him"); abuse needs a person
as the actor and the speaker as the one harmed ("my partner hits me"). Figures of speech
("my boss would kill me", "I could kill for a coffee") name no such pair, or only a
hypothetical, and are left alone.
"""

from __future__ import annotations

from vigil.analysis.risk.risk_rules import AGENT, VICTIM, VICTIM_CLOSE, Escalation, RiskRule
from vigil.schemas.enums import RiskCategory, RiskLevel

_OTHERS = RiskCategory.harm_to_others
_ABUSE = RiskCategory.abuse_disclosure
_HIGH, _MEDIUM, _LOW = RiskLevel.high, RiskLevel.medium, RiskLevel.low

_VIOLENT_VERBS = (
    r"(?:kill(?:ing)?|murder(?:ing)?|hurt(?:ing)?|stab(?:bing)?|shoot(?:ing)?|strangl(?:e|ing)|chok(?:e|ing)|"
    r"beat(?:ing)?\s+up|beat(?:ing)?|attack(?:ing)?|harm(?:ing)?|punch(?:ing)?|smash(?:ing)?|hit(?:ting)?)"
)
# "hit me up", "touched me deeply", "beat me at chess": not violence.
_NOT_FIGURATIVE_ME = (
    r"(?!\s+(?:up\b|that\b|deeply|so much|emotionally|in the heart|to the core|to it|at (?:chess|cards|pool|"
    r"\w+ing)|in (?:a|the) (?:race|game|match|final)|by (?:a|\d)|on points|with (?:his|her|their) "
    r"(?:words|kindness|story|music)))"
)
_ABUSE_NOW = (
    r"(?:hits|beats|punches|slaps|kicks|chokes|strangles|shoves|rapes|molests|abuses|assaults|attacks|"
    r"touches|fondles|gropes|burns|bites|threatens|smacks|whips|is hitting|keeps hitting|keeps hurting|"
    r"beats up|locks)"
)
_ABUSE_THEN = (
    r"(?:hit|beat|punched|slapped|kicked|choked|strangled|shoved|raped|molested|abused|assaulted|attacked|"
    r"touched|fondled|groped|burned|burnt|bit|threatened|smacked|whipped|stabbed|beat up|locked|"
    r"pinned|tied up|sexually abused|sexually assaulted)"
)

INTERPERSONAL_RULES: tuple[RiskRule, ...] = (
    # ------------------------------------------------------------ harm to others
    RiskRule(
        "others_intent", _OTHERS, _HIGH, 0.65,
        r"(?:going to|gonna|gon na|will|'ll|plan(?:ning)? to|planned to|about to|intend(?:ing)? to)\s+"
        r"(?:\w+\s+)?(?:kill|murder|hurt|stab|shoot|strangle|choke|beat up|beat the \w+ out of|smash|batter|"
        rf"attack|hit|punch|slap|run over)\s+{VICTIM}",
        "stated intent to harm someone",
    ),
    RiskRule(
        "others_weapon", _OTHERS, _HIGH, 0.7,
        r"(?:bring|bringing|brought|take|taking|took|carry|carrying|carried)\s+(?:a|my|the)\s+(?:gun|knife|"
        r"weapon|rifle|pistol|blade)\s+(?:to|into)\s+(?:school|work|class|the office|campus|his|her|their)"
        r"|shoot\s+up\s+(?:the|my|a)\s+(?:school|office|workplace|place|class)",
        "a weapon aimed at a place or person",
    ),
    RiskRule(
        "others_wish", _OTHERS, _MEDIUM, 0.6,
        r"(?:want|wanted|wanna|feel like|felt like|urges?\s+to|thoughts?\s+(?:of|about)|thinking\s+(?:of|about)|"
        r"thought\s+(?:of|about)|fantasi[sz](?:e|ed|ing)\s+about|dream\s+(?:of|about)|tempted\s+to|ready\s+to|"
        rf"would)\s+(?:to\s+)?(?:really\s+|just\s+)?{_VIOLENT_VERBS}\s+{VICTIM}",
        "wish or thoughts of harming someone",
    ),
    RiskRule(
        "others_perpetration", _OTHERS, _MEDIUM, 0.6,
        r"(?:hit|hits|hitting|beat|beats|beating|punch(?:ed|es|ing)?|slap(?:ped|s|ping)?|chok(?:ed|es|ing)|"
        r"strangl(?:ed|es|ing)|kick(?:ed|s|ing)?|hurt|hurting|attack(?:ed|ing)?|assault(?:ed|ing)?|"
        r"abus(?:ed|e|es|ing)|rap(?:ed|e)|stab(?:bed)?|smack(?:ed|s|ing)?|thump(?:ed)?|bash(?:ed)?|"
        rf"threw \w+ at)\s+{VICTIM_CLOSE}"
        rf"|(?:push|pushed|shove|shoved)\s+{VICTIM_CLOSE}\s+(?:down|around|against|into|over|hard)",
        "violence towards a partner or family member",
        escalation=Escalation.recent_act,
    ),
    RiskRule(
        "others_violent", _OTHERS, _MEDIUM, 0.6,
        r"(?:been|get|gets|got|getting|was|were|become|became|being|am|'m|are|'re|is)\s+(?:\w+\s+)?"
        rf"(?:violent|physical|aggressive|abusive|rough)\s+(?:with|towards?|to|against|around)\s+{VICTIM}"
        r"|<MY>\s+(?:issues?|problems?|history|record|pattern)\s+(?:of|with)\s+(?:violence|hitting|aggression|"
        r"domestic violence|beating)|<MY>\s+(?:violence|violent (?:behaviou?r|outbursts?|temper))\b",
        "violent behaviour towards others",
    ),
    # ------------------------------------------------------------ abuse disclosure
    RiskRule(
        "abuse_ongoing", _ABUSE, _HIGH, 0.7,
        rf"{AGENT}\s+(?:\S+\s+){{0,3}}?{_ABUSE_NOW}\s+<ME>\b{_NOT_FIGURATIVE_ME}"
        rf"|{AGENT}\s+(?:\S+\s+){{0,3}}?threaten(?:s|ed|ing)?\s+to\s+(?:kill|hurt|beat|hit|stab|shoot|strangle|"
        r"choke|rape)\s+<ME>"
        rf"|{AGENT}\s+(?:\S+\s+){{0,3}}?threaten(?:s|ed|ing)?\s+<ME>\s+with\s+(?:a|his|her|their)\s+"
        r"(?:knife|gun|weapon)",
        "current abuse or threats against the speaker",
        subject_led=False,
    ),
    RiskRule(
        "abuse_disclosed", _ABUSE, _MEDIUM, 0.65,
        rf"{AGENT}\s+(?:\S+\s+){{0,3}}?{_ABUSE_THEN}\s+<ME>\b{_NOT_FIGURATIVE_ME}"
        rf"|{AGENT}\s+(?:\S+\s+){{0,2}}?beat\s+(?:the\s+\w+\s+)?out\s+of\s+<ME>"
        rf"|{AGENT}\s+(?:\S+\s+){{0,2}}?forc(?:es|ed)\s+<ME>(?=\s*(?:[.!?,;]|$)|\s+(?:to have sex|into (?:sex|bed)|"
        r"down|to (?:do things|touch)))",
        "abuse by a named person",
        subject_led=False, escalation=Escalation.recent_act,
    ),
    RiskRule(
        "abuse_victim", _ABUSE, _MEDIUM, 0.65,
        r"<I>\s+(?:was|were|got|get|have been|'ve been|had been|am being|'m being|was being)\s+(?:\w+\s+)?"
        r"(?:sexually |physically |emotionally |verbally )?(?:abused|raped|molested|assaulted|beaten(?: up)?|"
        r"groped|trafficked|strangled|choked|touched inappropriately|attacked|hit|kicked|punched|slapped|"
        r"stalked)\b(?!\s+(?:by (?:a|the) (?:car|bus|truck|ball|wave|virus|flu|bike|van)|with (?:a|the)\s+"
        r"(?:flu|virus|bill|fine|fee)|on\b|up\b|in (?:the|a) (?:game|match|race|final)))",
        "the speaker was abused or assaulted",
        subject_led=False, escalation=Escalation.recent_act,
    ),
    RiskRule(
        "abuse_history_named", _ABUSE, _MEDIUM, 0.55,
        r"(?:history of|experience of|experienced|survivor of|went through|victim of|suffered)\s+(?:\w+\s+)?"
        r"(?:abuse|rape|sexual assault|domestic violence|incest|molestation|trafficking)"
        r"|<MY>\s+(?:\w+\s+)?(?:abuser|rapist|abusive (?:partner|husband|wife|boyfriend|girlfriend|relationship|"
        r"father|dad|mother|mom|parents?|step-?father|ex|home|childhood))"
        r"|(?:in|living in|stuck in|trapped in|left|escaped)\s+(?:an\s+)?abusive\s+(?:relationship|marriage|home|"
        r"household)",
        "abuse named by the speaker",
    ),
    RiskRule(
        "abuse_fear", _ABUSE, _MEDIUM, 0.55,
        r"(?:afraid|scared|terrified|frightened|fear)\s+(?:\w+\s+)?(?:to go (?:back )?home|of going (?:back )?home|"
        r"for my (?:life|safety)|(?:he|she|they)(?:'ll| will| might| is going to| would)\s+(?:kill|hurt|hit|beat)"
        r"\s+<ME>)",
        "fear for own safety at home",
    ),
    RiskRule(
        "abuse_afraid_of", _ABUSE, _LOW, 0.4,
        r"(?:afraid|scared|terrified|frightened)\s+of\s+(?:him|her|<MY> (?:partner|husband|wife|boyfriend|"
        r"girlfriend|dad|father|step-?dad|step-?father|mom|mother|uncle|ex))(?=\s*(?:[.!?,;]|$)|\s+(?:and|because|"
        r"when))",
        "fear of a family member or partner",
    ),
)
