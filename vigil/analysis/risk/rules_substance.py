"""Rules for substance crises: overdose, injecting, dangerous withdrawal or mixing.

Drinking or using in itself is what many sessions are about; these rules look only for the
acute dangers (an overdose, reversal with naloxone, injecting, seizures on withdrawal,
opioids with alcohol) so that "I'm cutting back on drinking" stays a routine session.
"""

from __future__ import annotations

from vigil.analysis.risk.risk_rules import Escalation, RiskRule
from vigil.schemas.enums import RiskCategory, RiskLevel

_SUBSTANCE = RiskCategory.substance_crisis
_HIGH, _MEDIUM, _LOW = RiskLevel.high, RiskLevel.medium, RiskLevel.low

_DEPRESSANTS = (
    r"(?:pills|benzos|xanax|valium|klonopin|opioids|oxy\w*|heroin|fentanyl|methadone|painkillers|"
    r"sleeping pills|ghb)"
)

SUBSTANCE_RULES: tuple[RiskRule, ...] = (
    RiskRule(
        "substance_overdose", _SUBSTANCE, _HIGH, 0.8,
        r"(?:overdosed|over-dosed|OD'd|OD-ed|ODed|O\.D\.'?d|(?:had|have had|'ve had|suffered|survived|"
        r"nearly died (?:of|from)|almost died (?:of|from))\s+(?:an?\s+|\w+\s+)?(?:overdose|OD)s?)\b",
        "an overdose",
        escalation=Escalation.recent_act,
    ),
    RiskRule(
        "substance_naloxone", _SUBSTANCE, _HIGH, 0.75,
        r"(?:gave|given|had to give|used)\s+<ME>\s+(?:narcan|naloxone)"
        r"|<I>\s+(?:was|got|had to be)\s+(?:narcan(?:n)?ed|revived|resuscitated)",
        "revived with naloxone",
        subject_led=False,
    ),
    RiskRule(
        "substance_withdrawal", _SUBSTANCE, _HIGH, 0.6,
        r"(?:withdrawal|withdrawals|detox(?:ing)?)\s+(?:\w+\s+){0,3}?(?:seizures?|fits|DTs|hallucinat\w+|delirium)"
        r"|(?:seizures?|fits|DTs|delirium tremens)\s+(?:\w+\s+){0,4}?(?:when|if)\s+<I>\s+(?:stop|stopped|don't|"
        r"didn't|quit|try to stop)\s+(?:drinking|using|drink|taking)",
        "dangerous withdrawal",
    ),
    RiskRule(
        "substance_overdose_risk", _SUBSTANCE, _MEDIUM, 0.6,
        r"(?:afraid|scared|worried|concerned|fear(?:ful)?|terrified|nervous|concern)\s+(?:\w+\s+){0,3}?"
        r"(?:overdos\w*|OD(?:'?ing)?\b|dying from (?:using|drugs|drinking))"
        r"|(?:accidental(?:ly)?|nearly|almost|might|could|will|going to|gonna)\s+(?:\w+\s+)?(?:overdos\w*|OD\b)"
        r"|(?:risk|chance)s?\s+(?:of|for)\s+(?:an?\s+)?(?:overdos\w*|OD\b)",
        "risk of overdose",
    ),
    RiskRule(
        "substance_overdose_if", _SUBSTANCE, _MEDIUM, 0.6,
        r"(?:in case|if|before|when)\s+<I>\s+(?:\w+\s+)?(?:overdose|OD)\b",
        "risk of overdose",
        subject_led=False,
    ),
    RiskRule(
        "substance_injecting", _SUBSTANCE, _MEDIUM, 0.6,
        r"(?:inject(?:s|ed|ing)?|mainlin(?:e|ed|es|ing)|(?:use|used|using|share|shared|sharing|reuse|reusing)\s+"
        r"(?:dirty\s+|old\s+|other people's\s+|the same\s+)?(?:needles|syringes|rigs|works))\b"
        r"(?!\s+(?:my |your |the |some )?(?:insulin|vaccines?|medication|testosterone|hormones?|b12|ozempic|"
        r"semaglutide|epi(?:pen)?|botox|filler|fertility))"
        r"|(?:shoot(?:s|ing)?|shot)\s+up(?=\s*(?:[.!?,;]|$)|\s+(?:heroin|drugs|meth|dope|smack|again|every))",
        "injecting drugs",
    ),
    RiskRule(
        "substance_mixing", _SUBSTANCE, _MEDIUM, 0.55,
        rf"mix(?:ing|ed|es)?\s+(?:\w+\s+){{0,2}}?{_DEPRESSANTS}\s+(?:with|and)\s+(?:alcohol|booze|drink\w*|vodka|"
        r"beer|wine)"
        r"|(?:alcohol|booze|drinking)\s+(?:with|and|on top of)\s+(?:my\s+)?(?:benzos|xanax|valium|opioids|oxy\w*|"
        r"methadone|sleeping pills)",
        "mixing depressants with alcohol",
    ),
    RiskRule(
        "substance_fentanyl", _SUBSTANCE, _MEDIUM, 0.55,
        r"(?:using|use|used|took|take|taking|smok\w+|snort\w+|buy\w*|bought)\s+(?:some\s+)?fentanyl"
        r"|fentanyl[- ](?:laced|in it)",
        "fentanyl use",
    ),
)
