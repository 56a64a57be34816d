"""Contract of the OpenAI analyzer: the real `openai` SDK, driven by OpenAIAnalyzer, against a local server speaking
the Chat Completions protocol (tests/standins/openai_server.py) over 127.0.0.1."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import RecordedTelemetry
from tests.standins.openai_server import OpenAIStandin, serve_openai_standin
from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.analysis.analyzers.openai_analyzer import PROMPT_VERSION, AssessOutput, OpenAIAnalyzer, SummaryOutput
from vigil.analysis.analyzers.strict_schema import strict_json_schema
from vigil.errors import PermanentError, TransientError
from vigil.schemas.enums import RiskCategory, RiskLevel
from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics

API_KEY = "sk-test-openai-3f9a1c77"
SEGMENTS = [
    Segment(index=0, start=0.0, end=3.0, speaker="counselor", text="Hi, thanks for coming in. How have you been?"),
    Segment(index=1, start=3.5, end=8.0, speaker="client",
            text="Honestly not great. I have been thinking about killing myself."),
    Segment(index=2, start=8.5, end=12.0, speaker="counselor", text="Thank you for telling me. Are you safe now?"),
    Segment(index=3, start=12.5, end=15.0, speaker="client", text="I think so, I have not made a plan."),
]
VALID: dict[str, Any] = {
    "risk_level": "high",
    "flags": [{"category": "suicidal_ideation", "severity": "high", "confidence": 0.95,
               "evidence": [{"quote": "thinking about killing myself", "segment_index": 1}],
               "rationale": "The client discloses suicidal thoughts."}],
    "rubric": [{"key": "empathy", "label": "Empathy", "score": 4, "rationale": "Thanked the client."}],
    "summary": "The client disclosed suicidal ideation; the counselor checked safety.",
    "action_items": ["Complete a safety plan."],
}


def transcript() -> AgentTranscript:
    text = " ".join(segment.text for segment in SEGMENTS)
    words = len(text.split())
    return AgentTranscript(session_id=uuid.uuid4(), provider="test", language="en", duration=15.0, text=text,
                           segments=SEGMENTS,
                           metrics=TranscriptMetrics(word_count=words, duration_seconds=15.0,
                                                     speaking_rate_wpm=words * 4.0, mean_confidence=None,
                                                     low_confidence_share=None))


def with_quote(quote: str) -> dict[str, Any]:
    output = copy.deepcopy(VALID)
    output["flags"][0]["evidence"][0]["quote"] = quote
    return output


@pytest.fixture
def standin() -> OpenAIStandin:
    return OpenAIStandin(api_key=API_KEY)


@pytest.fixture
def base_url(standin: OpenAIStandin) -> Iterator[str]:
    with serve_openai_standin(standin) as url:
        yield url


def analyzer(base_url: str, models: tuple[str, ...] = ("model-a", "model-b"), **kwargs: Any) -> OpenAIAnalyzer:
    kwargs.setdefault("timeout_seconds", 1.0)
    return OpenAIAnalyzer(list(models), api_key=API_KEY, base_url=base_url, **kwargs)


def test_valid_output_becomes_a_result_with_times_from_the_segment(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply(with_quote("Thinking About Killing Myself"))  # quotes match case-insensitively
    result = analyzer(base_url).assess(transcript())
    assert result.risk_level is RiskLevel.high
    assert result.model == "model-a" and result.prompt_version == PROMPT_VERSION
    assert (result.tokens_in, result.tokens_out) == (120, 45)
    flag = result.flags[0]
    assert flag.category is RiskCategory.suicidal_ideation
    assert (flag.evidence[0].start, flag.evidence[0].end) == (3.5, 8.0)
    request = standin.requests[0]
    assert request["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "assess", "schema": strict_json_schema(AssessOutput), "strict": True}}
    assert "[1] client: Honestly not great." in request["messages"][1]["content"]
    system = request["messages"][0]["content"]
    assert '"risk_level"' not in system and '(sent as the response format "assess")' in system  # no schema text


def test_malformed_json_is_retried_on_the_same_model_at_lower_temperature(standin: OpenAIStandin,
                                                                           base_url: str) -> None:
    standin.reply('{"risk_level": "high", "flags": [')
    standin.reply(VALID)
    result = analyzer(base_url).assess(transcript())
    assert result.model == "model-a"
    assert [(r["model"], r["temperature"]) for r in standin.requests] == [("model-a", 0.2), ("model-a", 0.0)]


def test_schema_invalid_output_is_retried(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply({**VALID, "risk_level": "catastrophic"})
    standin.reply(VALID)
    subject = analyzer(base_url)
    assert subject.assess(transcript()).model == "model-a"
    assert len(standin.requests) == 2
    assert subject.failures[0][:2] == ("model-a", "invalid_output")
    assert subject.failures[0][2].startswith("schema_invalid")


def test_each_unusable_answer_is_a_parse_error_of_its_model_and_transport_faults_are_not(
        standin: OpenAIStandin, base_url: str, recorded_telemetry: RecordedTelemetry) -> None:
    standin.reply("not json at all", times=2)
    standin.reply({**VALID, "risk_level": "catastrophic"})  # model-a: first try and both retries unusable
    standin.fail(500)  # model-b: a transport fault, not a parse error
    standin.reply(VALID)
    analyzer(base_url, models=("model-a", "model-b", "model-c")).assess(transcript())
    assert recorded_telemetry.parse_errors == [("model", "model-a")] * 3


def test_invented_evidence_quote_is_invalid_and_retried(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply(with_quote("I bought a rope"))
    standin.reply(VALID)
    subject = analyzer(base_url)
    result = subject.assess(transcript())
    assert result.flags[0].evidence[0].quote == "thinking about killing myself"
    assert subject.failures[0][2].startswith("invented_evidence")


def test_persistent_invalid_output_moves_to_the_next_model(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply("not json at all", times=3)  # first try + 2 retries on model-a
    standin.reply(VALID)
    result = analyzer(base_url).assess(transcript())
    assert result.model == "model-b"
    assert [r["model"] for r in standin.requests] == ["model-a"] * 3 + ["model-b"]


@pytest.mark.parametrize(("status", "detail"), [(429, "rate_limited"), (500, "server_error_500")])
def test_error_status_moves_to_the_next_model(standin: OpenAIStandin, base_url: str, status: int,
                                              detail: str) -> None:
    standin.fail(status)
    standin.reply(VALID)
    subject = analyzer(base_url)
    assert subject.assess(transcript()).model == "model-b"
    assert [r["model"] for r in standin.requests] == ["model-a", "model-b"]
    assert subject.failures == [("model-a", "transport", detail)]


def test_timeout_moves_to_the_next_model(standin: OpenAIStandin, base_url: str) -> None:
    standin.stall(3.0)
    standin.reply(VALID)
    subject = analyzer(base_url, timeout_seconds=1.0)
    assert subject.assess(transcript()).model == "model-b"
    assert subject.failures == [("model-a", "transport", "timeout")]


def test_wrong_key_is_noted_and_moves_on(standin: OpenAIStandin, base_url: str) -> None:
    subject = OpenAIAnalyzer(["model-a"], api_key="sk-wrong", base_url=base_url, timeout_seconds=1.0)
    with pytest.raises(TransientError):
        subject.assess(transcript())
    assert subject.failures == [("model-a", "transport", "http_401")]


def test_all_models_failing_falls_back_to_offline_rules(standin: OpenAIStandin, base_url: str) -> None:
    standin.stall(3.0)
    standin.reply("{oops", times=3)
    result = analyzer(base_url, fallback=OfflineAnalyzer()).assess(transcript())
    assert result.model == f"{OfflineAnalyzer().model} (after: model-a: timeout; model-b: invalid_output)"
    assert result.prompt_version == "offline-v4"
    assert RiskCategory.suicidal_ideation in {flag.category for flag in result.flags}


def test_all_models_failing_without_fallback_raises_transient(standin: OpenAIStandin, base_url: str) -> None:
    standin.fail(500)
    standin.fail(429)
    with pytest.raises(TransientError) as caught:
        analyzer(base_url).assess(transcript())
    assert caught.value.code == "all_models_failed"
    assert API_KEY not in str(caught.value)


def test_only_invalid_output_without_fallback_is_permanent(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply("[]", times=2)
    subject = analyzer(base_url, models=("model-a",), max_validation_retries=1)
    with pytest.raises(PermanentError):
        subject.assess(transcript())


def test_failures_record_kinds_per_model(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply("nope", times=3)
    standin.fail(500)
    standin.reply(json.dumps(VALID))
    subject = analyzer(base_url, models=("model-a", "model-b", "model-c"))
    assert subject.assess(transcript()).model == "model-c"
    assert [(model, kind) for model, kind, _ in subject.failures] == [
        ("model-a", "invalid_output")] * 3 + [("model-b", "transport")]
    assert subject.failure_counts() == {("model-a", "invalid_output"): 3, ("model-b", "transport"): 1}


def test_analyzer_openai_is_built_from_settings_with_the_offline_analyzer_last() -> None:
    from vigil.analysis.analyzers.offline import OfflineAnalyzer
    from vigil.analysis.analyzers.registry import build_analyzer
    from vigil.settings import Settings

    analyzer = build_analyzer(Settings(analyzer="openai", openai_api_key="k", openai_models="a, b",
                                       openai_base_url="http://127.0.0.1:9/v1", _env_file=None))
    assert analyzer.name == "openai"
    assert analyzer.models == ["a", "b"] and isinstance(analyzer.fallback, OfflineAnalyzer)  # type: ignore[attr-defined]
    shown = repr(Settings(openai_api_key="sk-secret-value", _env_file=None))
    assert "sk-secret-value" not in shown and "openai_api_key" not in shown


def test_the_structured_outputs_setting_reaches_the_analyzer() -> None:
    from vigil.analysis.analyzers.registry import build_analyzer
    from vigil.settings import Settings

    for mode in ("auto", "json_schema", "json_object"):
        analyzer = build_analyzer(Settings(analyzer="openai", openai_api_key="k", openai_structured_outputs=mode,
                                           _env_file=None))
        assert analyzer.structured_outputs == mode  # type: ignore[attr-defined]


SUMMARY = {"summary": "The client disclosed suicidal thoughts; safety was checked.", "action_items": ["Safety plan."]}


def test_summary_task_is_its_own_call_with_its_own_schema(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply({"summary": 42})  # off-schema: retried at lower temperature
    standin.reply(SUMMARY)
    subject = analyzer(base_url)
    summary = subject.summarize(transcript())
    assert summary.summary.startswith("The client disclosed") and summary.action_items == ["Safety plan."]
    assert [(r["model"], r["temperature"]) for r in standin.requests] == [("model-a", 0.2), ("model-a", 0.0)]
    asked = standin.requests[0]["response_format"]["json_schema"]
    assert asked["name"] == "summary" and asked["schema"] == strict_json_schema(SummaryOutput)
    assert '"flags"' not in json.dumps(asked)
    assert subject.failures[0][2].startswith("schema_invalid")


def test_analyze_combines_both_tasks_with_tokens_and_cost(standin: OpenAIStandin, base_url: str) -> None:
    standin.reply(VALID)
    standin.reply(SUMMARY)
    result = analyzer(base_url, models=("gpt-4o-mini",)).analyze(transcript())
    assert result.risk_level is RiskLevel.high and result.summary == SUMMARY["summary"]
    assert (result.tokens_in, result.tokens_out) == (240, 90)
    # gpt-4o-mini: $0.15 per million tokens in, $0.60 out; two calls of 120 in / 45 out.
    assert result.cost_usd == pytest.approx(2 * (120 * 0.15 + 45 * 0.60) / 1_000_000)


def test_rubric_definition_goes_into_the_prompt_and_scales_come_from_it(standin: OpenAIStandin,
                                                                        base_url: str) -> None:
    from vigil.schemas.analysis import RubricDefinition

    rubric = RubricDefinition.model_validate({"name": "crisis-line v3", "items": [
        {"key": "empathy", "label": "Empathy", "description": "Names the caller's feelings.", "scale_max": 10}]})
    standin.reply(VALID)
    assessment = analyzer(base_url).assess(transcript(), rubric)
    system = standin.requests[0]["messages"][0]["content"]
    assert 'Rubric "crisis-line v3"' in system and "empathy (Empathy, 1..10): Names the caller's feelings." in system
    assert assessment.rubric[0].scale_max == 10


def test_circuit_breaker_skips_a_model_that_keeps_failing(standin: OpenAIStandin, base_url: str) -> None:
    subject = analyzer(base_url, fallback=OfflineAnalyzer())
    for _ in range(3):  # three transport failures in a row open model-a's circuit
        standin.fail(503)
        standin.reply(VALID)
        assert subject.assess(transcript()).model == "model-b"
    requests_before = len(standin.requests)
    standin.reply(VALID)
    assert subject.assess(transcript()).model == "model-b"
    assert [r["model"] for r in standin.requests[requests_before:]] == ["model-b"]  # model-a not even called
    assert subject.failures[-1] == ("model-a", "transport", "circuit_open")


def test_prompt_version_is_the_prompt_content_hash() -> None:
    from vigil.analysis.analyzers.openai_analyzer import ASSESS_PROMPT, SUMMARY_PROMPT
    from vigil.analysis.analyzers.versions import content_version

    assert PROMPT_VERSION == content_version("prompt", {"summary": SUMMARY_PROMPT, "assess": ASSESS_PROMPT})
    assert PROMPT_VERSION.startswith("prompt-") and len(PROMPT_VERSION) == len("prompt-") + 12
    assert content_version("prompt", {"a": 1}) != content_version("prompt", {"a": 2})


def test_a_tenant_prompt_version_is_what_the_model_is_sent(standin: OpenAIStandin, base_url: str) -> None:
    from vigil.schemas.analysis import PromptSet

    prompts = PromptSet(assess="Crisis-line reviewer. Schema {schema}. Rubric {rubric_name}: {rubric_items}",
                        summary="Crisis-line summariser. Schema {schema}.")
    subject = analyzer(base_url).with_prompts(prompts, "prompt-0123456789ab")
    standin.reply(VALID)
    standin.reply(SUMMARY)
    result = subject.analyze(transcript())
    assert result.prompt_version == "prompt-0123456789ab"
    assert standin.requests[0]["messages"][0]["content"].startswith(
        'Crisis-line reviewer. Schema (sent as the response format "assess").')
    assert standin.requests[1]["messages"][0]["content"].startswith("Crisis-line summariser.")


# ------------------------------------------------------------------ structured outputs and JSON mode
def response_formats(standin: OpenAIStandin) -> list[str]:
    return [request["response_format"]["type"] for request in standin.requests]


def test_the_standin_refuses_a_schema_strict_mode_would_refuse(standin: OpenAIStandin, base_url: str) -> None:
    """So the stand-in's acceptance of the analyzer's requests means something: pydantic's own schema is refused."""
    client = openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0)

    def ask(json_schema: dict[str, Any]) -> None:
        client.chat.completions.create(  # type: ignore[call-overload]  # deliberately off the SDK's types
            model="model-a", messages=[{"role": "user", "content": "hi"}],
            response_format={"type": "json_schema", "json_schema": json_schema})

    with pytest.raises(openai.BadRequestError) as refused:
        ask({"name": "assess", "schema": AssessOutput.model_json_schema(), "strict": True})
    assert refused.value.status_code == 400 and "additionalProperties" in refused.value.message
    with pytest.raises(openai.BadRequestError) as nameless:
        ask({"schema": strict_json_schema(AssessOutput), "strict": True})
    assert "json_schema.name" in nameless.value.message
    assert standin.requests and not standin._script, "refused before any scripted behaviour was taken"


