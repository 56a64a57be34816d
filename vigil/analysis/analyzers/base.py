"""The `Analyzer` protocol: what every analysis provider (offline rules, OpenAI) offers the pipeline.

An analyzer does two independent pieces of model work, which the pipeline runs as separate tasks in
parallel (with refinement and analytics, which are local): `assess` (risk flags with evidence, the
rubric, MITI turn codes) and `summarize` (summary and action items). `analyze` runs both in sequence
for callers that want one combined result (replay, tests).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vigil.analysis.risk.sentence_risk import RiskSettings
from vigil.schemas.analysis import AnalysisResult, PromptSet, RiskAssessment, RubricDefinition, SessionSummary
from vigil.schemas.transcripts import AgentTranscript


@runtime_checkable
class Analyzer(Protocol):
    name: str

    def assess(self, transcript: AgentTranscript, rubric: RubricDefinition | None = None) -> RiskAssessment: ...

    def summarize(self, transcript: AgentTranscript) -> SessionSummary: ...

    def with_prompts(self, prompts: PromptSet, version: str) -> Analyzer:
        """This analyzer with a tenant's prompt version instead of its built-in prompts."""
        ...

    def with_risk_settings(self, risk: RiskSettings) -> Analyzer:
        """This analyzer with a tenant's risk model and sensitivity (analyzers without a risk model ignore them)."""
        ...


def combine(assessment: RiskAssessment, summary: SessionSummary, **extra: object) -> AnalysisResult:
    """One `AnalysisResult` from the two model tasks' outputs (model names joined when they differ)."""
    models = dict.fromkeys([assessment.model, summary.model])
    prompts = dict.fromkeys([assessment.prompt_version, summary.prompt_version])
    return AnalysisResult(
        risk_level=assessment.risk_level, flags=assessment.flags, rubric=assessment.rubric,
        turn_codes=assessment.turn_codes, miti=assessment.miti, summary=summary.summary,
        action_items=summary.action_items, model=" + ".join(models), prompt_version=" + ".join(prompts),
        sensitivity=assessment.sensitivity,
        tokens_in=assessment.tokens_in + summary.tokens_in, tokens_out=assessment.tokens_out + summary.tokens_out,
        cost_usd=round(assessment.cost_usd + summary.cost_usd, 6), **extra)  # type: ignore[arg-type]


class CombinedAnalysis:
    """Mixin: `analyze` = `assess` then `summarize`, combined, for callers that want one result; and
    `with_prompts` and `with_risk_settings`, which analyzers without prompts or a risk model answer with
    themselves."""

    def with_prompts(self, prompts: PromptSet, version: str) -> Analyzer:
        return self  # type: ignore[return-value]

    def with_risk_settings(self, risk: RiskSettings) -> Analyzer:
        return self  # type: ignore[return-value]

    def analyze(self: Analyzer, transcript: AgentTranscript, rubric: RubricDefinition | None = None) -> AnalysisResult:
        return combine(self.assess(transcript, rubric), self.summarize(transcript))
