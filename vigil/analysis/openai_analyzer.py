"""Analysis by a chat model over the official `openai` SDK (OpenAI or any OpenAI-compatible server), with failover.

Models are tried in order. Output that is not usable (malformed JSON, off-schema, or evidence quotes that are not
in the cited segment) is asked for again from the same model at a lower temperature, up to
`max_validation_retries` times; transport trouble (429, 5xx, timeout, connection) and other HTTP errors move on to
the next model at once. When every model has failed the `fallback` analyzer (the offline rules) answers, its
`model` naming what failed before it; without one the failure is raised.

Every failure is appended to `self.failures` as (model, kind, detail), kind "invalid_output" or "transport", so
parse-error rates per model can be read off a long-lived analyzer.
"""

from __future__ import annotations

import json
import logging
from typing import Literal

import openai
from pydantic import BaseModel, Field, ValidationError

from vigil.analysis.base import Analyzer
from vigil.analysis.evidence import quote_in_text
from vigil.errors import PermanentError, TransientError
from vigil.schemas import (
    AgentTranscript,
    AnalysisResult,
    Evidence,
    RiskCategory,
    RiskFlag,
    RiskLevel,
    RubricScore,
    Segment,
)

log = logging.getLogger(__name__)

PROMPT_VERSION = "openai-v1"
FIRST_TEMPERATURE = 0.2
RETRY_TEMPERATURE = 0.0
FailureKind = Literal["invalid_output", "transport"]


# ---------------------------------------------------------------- what the model must return
class ModelEvidence(BaseModel):
    quote: str = Field(min_length=1, description="Verbatim words from the cited segment.")
    segment_index: int = Field(description="The [index] of the segment the quote is from.")


class ModelFlag(BaseModel):
    category: RiskCategory
    severity: RiskLevel
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[ModelEvidence] = Field(min_length=1)
    rationale: str = ""


class ModelOutput(BaseModel):
    risk_level: RiskLevel
    flags: list[ModelFlag]
    rubric: list[RubricScore]
    summary: str
    action_items: list[str]


SYSTEM_PROMPT = """You review counseling session transcripts for safety risks and session quality.
Read the numbered transcript segments and reply with ONE JSON object and nothing else, matching this JSON schema:
{schema}
Rules:
- risk_level is the highest severity among the flags ("none" when there are no flags).
- Every flag needs at least one evidence item; each quote must be copied verbatim from the segment whose [index]
  you give as segment_index. Never paraphrase or invent quotes.
- rubric scores are integers from 1 (poor) to 5 (excellent), each with a short rationale.
- summary is a few neutral sentences; action_items are concrete follow-ups for the counselor."""


class _InvalidOutput(Exception):
    """The model answered, but not with something usable; asking the same model again may help."""


class _TransportFailure(Exception):
    """The call itself failed; the next model is tried."""


