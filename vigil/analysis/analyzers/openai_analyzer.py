"""Analysis by a chat model over the official `openai` SDK (OpenAI or any OpenAI-compatible server), with failover.

Two calls per session, which the pipeline runs as separate tasks in parallel: `assess` (risk flags with evidence,
rubric scores) and `summarize` (summary, action items). For each, models are tried in order. Output that is not
usable (malformed JSON, off-schema, or evidence quotes that are not in the cited segment) is asked for again from
the same model at a lower temperature, up to `max_validation_retries` times; transport trouble (429, 5xx, timeout,
connection) and other HTTP errors move on to the next model at once, and a per-model circuit breaker skips a model
that keeps failing. When every model has failed the `fallback` analyzer (the offline rules) answers, its `model`
naming what failed before it; without one the failure is raised.

JSON is asked for with structured outputs: the output model's schema, made strict (`strict_schema`), as a
`json_schema` response format. A server that refuses that format (400 or 422, as OpenAI-compatible servers without
structured outputs do) is asked again at once in JSON mode with the schema in the prompt; once JSON mode gets through,
that model stays in JSON mode for the analyzer's life. `structured_outputs` ("auto", the default; "json_schema";
"json_object") sets this per deployment.

Every failure is appended to `self.failures` as (model, kind, detail), kind "invalid_output" or "transport", so
parse-error rates per model can be read off a long-lived analyzer; the pipeline stores them on the analysis.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

import openai
from openai.types.chat import ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat as ResponseFormatParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, Field, ValidationError

from vigil import telemetry
from vigil.analysis.analyzers.base import Analyzer, CombinedAnalysis
from vigil.analysis.analyzers.strict_schema import strict_json_schema
from vigil.analysis.analyzers.versions import content_version
from vigil.analysis.miti.rubric import load_default_rubric
from vigil.analysis.risk.sentence_risk import RiskSettings
from vigil.analysis.text.evidence import quote_in_text
from vigil.breaker import Breaker, CircuitOpen
from vigil.errors import PermanentError, TransientError
from vigil.schemas.analysis import (
    Evidence,
    PromptSet,
    RiskAssessment,
    RiskFlag,
    RubricDefinition,
    RubricScore,
    SessionSummary,
)
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.schemas.transcripts import AgentTranscript, Segment
from vigil.settings import StructuredOutputs

log = logging.getLogger(__name__)

FIRST_TEMPERATURE = 0.2
RETRY_TEMPERATURE = 0.0
FailureKind = Literal["invalid_output", "transport"]
ResponseFormat = Literal["json_schema", "json_object"]
# What a compatible server without structured outputs answers a `json_schema` response format with.
FORMAT_REFUSED_STATUSES = frozenset({400, 422})
Output = TypeVar("Output", bound=BaseModel)
Result = TypeVar("Result", RiskAssessment, SessionSummary)
# USD per million tokens (input, output) for models we know; others cost what OPENAI_PRICES says, else 0.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {"gpt-4o-mini": (0.15, 0.60), "gpt-4o": (2.50, 10.00),
                                                  "gpt-4.1-mini": (0.40, 1.60), "gpt-4.1": (2.00, 8.00)}


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


class AssessOutput(BaseModel):
    risk_level: RiskLevel
    flags: list[ModelFlag]
    rubric: list[RubricScore]


class SummaryOutput(BaseModel):
    summary: str
    action_items: list[str]


ASSESS_PROMPT = """You review counseling session transcripts for safety risks and session quality.
Read the numbered transcript segments and reply with ONE JSON object and nothing else, matching this JSON schema:
{schema}
Rules:
- risk_level is the highest severity among the flags ("none" when there are no flags).
- Every flag needs at least one evidence item; each quote must be copied verbatim from the segment whose [index]
  you give as segment_index. Never paraphrase or invent quotes.
- Harmless uses of risk words ("my parents would kill me", "cutting back on drinking") are not risks; a plain
  disclosure always is. Speech that talks someone else out of suicide is not the speaker's own risk.