def test_a_server_without_structured_outputs_gets_json_mode_with_the_schema_in_the_prompt(
        standin: OpenAIStandin, base_url: str) -> None:
    standin.accepts_json_schema = False
    standin.reply(VALID)
    subject = analyzer(base_url)
    result = subject.assess(transcript())
    assert result.model == "model-a" and result.risk_level is RiskLevel.high
    assert [(r["model"], r["temperature"]) for r in standin.requests] == [("model-a", 0.2), ("model-a", 0.2)]
    assert response_formats(standin) == ["json_schema", "json_object"]
    assert '"risk_level"' in standin.requests[1]["messages"][0]["content"]  # the schema, in the prompt
    assert subject.failures == []  # a refused format is not the model failing


def test_a_model_whose_server_refused_structured_outputs_is_asked_in_json_mode_from_then_on(
        standin: OpenAIStandin, base_url: str) -> None:
    standin.accepts_json_schema = False
    standin.reply(VALID)
    standin.reply(SUMMARY)
    subject = analyzer(base_url)
    subject.assess(transcript())
    subject.summarize(transcript())
    assert response_formats(standin) == ["json_schema", "json_object", "json_object"]
    assert '"action_items"' in standin.requests[2]["messages"][0]["content"]
    assert subject.json_mode_models == {"model-a"}


