"""Rules for risk to the speaker themself: suicidal ideation, self-harm, hopelessness.

Severity follows how explicit the disclosure is, in the order a suicide-risk screen
(C-SSRS) asks: a wish to be dead or not wake up is passive ideation (medium); thoughts of
killing oneself are active ideation (medium); a method, preparation, intent or attempt is
high. Hopelessness and feeling a burden are risk factors, not ideation: low, category other.
"""

from __future__ import annotations

from vigil.analysis.risk.risk_rules import PILLS, Escalation, RiskRule
from vigil.schemas.enums import RiskCategory, RiskLevel

_SI = RiskCategory.suicidal_ideation
_SH = RiskCategory.self_harm
_HIGH, _MEDIUM, _LOW = RiskLevel.high, RiskLevel.medium, RiskLevel.low

# Figurative "killing myself": over-work, laughter.
NOT_FIGURATIVE_KILL = (
    r"(?!\s+(?:laughing|trying|working|studying|over (?:this|it|work|nothing)|at (?:the gym|work)|"
    r"to (?:get|finish|make|meet|please|impress|pay)|"
    r"with (?:all )?(?:(?:the|this|that|my|your|these|those) )?(?:work|worry|worrying|stress|overtime|hours|shifts|"
    r"job|studying|training|exams?|deadlines?)))"
)
_NOT_FIGURATIVE_DIE = (
    r"(?!\s+(?:of (?:embarrassment|shame|boredom|laughter|old age)|for\b|laughing|from (?:embarrassment|"
    r"laughing)|happy|trying|with dignity|doing))"
)
# "live with my aunt", "wake up early": living somewhere, not living at all.
_NOT_WHERE_OR_HOW = (
    r"(?!\s+(?:with|in|at|near|there|here|like (?:that|him|her|them)|on\b|alone|together|without|under|"
    r"through|by|somewhere|far|close|abroad|forever|up to|off|early|before|every|so\b|to (?:see|be)))"
)
_ACCIDENTAL = (
    r"(?!\s+(?:off|out\b|some slack|a (?:break|slice|piece|deal|bit)|short|free|loose|up about|while|"
    r"when (?:i |you )?(?:fell|tripped|slipped)|playing|at (?:the|work|gym|practice)|"
    r"in (?:the|a|an|this|that) (?:gym|game|match|accident|kitchen|fall|crash)|on (?:the|a|an|some|my|your)\b|"
    r"lifting|running|training|skiing|cooking|chopping|shaving|falling|by accident|accidentally|during))"
)
SELF_DIRECTED_RULES: tuple[RiskRule, ...] = (
    # ------------------------------------------------------------ suicidal ideation: high
    RiskRule(
        "si_intent", _SI, _HIGH, 0.75,
        r"(?:going to|gonna|gon na|will|'ll|plan(?:ning)? to|planned to|decided to|about to|ready to|"
        r"intend(?:ing)? to)\s+(?:just\s+|finally\s+|really\s+)?(?:kill <MYSELF>|end (?:<MY> (?:own )?life|"
        r"it all|everything)|commit suicide|take <MY> (?:own )?life|hang <MYSELF>|shoot <MYSELF>)"
        + NOT_FIGURATIVE_KILL,
        "stated intent to end own life",
    ),
    RiskRule(
        "si_method", _SI, _HIGH, 0.75,
        r"(?:hang(?:ing|ed)?|shoot(?:ing)?|shot|drown(?:ing|ed)?|poison(?:ing|ed)?|suffocat\w*|gass?(?:ing)?|"
        r"electrocut\w*|stab(?:bing|bed)?|set(?:ting)? fire to)\s+<MYSELF>\b"
        r"(?!\s+(?:in the foot|into|at|out|together|on|under|a question))"
        r"|(?:throw(?:ing)?|threw)\s+<MYSELF>\s+(?:off|from|in front of|under)"
        r"|(?:jump|jumping|jumped|leap\w*|step(?:ping|ped)?)\s+(?:off|from|in front of)\s+(?:a|the|my|that|this)"
        r"\s+(?:\w+\s+)?(?:bridge|building|roof|rooftop|balcony|cliff|train|car|bus|truck|lorry|window|"
        r"overpass|tower|ledge|platform)"
        r"|(?:slit|slitting|slash\w*|cut(?:ting)?|open(?:ing)?)\s+(?:open\s+)?<MY>\s+(?:own\s+)?wrists?"
        r"|(?:gun|pistol|barrel|revolver)\s+(?:\w+\s+){0,3}?(?:to|against|at|in)\s+<MY>\s+(?:own\s+)?(?:head|temple|"
        r"mouth|chest)"
        r"|us(?:e|ing)\s+(?:it|them|a gun|the gun|a knife|the knife|the pills|a rope|the rope)\s+on\s+<MYSELF>"
        r"|(?:overdos\w*|OD)\s+on\s+purpose|(?:drive|drove|driving|crash\w*)\s+(?:<MY>|the)\s+car\s+"
        r"(?:off|into)\s+(?:a|the)",
        "a specific method of suicide",
    ),
    RiskRule(
        "si_preparation", _SI, _HIGH, 0.75,
        rf"(?:saved|saving|stockpil\w*|hoard\w*|stash\w*|been keeping)\s+(?:up\s+)?(?:\w+\s+){{0,3}}?{PILLS}"
        r"|(?:wrote|written|writing|write|left|leave)\s+(?:a|my|the)\s+(?:suicide|goodbye)\s+(?:note|letter)"
        r"|giv(?:e|ing|en)\s+away\s+(?:all\s+)?<MY>\s+(?:things|stuff|belongings|possessions|pets?)"
        rf"|(?:bought|got|buying|getting|purchased|have|found)\s+(?:a\s+|some\s+)?(?:gun|rope|noose|"
        rf"razor blades?|charcoal|helium|{PILLS})\s+(?:to|so (?:that )?<I> (?:can|could))\s+(?:end|kill|"
        r"do it|die|finish)"
        r"|(?:made|making|have|got|had|wrote)\s+(?:a|the|my)\s+(?:suicide\s+)?plan\s+(?:to|for)\s+"
        r"(?:how|when|kill|end|die|suicide|do it)"
        r"|<MY>\s+plan\s+(?:is|was)\s+to\s+(?:kill|end|die|overdose|jump|hang|shoot)"
        r"|(?:plan|planning|planned|prepare|preparing|prepared)\s+(?:for\s+)?<MY>\s+(?:own\s+)?(?:death|suicide|exit)"
        r"|(?:look(?:ed|ing)?\s+up|search(?:ed|ing)?(?:\s+for)?|googl(?:e|ed|ing)|research(?:ed|ing)?)\s+"
        r"(?:\w+\s+){0,2}?(?:how|ways?)\s+to\s+(?:kill <MYSELF>|die|end it|commit suicide|overdose)"
        r"|(?:lethal|fatal|deadly)\s+(?:dose|amount)|painless\s+(?:way|ways|death|suicide|method)"
        rf"|how\s+many\s+{PILLS}\s+(?:it\s+)?(?:would|will|does it)?\s*(?:take|kill)",
        "preparation: means gathered, a plan or a note",
    ),
    RiskRule(
        "si_attempt", _SI, _HIGH, 0.8,
        r"(?:tried|try|trying|attempted|attempt|attempting|tries)\s+(?:to\s+)?(?:kill(?:ing)?\s+<MYSELF>|"
        r"end(?:ing)?\s+<MY>\s+(?:own\s+)?life|end(?:ing)? it(?: all)?(?!\s+with)|commit(?:ting)?\s+suicide|"
        r"tak(?:e|ing)\s+<MY>\s+(?:own\s+)?life|hang(?:ing)?\s+<MYSELF>|overdos(?:e|ing)|OD|suicide)\b"
        r"|suicid(?:e|al)\s+attempts?|attempt(?:s|ed)?\s+on\s+<MY>\s+(?:own\s+)?life",
        "a suicide attempt",
    ),
    # ------------------------------------------------------------ suicidal ideation: medium
    RiskRule(
        "si_kill_myself", _SI, _MEDIUM, 0.8,
        r"(?:kill|killing|killed|murder|murdering|off|offing|end|ending|neck|necking|top|topping|unalive|unaliving)"
        r"\s+<MYSELF>\b(?!\s+all day)" + NOT_FIGURATIVE_KILL,
        "thoughts of killing oneself",
        subject_led=False, escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_end_life", _SI, _MEDIUM, 0.75,
        r"(?:end|ending|ended|take|taking|took|taken)\s+<MY>\s+(?:own\s+)?life\b(?!\s+(?:back|into|in (?:a|my|your|"
        r"another)|seriously|to the next|one day at a time|more seriously|for granted|easy|slowly|day by day))",
        "thoughts of ending own life",
        subject_led=False, escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_suicidal", _SI, _MEDIUM, 0.75,
        r"(?:feel(?:ing|s)?|felt|am|'m|was|been|get|getting|got|become|became|go|went|so|very|really|pretty|"
        r"extremely|quite|actively|passively|always|sometimes|often|kinda|kind of|a bit|a little|still|more|"
        r"most|super|feeling)\s+suicidal\b",
        "feeling suicidal",
        escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_suicidal_thoughts", _SI, _MEDIUM, 0.7,
        r"suicidal\s+(?:thoughts?|ideation|feelings?|urges?|thinking|tendencies|episodes?|ideas?|spells?|phases?|"
        r"periods?|moods?|impulses?)"
        r"|(?:suicide|death)(?:\s*/\s*\w+)?\s+(?:fantas(?:y|ies|ize|izing)|urges?|ideation|wish(?:es)?)"
        r"|(?:commit(?:ting|ted)?|consider(?:ing|ed)?|contemplat(?:e|ing|ed)|think(?:ing)? (?:about|of)|"
        r"thought (?:about|of)|thoughts? (?:of|about)|plan(?:ning|ned)?)\s+(?:of\s+)?suicide",
        "suicidal thoughts",
        needs_named_person=True, escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_wish_dead", _SI, _MEDIUM, 0.7,
        r"(?:want|wanted|wanna|wish|wished|wishing|long|longing|ready|deserve|hope|hoping|pray|praying|urges?)"
        r"\s+(?:to\s+|that\s+<I>\s+(?:could\s+|would\s+)?|<I>\s+(?:could\s+|would\s+)?)?"
        r"(?:just\s+|really\s+|simply\s+)?(?:die|be dead|not (?:be )?(?:alive|exist)|stop existing|"
        r"cease to exist|not wake up|never wake up|disappear forever|sleep forever)\b" + _NOT_FIGURATIVE_DIE
        + r"|wish(?:ed|ing)?\s+(?:that\s+)?<I>\s+(?:was|were|'d|had|could)\s+(?:just\s+)?(?:be\s+)?"
        r"(?:dead|never (?:been )?born|not (?:alive|born|here|around))"
        r"|wish(?:ed|ing)?\s+(?:that\s+)?<I>\s+(?:wasn't|weren't|wasnt|werent)\s+(?:alive|here|around|born)\b"
        r"(?!\s+(?:for|to|when|at|with|in|on))"
        r"|(?:want|wanted|wish|need)\s+(?:it all|everything|my life|life|this life)\s+to\s+(?:just\s+)?"
        r"(?:end|be over)\b(?=\s*(?:[.!?,;]|$)|\s+(?:now|already|for good|forever|soon))"
        r"|(?:rather|better off)\s+(?:just\s+)?(?:be\s+)?dead|rather\s+(?:just\s+)?die\b(?!\s+than)",
        "a wish to be dead",
        escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_not_live", _SI, _MEDIUM, 0.7,
        r"(?:don't|dont|do not|didn't|did not|never|no longer|not)\s+(?:even\s+|really\s+|just\s+)?"
        r"(?:want|wanna|wish)\s+(?:to\s+)?(?:live|be alive|exist|wake up|be on this earth|be in this world|"
        r"be around any ?more|be here any ?more|be here any longer|keep living|go on living|continue living|"
        r"carry on living)\b" + _NOT_WHERE_OR_HOW
        + r"|(?:not sure|unsure|don't know|do not know)\s+(?:if|whether|that)\s+<I>\s+(?:even\s+|really\s+|"
        r"still\s+)?(?:want|wanna|can)\s+(?:to\s+)?(?:live|be alive|keep living|go on living|exist)\b"
        + _NOT_WHERE_OR_HOW
        + r"|(?:don't|dont) (?:know|see) why <I>(?:'m| am) still (?:alive|here)"
        r"|(?:can't|cannot|couldn't)\s+(?:go on|keep|carry on|continue)\s+living",
        "not wanting to live",
        escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_burden_to_others", _SI, _MEDIUM, 0.65,
        r"(?:better off|be better|happier|easier|better)\s+(?:for\s+(?:everyone|everybody|them|you|my family)\s+)?"
        r"(?:without\s+<ME>\b|with\s+<ME>\s+(?:dead|gone)|if\s+<I>\s+(?:was|were|'m|am)\s+(?:just\s+)?(?:dead|gone|"
        r"not (?:here|around|alive)|never born)|if\s+<I>\s+(?:wasn't|weren't|wasnt|werent)\s+(?:here|around|alive)"
        r"|if\s+<I>\s+(?:just\s+)?(?:died|disappeared|killed <MYSELF>|never existed))"
        r"|(?:no ?one|nobody|no-one)\s+(?:would|will|'d|'ll|is going to|gonna|even)\s+(?:even\s+|really\s+|ever\s+)?"
        r"(?:miss\s+<ME>\b|(?:notice|care)\s+(?:if|when)\s+<I>\s+(?:was|were|'m|am)?\s*(?:gone|dead|died|"
        r"disappeared|killed <MYSELF>))",
        "belief that others would be better off if they were dead",
        subject_led=False, escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_no_reason_to_live", _SI, _MEDIUM, 0.65,
        r"(?:(?:can't|cannot|don't) (?:find|see|think of|have)\s+(?:a|any)|no|zero|lost (?:my|the|all))\s+"
        r"(?:good\s+|real\s+)?(?:reasons?|point|purpose|will)\s+(?:in\s+|to\s+|for\s+(?:me\s+)?(?:to\s+)?)?"
        r"(?:living|live|being alive|stay(?:ing)? alive|be alive|go(?:ing)? on living|keep(?:ing)? living|"
        r"exist(?:ing)?)\b"
        r"|what(?:'s| is)\s+the\s+point\s+(?:of|in)\s+(?:living|being alive|going on living|existing)"
        r"|(?:suicide|death|dying|killing <MYSELF>|ending it)\s+(?:is|seems|feels like|looks like)\s+(?:like\s+)?"
        r"(?:the|my)\s+(?:best|only|right|easiest|last)\s+(?:way out|option|answer|choice|solution|escape)"
        r"|(?:die|death|end|end it|life will end)\s+(?:\w+\s+){0,5}?by\s+<MY>\s+own\s+hands?",
        "no reason to live",
        escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_life_not_worth_living", _SI, _MEDIUM, 0.65,
        r"(?:isn't|is not|not|no longer|never|ain't|wasn't)\s+(?:really\s+|even\s+)?worth\s+living",
        "life not worth living",
        subject_led=False, escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_not_wake_up", _SI, _MEDIUM, 0.65,
        r"(?:go|going|fall|falling|went)\s+to\s+sleep\s+and\s+(?:never|not)\s+wake\s+up"
        r"|(?:hope|hoping|wish|pray|praying)\s+(?:that\s+)?<I>\s+(?:don't|won't|never|wouldn't|didn't)\s+wake\s+up",
        "a wish not to wake up",
    ),
    RiskRule(
        "si_thoughts_of_death", _SI, _MEDIUM, 0.55,
        r"(?:thinking|think|thought|thoughts|fantasi[sz]\w*|dream\w*|obsess\w*|preoccupied)\s+(?:about|of|with)\s+"
        r"(?:dying|being dead|ending it(?: all)?|not being (?:here|alive|around)|not waking up|"
        r"ending <MY> life|taking <MY> (?:own )?life)",
        "thoughts of dying",
        escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_end_it", _SI, _MEDIUM, 0.6,
        r"(?:end|ending|finish)\s+it\s+all\b"
        r"|(?:end|ending)\s+(?:it|everything|things)(?=\s*(?:[.!?]|$)|\s+(?:now|tonight|soon|today|for good|"
        r"forever|once and for all))",
        "talk of ending it all",
        escalation=Escalation.imminence,
    ),
    RiskRule(
        "si_disappear", _SI, _LOW, 0.4,
        r"(?:want|wanna|wish|wishing)\s+(?:to\s+|<I>\s+could\s+)?(?:just\s+)?(?:disappear|vanish|fade away)\b"
        r"(?!\s+(?:for a (?:while|bit|day|week|few)|from (?:social media|facebook|instagram|work)|into))",
        "a wish to disappear",
    ),
    # ------------------------------------------------------------ self-harm
    RiskRule(
        "sh_act", _SH, _MEDIUM, 0.75,
        # Looking back: "I'll fall and hurt myself" is an accident.
        r"(?<!fall and )(?<!fell and )(?<!slip and )(?<!trip and )(?<!falling and )"
        r"(?:cut|cuts|cutting|slic(?:e|ed|ing)|scratch(?:ed|es|ing)?|burn(?:ed|t|s|ing)?|hit(?:s|ting)?|"
        r"punch(?:ed|es|ing)?|bang(?:ed|s|ing)?|stab(?:bed|s|bing)?|harm(?:ed|s|ing)?|hurt(?:s|ing)?|"
        r"starv(?:e|ed|es|ing)|bit(?:e|es|ing)?|injur(?:e|ed|es|ing)|mutilat(?:e|ed|es|ing)|"
        r"purg(?:e|ed|ing)|carv(?:e|ed|ing))\s+<MYSELF>\b" + _ACCIDENTAL,
        "hurting oneself on purpose",
        subject_led=False, escalation=Escalation.recent_act,
    ),
    RiskRule(
        "sh_body", _SH, _MEDIUM, 0.7,
        r"(?:cut|cuts|cutting|slash\w*|slic\w+|burn(?:ed|t|ing|s)?|scratch\w*|carv\w*)\s+(?:(?:the\s+)?most\s+)?"
        r"(?:on\s+|into\s+|up\s+)?<MY>\s+(?:left\s+|right\s+|upper\s+|inner\s+)?(?:arms?|forearms?|legs?|thighs?|skin|stomach|belly|hips?|ankles?|body|wrists?|chest)\b"
        r"(?!\s+(?:on (?:a|the|some)|while|when|at work|by accident|accidentally|playing|in the|shaving|"
        r"open (?:on|when)))",
        "cutting or burning own body",
        subject_led=False, escalation=Escalation.recent_act,
    ),
    RiskRule(
        "sh_named", _SH, _MEDIUM, 0.6,
        r"self[- ]?(?:harm\w*|injur\w*|mutilat\w*|inflicted)",
        "self-harm named",
        needs_named_person=True, escalation=Escalation.recent_act,
    ),
    RiskRule(
        "sh_ongoing", _SH, _MEDIUM, 0.7,
        r"(?:been|started|start|starting|keep|kept|began|begun|was|am|'m|back to|relapsed (?:on|into))\s+"
        r"(?:\w+\s+)?(?:cutting|burning|self-harming|self harming)"
        r"(?=\s*(?:[.!?,;]|$)|\s+(?:again|myself|for|since|every|when|because|but|and|to cope|a lot|more|"
        r"daily|lately|recently|at night))",
        "ongoing cutting or burning",
        escalation=Escalation.recent_act,
    ),
    RiskRule(
        "sh_stopped", _SH, _LOW, 0.5,
        r"(?:stopped|quit|haven't|have not|clean from)\s+(?:\w+\s+)?(?:cutting|self[- ]?harm\w*|"
        r"hurting <MYSELF>|burning <MYSELF>)"
        r"|(?:used|use) to (?:cut|self[- ]?harm|burn <MYSELF>|hurt <MYSELF>)\b(?!\s+(?:back|down|out|off|the|it))",
        "past self-harm, now stopped",
    ),
    # ------------------------------------------------------------ risk factors
    RiskRule(
        "other_hopelessness", RiskCategory.other, _LOW, 0.45,
        r"(?:feel(?:s|ing)?|felt|am|'m|was|been|so|completely|totally|utterly|just|really)\s+"
        r"(?:so\s+|completely\s+|totally\s+|utterly\s+|really\s+)?(?:hopeless|worthless|trapped|like a burden)\b"
        r"|(?:everything|life|it all|my life|the future)\s+(?:is|feels|seems|looks|'s)\s+(?:so\s+|completely\s+|"
        r"totally\s+)?(?:hopeless|pointless|meaningless)"
        r"|<IM>\s+(?:just\s+|such\s+)?(?:a|such a|nothing but a)\s+burden"
        r"|(?:can't|cannot)\s+(?:take|do|handle|bear|stand|cope with)\s+(?:it|this|this life|life|any of (?:it|this))"
        r"\s+(?:any ?more|any longer)"
        r"|(?:can't|cannot)\s+(?:go on|keep going|carry on)(?:\s+like this)?(?=\s*(?:[.!?,;]|$)|\s+(?:any ?more|"
        r"any longer))"
        r"|(?:never|not)\s+going\s+to\s+get\s+better|nothing\s+will\s+(?:ever\s+)?get\s+better|no\s+way\s+out",
        "hopelessness or feeling a burden (risk factor)",
    ),
    RiskRule(
        "other_firearm_access", RiskCategory.other, _LOW, 0.4,
        r"(?:have|own|got|bought|buying|buy|get|getting|keep|kept|grab|grabbed|load|loaded)\s+(?:a|my|the|his|"
        r"dad's|an)\s+(?:loaded\s+)?(?:gun|pistol|rifle|shotgun|handgun|firearm)\b",
        "access to a firearm (lethal means)",
    ),
)