class OpenAIAnalyzer:
    name = "openai"
    prompt_version = PROMPT_VERSION

    def __init__(self, models: list[str], api_key: str, base_url: str | None = None, timeout_seconds: float = 60.0,
                 max_validation_retries: int = 2, fallback: Analyzer | None = None) -> None:
        if not models:
            raise ValueError("OpenAIAnalyzer needs at least one model")
        if not api_key:
            raise ValueError("OpenAIAnalyzer needs an API key")
        self.models = list(models)
        self.max_validation_retries = max_validation_retries
        self.fallback = fallback
        self.failures: list[tuple[str, FailureKind, str]] = []
        # Retries are ours (per model, per kind of failure), so the SDK's own are off.
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0)

    def failure_counts(self) -> dict[tuple[str, FailureKind], int]:
        """(model, kind) → how many failures of that kind the model has had on this analyzer."""
        counts: dict[tuple[str, FailureKind], int] = {}
        for model, kind, _ in self.failures:
            counts[(model, kind)] = counts.get((model, kind), 0) + 1
        return counts

    def analyze(self, transcript: AgentTranscript) -> AnalysisResult:
        messages = build_messages(transcript)
        outcomes: list[tuple[str, FailureKind, str]] = []  # one per model that failed, this call only
        for model in self.models:
            try:
                return self._analyze_with(model, transcript, messages)
            except _TransportFailure as exc:
                outcomes.append((model, "transport", str(exc)))
            except _InvalidOutput:
                outcomes.append((model, "invalid_output", "invalid_output"))
            log.warning("analysis model failed", extra={"session_id": str(transcript.session_id), "model": model,
                                                        "kind": outcomes[-1][1], "detail": outcomes[-1][2]})
        after = "; ".join(f"{model}: {detail}" for model, _, detail in outcomes)
        if self.fallback is not None:
            result = self.fallback.analyze(transcript)
            return result.model_copy(update={"model": f"{result.model} (after: {after})"})
        if all(kind == "invalid_output" for _, kind, _ in outcomes):
            raise PermanentError(f"no model gave usable output ({after})", code="all_models_invalid_output")
        raise TransientError(f"every analysis model failed ({after})", code="all_models_failed")

    def _analyze_with(self, model: str, transcript: AgentTranscript, messages: list[dict[str, str]]) -> AnalysisResult:
        """One model: its first answer plus up to `max_validation_retries` more when the answer is unusable."""
        for attempt in range(self.max_validation_retries + 1):
            temperature = FIRST_TEMPERATURE if attempt == 0 else RETRY_TEMPERATURE
            response = self._call(model, messages, temperature)
            try:
                output = parse_output(response, transcript)
            except _InvalidOutput as exc:
                self.failures.append((model, "invalid_output", str(exc)))
                continue
            usage = response.usage
            return AnalysisResult(
                risk_level=output.risk_level,
                flags=[_to_flag(flag, transcript) for flag in output.flags],
                rubric=output.rubric,
                summary=output.summary,
                action_items=output.action_items,
                model=response.model or model,
                prompt_version=PROMPT_VERSION,
                tokens_in=usage.prompt_tokens if usage else 0,
                tokens_out=usage.completion_tokens if usage else 0,
            )
        raise _InvalidOutput(model)

    def _call(self, model: str, messages: list[dict[str, str]], temperature: float) -> object:
        try:
            return self._client.chat.completions.create(model=model, messages=messages,  # type: ignore[arg-type]
                                                        temperature=temperature,
                                                        response_format={"type": "json_object"})
        except openai.APITimeoutError:
            detail = "timeout"
        except openai.APIConnectionError:
            detail = "connection_error"
        except openai.RateLimitError:
            detail = "rate_limited"
        except openai.APIStatusError as exc:
            # 5xx is the provider's trouble; another 4xx (bad key, unknown model) is ours, noted as such.
            detail = f"server_error_{exc.status_code}" if exc.status_code >= 500 else f"http_{exc.status_code}"
        self.failures.append((model, "transport", detail))
        raise _TransportFailure(detail)


def build_messages(transcript: AgentTranscript) -> list[dict[str, str]]:
    schema = json.dumps(ModelOutput.model_json_schema(), separators=(",", ":"))
    lines = [f"[{segment.index}] {segment.speaker or 'unknown'}: {segment.text}" for segment in transcript.segments]
    return [{"role": "system", "content": SYSTEM_PROMPT.format(schema=schema)},
            {"role": "user", "content": "Transcript segments:\n" + "\n".join(lines)}]


def parse_output(response: object, transcript: AgentTranscript) -> ModelOutput:
    """The response's content as a `ModelOutput` whose every quote is in its segment; `_InvalidOutput` otherwise."""
    choices = getattr(response, "choices", None) or []
    content = choices[0].message.content if choices else None
    if not content:
        raise _InvalidOutput("empty_response")
    try:
        output = ModelOutput.model_validate(json.loads(content))
    except json.JSONDecodeError as exc:
        raise _InvalidOutput(f"malformed_json: {exc.msg}") from exc
    except ValidationError as exc:
        raise _InvalidOutput(f"schema_invalid: {exc.error_count()} errors") from exc
    segments = _segments_by_index(transcript)
    for flag in output.flags:
        for item in flag.evidence:
            segment = segments.get(item.segment_index)
            if segment is None:
                raise _InvalidOutput(f"invented_evidence: no segment {item.segment_index}")
            if not quote_in_text(item.quote.strip(), segment.text):
                raise _InvalidOutput(f"invented_evidence: quote not in segment {item.segment_index}")
    return output


def _segments_by_index(transcript: AgentTranscript) -> dict[int, Segment]:
    return {segment.index: segment for segment in transcript.segments}


def _to_flag(flag: ModelFlag, transcript: AgentTranscript) -> RiskFlag:
    """Times come from the transcript's segment, never from the model."""
    segments = _segments_by_index(transcript)
    # Stored stripped: the same quote the check above found, so the pipeline's check finds it too.
    evidence = [Evidence(quote=item.quote.strip(), segment_index=item.segment_index,
                         start=segments[item.segment_index].start, end=segments[item.segment_index].end)
                for item in flag.evidence]
    return RiskFlag(category=flag.category, severity=flag.severity, confidence=flag.confidence, evidence=evidence,
                    rationale=flag.rationale)