def test_a_400_that_json_mode_gets_too_is_a_transport_failure_and_not_remembered(standin: OpenAIStandin,
                                                                                   base_url: str) -> None:
    standin.fail(400, times=2)  # model-a refuses the request whatever its response format
    standin.reply(VALID)
    subject = analyzer(base_url)
    assert subject.assess(transcript()).model == "model-b"
    assert [(r["model"], r["response_format"]["type"]) for r in standin.requests] == [
        ("model-a", "json_schema"), ("model-a", "json_object"), ("model-b", "json_schema")]
    assert subject.failures == [("model-a", "transport", "http_400")]
    assert subject.json_mode_models == set()


def test_json_object_setting_sends_json_mode_with_the_schema_in_the_prompt(standin: OpenAIStandin,
                                                                          base_url: str) -> None:
    standin.reply(VALID)
    assert analyzer(base_url, structured_outputs="json_object").assess(transcript()).model == "model-a"
    [request] = standin.requests
    assert request["response_format"] == {"type": "json_object"}
    assert '"risk_level"' in request["messages"][0]["content"]


def test_json_schema_setting_never_falls_back_to_json_mode(standin: OpenAIStandin, base_url: str) -> None:
    standin.accepts_json_schema = False
    subject = analyzer(base_url, structured_outputs="json_schema")
    with pytest.raises(TransientError):
        subject.assess(transcript())
    assert response_formats(standin) == ["json_schema", "json_schema"]
    assert subject.failures == [("model-a", "transport", "http_400"), ("model-b", "transport", "http_400")]


