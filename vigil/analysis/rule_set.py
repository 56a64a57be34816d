"""Every risk rule, compiled once: what `risk_detection` matches and what `plain_reading` checks for denials."""

from __future__ import annotations

from vigil.analysis.risk_rules import CompiledRule, compile_rule
from vigil.analysis.rules_interpersonal import INTERPERSONAL_RULES
from vigil.analysis.rules_self_directed import SELF_DIRECTED_RULES
from vigil.analysis.rules_substance import SUBSTANCE_RULES

COMPILED_RULES: tuple[CompiledRule, ...] = tuple(
    compile_rule(rule) for rule in (*SELF_DIRECTED_RULES, *INTERPERSONAL_RULES, *SUBSTANCE_RULES)
)
