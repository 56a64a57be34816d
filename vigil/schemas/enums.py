"""Roles, risk categories and levels: the words every layer shares."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    supervisor = "supervisor"
    lead = "lead"
    uploader = "uploader"
    counselor = "counselor"  # sees only the reviewed results of the sessions they held (vigil.services.counselors)


class RiskCategory(StrEnum):
    suicidal_ideation = "suicidal_ideation"
    self_harm = "self_harm"
    harm_to_others = "harm_to_others"
    abuse_disclosure = "abuse_disclosure"
    substance_crisis = "substance_crisis"
    other = "other"


class RiskLevel(StrEnum):
    """Session-level risk. Ordered: none < low < medium < high."""

    none = "none"
    low = "low"
    medium = "medium"
    high = "high"

    @property
    def rank(self) -> int:
        return ["none", "low", "medium", "high"].index(self.value)