def test_malformed_json_in_json_mode_is_retried_in_json_mode(standin: OpenAIStandin, base_url: str) -> None:
    standin.accepts_json_schema = False
    standin.reply("{not json")
    standin.reply(VALID)
    subject = analyzer(base_url)
    assert subject.assess(transcript()).model == "model-a"
    assert [(r["response_format"]["type"], r["temperature"]) for r in standin.requests] == [
        ("json_schema", 0.2), ("json_object", 0.2), ("json_object", 0.0)]
    assert [(model, kind) for model, kind, _ in subject.failures] == [("model-a", "invalid_output")]


def test_structured_outputs_setting_is_auto_unless_set_to_one_of_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from vigil.settings import Settings

    monkeypatch.delenv("OPENAI_STRUCTURED_OUTPUTS", raising=False)
    assert Settings(_env_file=None).openai_structured_outputs == "auto"  # type: ignore[call-arg]
    monkeypatch.setenv("OPENAI_STRUCTURED_OUTPUTS", "json_object")
    assert Settings(_env_file=None).openai_structured_outputs == "json_object"  # type: ignore[call-arg]
    monkeypatch.setenv("OPENAI_STRUCTURED_OUTPUTS", "grammar")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="structured_outputs"):
        OpenAIAnalyzer(["model-a"], api_key=API_KEY, structured_outputs="grammar")  # type: ignore[arg-type]