- Score each rubric item below on its scale (integer), each with a one-line rationale; use the item's key.
Rubric "{rubric_name}":
{rubric_items}"""

SUMMARY_PROMPT = """You summarise counseling session transcripts for the counselor's supervisor.
Read the numbered transcript segments and reply with ONE JSON object and nothing else, matching this JSON schema:
{schema}
Rules:
- summary is a few neutral sentences: who sought help with what, what was explored, what was agreed.
- action_items are concrete follow-ups for the counselor (may be empty)."""
# Both analyzers score the same default rubric (MITI 4.2.1); a model reads each item's description.
DEFAULT_RUBRIC = load_default_rubric()


BUILT_IN_PROMPTS = PromptSet(assess=ASSESS_PROMPT, summary=SUMMARY_PROMPT)
PROMPT_VERSION = content_version("prompt", BUILT_IN_PROMPTS.model_dump())


class _InvalidOutput(Exception):
    """The model answered, but not with something usable; asking the same model again may help."""


class _TransportFailure(Exception):
    """The call itself failed; the next model is tried."""


class _FormatRefused(Exception):
    """The server refused the `json_schema` response format; JSON mode may still work. Not a breaker failure."""


@dataclass(frozen=True)
class _Task(Generic[Output]):
    """One of the two calls for one transcript, whichever response format a model gets."""

    name: str  # names the json_schema response format
    output: type[Output]
    system: Callable[[str], str]  # the system prompt, given what fills its {schema}
    transcript: AgentTranscript


class OpenAIAnalyzer(CombinedAnalysis):
    name = "openai"
    prompt_version = PROMPT_VERSION
    default_rubric = DEFAULT_RUBRIC

    def __init__(self, models: list[str], api_key: str, base_url: str | None = None, timeout_seconds: float = 60.0,
                 max_validation_retries: int = 2, fallback: Analyzer | None = None,
                 prices: dict[str, tuple[float, float]] | None = None,
                 structured_outputs: StructuredOutputs = "auto") -> None:
        if not models:
            raise ValueError("OpenAIAnalyzer needs at least one model")
        if not api_key:
            raise ValueError("OpenAIAnalyzer needs an API key")
        if structured_outputs not in ("auto", "json_schema", "json_object"):
            raise ValueError(f"unknown structured_outputs {structured_outputs!r}: auto | json_schema | json_object")
        self.structured_outputs = structured_outputs
        self.json_mode_models: set[str] = set()  # models whose server refused json_schema (auto only)
        self.models = list(models)
        self.max_validation_retries = max_validation_retries
        self.fallback = fallback
        self.prices = {**DEFAULT_PRICES, **(prices or {})}
        self.failures: list[tuple[str, FailureKind, str]] = []
        self.prompts, self.prompt_version = BUILT_IN_PROMPTS, PROMPT_VERSION
        self._breakers = {model: Breaker() for model in self.models}
        self._lock = threading.Lock()  # assess and summarize may run at once on one analyzer
        # Retries are ours (per model, per kind of failure), so the SDK's own are off.
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_seconds, max_retries=0)

    def failure_counts(self) -> dict[tuple[str, FailureKind], int]:
        """(model, kind) → how many failures of that kind the model has had on this analyzer."""
        counts: dict[tuple[str, FailureKind], int] = {}
        for model, kind, _ in self.failures:
            counts[(model, kind)] = counts.get((model, kind), 0) + 1
        return counts

    def with_prompts(self, prompts: PromptSet, version: str) -> OpenAIAnalyzer:
        """A view of this analyzer with other prompts; client, breakers and failure record are shared."""
        view = copy.copy(self)
        view.prompts, view.prompt_version = prompts, version
        return view

    def with_risk_settings(self, risk: RiskSettings) -> OpenAIAnalyzer:
        """The chat model has no thresholds; its offline fallback takes the tenant's risk model and sensitivity."""
        if self.fallback is None:
            return self
        view = copy.copy(self)
        view.fallback = self.fallback.with_risk_settings(risk)
        return view

    def cost(self, model: str, tokens_in: int, tokens_out: int) -> float:
        per_in, per_out = self.prices.get(model, (0.0, 0.0))
        return round((tokens_in * per_in + tokens_out * per_out) / 1_000_000, 6)

    # ------------------------------------------------------------------ the two tasks
    def assess(self, transcript: AgentTranscript, rubric: RubricDefinition | None = None) -> RiskAssessment:
        rubric = rubric or self.default_rubric
        items = "\n".join(f"- {i.key} ({i.label}, {i.scale_min}..{i.scale_max}): {i.description}" for i in rubric.items)
        task = _Task("assess", AssessOutput, transcript=transcript, system=lambda schema: self.prompts.assess.format(
            schema=schema, rubric_name=rubric.name, rubric_items=items))

        def build(output: AssessOutput, model: str, tokens_in: int, tokens_out: int) -> RiskAssessment:
            scales = {item.key: item.scale_max for item in rubric.items}
            return RiskAssessment(
                risk_level=output.risk_level, flags=[_to_flag(flag, transcript) for flag in output.flags],
                rubric=[score.model_copy(update={"scale_max": scales.get(score.key, score.scale_max)})
                        for score in output.rubric],
                model=model, prompt_version=self.prompt_version, tokens_in=tokens_in, tokens_out=tokens_out,
                cost_usd=self.cost(model, tokens_in, tokens_out))

        return self._chain(task, _check_evidence, build, lambda fallback: fallback.assess(transcript, rubric))

    def summarize(self, transcript: AgentTranscript) -> SessionSummary:
        task = _Task("summary", SummaryOutput, transcript=transcript,
                     system=lambda schema: self.prompts.summary.format(schema=schema))

        def build(output: SummaryOutput, model: str, tokens_in: int, tokens_out: int) -> SessionSummary:
            return SessionSummary(summary=output.summary, action_items=output.action_items, model=model,
                                  prompt_version=self.prompt_version, tokens_in=tokens_in, tokens_out=tokens_out,
                                  cost_usd=self.cost(model, tokens_in, tokens_out))

        return self._chain(task, lambda output, transcript: None, build,
                           lambda fallback: fallback.summarize(transcript))

    # ------------------------------------------------------------------ failover
    def _chain(self, task: _Task[Output], check: Callable[[Output, AgentTranscript], None],
               build: Callable[[Output, str, int, int], Result],
               fall_back: Callable[[Analyzer], Result]) -> Result:
        transcript = task.transcript
        outcomes: list[tuple[str, FailureKind, str]] = []  # one per model that failed, this call only
        for model in self.models:
            try:
                output, answered_by, tokens_in, tokens_out = self._ask(model, task, check)
                return build(output, answered_by, tokens_in, tokens_out)
            except _TransportFailure as exc:
                outcomes.append((model, "transport", str(exc)))
            except _InvalidOutput:
                outcomes.append((model, "invalid_output", "invalid_output"))
            log.warning("analysis model failed", extra={"session_id": str(transcript.session_id), "model": model,
                                                        "kind": outcomes[-1][1], "detail": outcomes[-1][2]})
        after = "; ".join(f"{model}: {detail}" for model, _, detail in outcomes)
        if self.fallback is not None:
            result = fall_back(self.fallback)
            return result.model_copy(update={"model": f"{result.model} (after: {after})"})
        if all(kind == "invalid_output" for _, kind, _ in outcomes):
            raise PermanentError(f"no model gave usable output ({after})", code="all_models_invalid_output")
        raise TransientError(f"every analysis model failed ({after})", code="all_models_failed")

    def _ask(self, model: str, task: _Task[Output],
             check: Callable[[Output, AgentTranscript], None]) -> tuple[Output, str, int, int]:
        """One model: its first answer plus up to `max_validation_retries` more when the answer is unusable."""
        for attempt in range(self.max_validation_retries + 1):
            temperature = FIRST_TEMPERATURE if attempt == 0 else RETRY_TEMPERATURE
            response = self._call(model, task, temperature)
            try:
                output = parse_output(response, task.output)
                check(output, task.transcript)
            except _InvalidOutput as exc:
                self._note(model, "invalid_output", str(exc))
                continue
            usage = getattr(response, "usage", None)
            tokens_in, tokens_out = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
            telemetry.current().model_call(model, "ok", tokens_in, tokens_out, self.cost(model, tokens_in, tokens_out))
            return output, getattr(response, "model", None) or model, tokens_in, tokens_out
        raise _InvalidOutput(model)

    def _call(self, model: str, task: _Task[Output], temperature: float) -> object:
        """One request to `model` in the response format it takes; a refused `json_schema` is asked again in JSON
        mode, and once JSON mode got through, the model keeps it."""
        json_mode = self.structured_outputs == "json_object" or model in self.json_mode_models
        response_format: ResponseFormat = "json_object" if json_mode else "json_schema"
        try:
            return self._request(model, task, temperature, response_format)
        except _FormatRefused as exc:
            log.warning("model server refused structured outputs; using JSON mode for this model",
                        extra={"session_id": str(task.transcript.session_id), "model": model, "detail": str(exc)})
        response = self._request(model, task, temperature, "json_object")
        with self._lock:
            self.json_mode_models.add(model)
        return response

    def _request(self, model: str, task: _Task[Output], temperature: float, response_format: ResponseFormat) -> object:
        # The schema is in the prompt only when the response format does not carry it.
        if response_format == "json_schema":
            schema_text = f'(sent as the response format "{task.name}")'
            format_param: ResponseFormatParam = _json_schema_format(task.name, task.output)
        else:
            schema_text, format_param = _schema(task.output), {"type": "json_object"}
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": task.system(schema_text)},
            {"role": "user", "content": _segments_text(task.transcript)}]

        def call() -> object:
            try:
                return self._client.chat.completions.create(model=model, messages=messages, temperature=temperature,
                                                            response_format=format_param)
            except openai.APITimeoutError:
                detail = "timeout"
            except openai.APIConnectionError:
                detail = "connection_error"
            except openai.RateLimitError:
                detail = "rate_limited"
            except openai.APIStatusError as exc:
                if (response_format == "json_schema" and self.structured_outputs == "auto"
                        and exc.status_code in FORMAT_REFUSED_STATUSES):
                    raise _FormatRefused(f"http_{exc.status_code}") from exc
                # 5xx is the provider's trouble; another 4xx (bad key, unknown model) is ours, noted as such.
                detail = f"server_error_{exc.status_code}" if exc.status_code >= 500 else f"http_{exc.status_code}"
            raise TransientError(detail, code=detail)

        try:
            return self._breakers[model].call(call)
        except CircuitOpen:
            detail = "circuit_open"
        except TransientError as exc:
            detail = exc.code or "transport"
        self._note(model, "transport", detail)
        raise _TransportFailure(detail)

    def _note(self, model: str, kind: FailureKind, detail: str) -> None:
        telemetry.current().model_call(model, kind, 0, 0, 0.0)
        if kind == "invalid_output":
            telemetry.current().parse_error("model", model)
        with self._lock:
            self.failures.append((model, kind, detail))


