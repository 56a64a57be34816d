"""The analyzer protocol: a transcript in, a validated analysis out."""

from __future__ import annotations

from typing import Protocol

from vigil.schemas import AgentTranscript, AnalysisResult


class Analyzer(Protocol):
    name: str

    def analyze(self, transcript: AgentTranscript) -> AnalysisResult: ...
