"""The offline analyzer: deterministic rules and small shipped models, no network, no model download.

It is the embedded default behind the `Analyzer` protocol. Risk flags come from `risk_detection` (rules and
the sentence model, at the tenant's model and sensitivity: `with_risk_settings`);
counselor turns are coded MITI-style and summarised by `miti`; the rubric (the shipped MITI 4.2.1
definition unless the caller gives another) is scored by `measures`; the summary and action items are
extracted from the transcript. Same transcript in, same result out; tokens and cost are always zero.
"""

from __future__ import annotations

import copy
import threading
from concurrent.futures import Future

from vigil.analysis.analyzers.base import CombinedAnalysis
from vigil.analysis.miti.measures import score_rubric
from vigil.analysis.miti.miti import shipped_models
from vigil.analysis.miti.rubric import load_default_rubric
from vigil.analysis.outputs.action_items import list_action_items
from vigil.analysis.outputs.summary import summarize
from vigil.analysis.risk.risk_detection import detect_risks
from vigil.analysis.risk.sentence_risk import RiskSettings, SentenceEncoder, shipped_sentence_model
from vigil.analysis.text.turns import Turn, read_turns
from vigil.schemas.analysis import RiskAssessment, RiskFlag, RubricDefinition, SessionSummary
from vigil.schemas.enums import RiskLevel
from vigil.schemas.transcripts import AgentTranscript

PROMPT_VERSION = "offline-v4"  # v4: the sentence model in place of the TF-IDF stack
MODEL = "vigil-offline-rules"


class OfflineAnalyzer(CombinedAnalysis):
    name = "offline"
    prompt_version = PROMPT_VERSION
    default_rubric = load_default_rubric()  # what `assess` scores unless given another; the pipeline records it

    def __init__(self, encoder: SentenceEncoder | None = None, risk: RiskSettings | None = None) -> None:
        self.encoder = encoder  # None: the encoder in this process (else e.g. the Ray Serve deployment)
        self.risk = risk or RiskSettings()
        self._lock = threading.Lock()
        self._recent: dict[tuple[object, ...], Future[list[RiskFlag]]] = {}

    @property
    def model(self) -> str:
        return f"{MODEL} + {(self.risk.model or shipped_sentence_model()).name}"

    def with_risk_settings(self, risk: RiskSettings) -> OfflineAnalyzer:
        """The tenant's risk model and sensitivity; a new analyzer sharing the encoder (and nothing cached)."""
        view = copy.copy(self)
        view.risk = risk
        view._lock, view._recent = threading.Lock(), {}
        return view

    def _risks(self, turns: list[Turn]) -> list[RiskFlag]:
        return detect_risks(turns, self.encoder, self.risk.model, self.risk.sensitivity)

    def _flags(self, transcript: AgentTranscript, turns: list[Turn]) -> list[RiskFlag]:
        """The risk flags of this transcript, computed once: `assess` and `summarize` both need them and the
        pipeline runs them at the same time, so the second waits for the first instead of reading it again."""
        key = (transcript.session_id, tuple((s.speaker, s.text) for s in transcript.segments))
        with self._lock:
            future = self._recent.get(key)
            owner = future is None
            if future is None:
                future = self._recent[key] = Future()
                while len(self._recent) > 8:
                    self._recent.pop(next(iter(self._recent)))
        if owner:
            try:
                future.set_result(self._risks(turns))
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    self._recent.pop(key, None)
                raise
        return future.result()

    def assess(self, transcript: AgentTranscript, rubric: RubricDefinition | None = None) -> RiskAssessment:
        turns = read_turns(transcript.segments, transcript.roles)
        flags = self._flags(transcript, turns)
        risk_level = max((flag.severity for flag in flags), key=lambda level: level.rank, default=RiskLevel.none)
        codes, miti = shipped_models().assess(turns)
        return RiskAssessment(risk_level=risk_level, flags=flags,
                              rubric=score_rubric(rubric or self.default_rubric, turns, codes, flags),
                              turn_codes=codes, miti=miti, sensitivity=self.risk.sensitivity,  # type: ignore[arg-type]
                              model=self.model, prompt_version=self.prompt_version)

    def summarize(self, transcript: AgentTranscript) -> SessionSummary:
        # The summary task runs beside the risk task, not after it: it waits for the same flags (`_flags`), and
        # codes the turns itself.
        turns = read_turns(transcript.segments, transcript.roles)
        flags = self._flags(transcript, turns)
        rubric = score_rubric(self.default_rubric, turns, shipped_models().coder.code(turns), flags)
        return SessionSummary(summary=summarize(turns, flags, transcript.duration),
                              action_items=list_action_items(turns, flags, rubric),
                              model=self.model, prompt_version=self.prompt_version)