def _schema(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), separators=(",", ":"))


@functools.cache
def _json_schema_format(name: str, model: type[BaseModel]) -> ResponseFormatJSONSchema:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": strict_json_schema(model), "strict": True}}


def _segments_text(transcript: AgentTranscript) -> str:
    roles = transcript.roles.by_speaker if transcript.roles else {}

    def who(speaker: str | None) -> str:
        role = roles.get(speaker or "")
        return f"{speaker} ({role})" if role and role != speaker else speaker or "unknown"

    lines = [f"[{segment.index}] {who(segment.speaker)}: {segment.text}" for segment in transcript.segments]
    return "Transcript segments:\n" + "\n".join(lines)


def parse_output(response: object, schema: type[Output]) -> Output:
    """The response's content validated against `schema`; `_InvalidOutput` naming what was wrong otherwise."""
    choices = getattr(response, "choices", None) or []
    content = choices[0].message.content if choices else None
    if not content:
        raise _InvalidOutput("empty_response")
    try:
        return schema.model_validate(json.loads(content))
    except json.JSONDecodeError as exc:
        raise _InvalidOutput(f"malformed_json: {exc.msg}") from exc
    except ValidationError as exc:
        raise _InvalidOutput(f"schema_invalid: {exc.error_count()} errors") from exc


def _check_evidence(output: AssessOutput, transcript: AgentTranscript) -> None:
    """Every quote must be in the segment it cites: no invented evidence."""
    segments = _segments_by_index(transcript)
    for flag in output.flags:
        for item in flag.evidence:
            segment = segments.get(item.segment_index)
            if segment is None:
                raise _InvalidOutput(f"invented_evidence: no segment {item.segment_index}")
            if not quote_in_text(item.quote.strip(), segment.text):
                raise _InvalidOutput(f"invented_evidence: quote not in segment {item.segment_index}")


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
