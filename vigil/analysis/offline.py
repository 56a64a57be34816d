"""The offline analyzer: deterministic rules, no network, no model download.

It is the embedded default behind the `Analyzer` protocol. Risk flags come from
`risk_detection`, the rubric from `rubric`, the summary and action items are extracted from the
transcript. Same transcript in, same result out; tokens and cost are always zero.
"""

from __future__ import annotations

from vigil.analysis.action_items import list_action_items
from vigil.analysis.risk_detection import detect_risks
from vigil.analysis.rubric import score_rubric
from vigil.analysis.summary import summarize
from vigil.analysis.turns import read_turns
from vigil.schemas import AgentTranscript, AnalysisResult, RiskLevel

PROMPT_VERSION = "offline-v1"
MODEL = "vigil-offline-rules"


class OfflineAnalyzer:
    name = "offline"
    model = MODEL
    prompt_version = PROMPT_VERSION

    def analyze(self, transcript: AgentTranscript) -> AnalysisResult:
        turns = read_turns(transcript.segments)
        flags = detect_risks(turns)
        rubric = score_rubric(turns, flags)
        risk_level = max((flag.severity for flag in flags), key=lambda level: level.rank, default=RiskLevel.none)
        return AnalysisResult(
            risk_level=risk_level,
            flags=flags,
            rubric=rubric,
            summary=summarize(turns, flags, transcript.duration),
            action_items=list_action_items(turns, flags, rubric),
            model=self.model,
            prompt_version=self.prompt_version,
        )
