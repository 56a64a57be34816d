"""The `Analyzer` protocol: what every analysis provider (offline rules, OpenAI) offers the pipeline."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vigil.schemas import AgentTranscript, AnalysisResult


@runtime_checkable
class Analyzer(Protocol):
    """Turns one agent-ready transcript into risk flags, rubric scores, a summary and action items."""

    name: str

    def analyze(self, transcript: AgentTranscript) -> AnalysisResult: ...
