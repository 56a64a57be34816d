"""Contract of the AssemblyAI provider: the real `assemblyai` SDK, driven by AssemblyAITranscriber, against a
local server speaking AssemblyAI's v2 REST protocol (tests/standins/assemblyai_server.py) over 127.0.0.1.

The stand-in's script is ("A", "hello this is a test"), ("B", "yes it is"): word n starts at 500 + 400n ms and
lasts 300 ms, every word at confidence 0.9.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import assemblyai as aai
import pytest

from tests.conftest import RecordedTelemetry
from tests.standins.assemblyai_server import DEFAULT_SCRIPT, AssemblyAIStandin, completed_transcript, serve_standin
from vigil.errors import InvalidProviderOutput, PermanentError, TransientError, VigilError
from vigil.transcription import fanout
from vigil.transcription.assemblyai_provider import AssemblyAITranscriber
from vigil.transcription.fanout import call_provider

AUDIO = Path(__file__).resolve().parents[2] / "samples" / "checkin-risk.mp3"
# Distinctive, so that a leak into any message is unmistakable.
API_KEY = "aai-test-key-7c41e9b2"
WRONG_KEY = "aai-wrong-key-0d5f3a18"


@pytest.fixture
def standin() -> AssemblyAIStandin:
    return AssemblyAIStandin(api_key=API_KEY)


@pytest.fixture
def base_url(standin: AssemblyAIStandin) -> Iterator[str]:
    with serve_standin(standin) as url:
        yield url


def transcriber(base_url: str, api_key: str = API_KEY, timeout_seconds: float = 5.0) -> AssemblyAITranscriber:
    return AssemblyAITranscriber(api_key=api_key, base_url=base_url, timeout_seconds=timeout_seconds,
                                 poll_interval_seconds=0.05)


# ---------------------------------------------------------------- a completed transcript
def test_words_come_back_in_order_with_times_in_seconds_speakers_and_confidence(base_url: str) -> None:
    result = transcriber(base_url).transcribe(AUDIO)

    assert [w.text for w in result.words] == ["hello", "this", "is", "a", "test", "yes", "it", "is"]
    assert (result.words[0].start, result.words[0].end) == (0.5, 0.8)
    assert (result.words[7].start, result.words[7].end) == (3.3, 3.6)
    assert [w.speaker for w in result.words] == ["A"] * 5 + ["B"] * 3
    assert {w.confidence for w in result.words} == {0.9}


def test_each_utterance_becomes_a_segment_with_its_speaker(base_url: str) -> None:
    result = transcriber(base_url).transcribe(AUDIO)

    assert [(s.index, s.speaker, s.text, s.start, s.end, s.confidence) for s in result.segments] == [
        (0, "A", "hello this is a test", 0.5, 2.4, 0.9),
        (1, "B", "yes it is", 2.5, 3.6, 0.9),
    ]


def test_transcript_names_provider_model_language_duration_and_keeps_the_provider_json(base_url: str) -> None:
    result = transcriber(base_url).transcribe(AUDIO)

    assert (result.provider, result.model, result.language, result.duration) == ("assemblyai", "universal",
                                                                               "en_us", 4.0)
    assert result.raw["status"] == "completed"
    assert result.raw["text"] == "hello this is a test yes it is"
    assert len(result.raw["utterances"]) == 2


def test_the_audio_file_is_uploaded_and_submitted_with_speaker_labels(standin: AssemblyAIStandin,
                                                                      base_url: str) -> None:
    transcriber(base_url).transcribe(AUDIO)

    assert standin.uploads == [AUDIO.read_bytes()]
    assert len(standin.submissions) == 1
    assert standin.submissions[0]["speaker_labels"] is True
    assert standin.submissions[0]["audio_url"].startswith("https://cdn.assemblyai.com/upload/")


def test_the_vocabulary_is_submitted_as_word_boost_at_the_default_weight(standin: AssemblyAIStandin,
                                                                         base_url: str) -> None:
    transcriber(base_url).transcribe(AUDIO, ["Naltrexone", "Bayview Clinic"])

    (submitted,) = standin.submissions
    assert submitted["word_boost"] == ["Naltrexone", "Bayview Clinic"]
    assert submitted["boost_param"] == "default"


def test_without_a_vocabulary_no_word_boost_is_sent(standin: AssemblyAIStandin, base_url: str) -> None:
    transcriber(base_url).transcribe(AUDIO)

    assert "word_boost" not in standin.submissions[0] and "boost_param" not in standin.submissions[0]


def test_a_word_boost_assemblyai_would_refuse_is_a_permanent_rejection(standin: AssemblyAIStandin,
                                                                       base_url: str) -> None:
    """The stand-in refuses a phrase of more than 6 words, as AssemblyAI does; the tenant service never sends one
    (tests/integration/test_vocabulary.py)."""
    with pytest.raises(PermanentError, match="word_boost phrase") as caught:
        transcriber(base_url).transcribe(AUDIO, ["one two three four five six seven"])

    assert caught.value.code == "provider_rejected"


def test_concurrent_calls_each_use_their_own_key_and_leave_the_sdk_global_settings_alone(base_url: str) -> None:
    outcomes: dict[str, object] = {}

    def run(label: str, key: str) -> None:
        try:
            outcomes[label] = transcriber(base_url, api_key=key).transcribe(AUDIO).words[0].text
        except VigilError as exc:
            outcomes[label] = exc.code

    threads = [threading.Thread(target=run, args=(f"{kind}{i}", key))
               for i in range(3) for kind, key in (("good", API_KEY), ("bad", WRONG_KEY))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert outcomes == {**{f"good{i}": "hello" for i in range(3)}, **{f"bad{i}": "provider_auth" for i in range(3)}}
    assert aai.settings.api_key != API_KEY and aai.settings.base_url != base_url


# ---------------------------------------------------------------- client errors are permanent
def test_a_wrong_api_key_is_a_permanent_auth_error(base_url: str) -> None:
    with pytest.raises(PermanentError) as caught:
        transcriber(base_url, api_key=WRONG_KEY).transcribe(AUDIO)

    assert caught.value.code == "provider_auth"
    assert "401" in caught.value.message


def test_a_rejected_submission_is_a_permanent_error(standin: AssemblyAIStandin, base_url: str) -> None:
    standin.fail_next(1, 400, route="submit")

    with pytest.raises(PermanentError) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert caught.value.code == "provider_rejected"


def test_a_transcript_finished_with_status_error_is_permanent_and_carries_the_provider_message(
        standin: AssemblyAIStandin, base_url: str) -> None:
    standin.finish_transcripts_with_error("Transcoding failed. File does not appear to contain audio.")

    with pytest.raises(PermanentError) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert caught.value.code == "provider_transcript_error"
    assert "Transcoding failed. File does not appear to contain audio." in caught.value.message


# ---------------------------------------------------------------- before submission: transient, not retried
def test_rate_limited_upload_is_a_transient_error_and_is_not_retried_by_the_provider(
        standin: AssemblyAIStandin, base_url: str) -> None:
    standin.fail_next(1, 429)

    with pytest.raises(TransientError) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert caught.value.code == "provider_rate_limited"
    assert standin.requests == ["POST /v2/upload"]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_on_submit_is_a_transient_error_and_is_not_retried_by_the_provider(
        standin: AssemblyAIStandin, base_url: str, status: int) -> None:
    standin.fail_next(1, status, route="submit")

    with pytest.raises(TransientError) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert caught.value.code == "provider_unavailable"
    assert str(status) in caught.value.message
    assert standin.requests == ["POST /v2/upload", "POST /v2/transcript"]


def test_an_unreachable_server_is_a_transient_error() -> None:
    with serve_standin(AssemblyAIStandin(api_key=API_KEY)) as closed_url:
        pass

    with pytest.raises(TransientError) as caught:
        transcriber(closed_url).transcribe(AUDIO)

    assert caught.value.code == "provider_unreachable"


# ---------------------------------------------------------------- after submission: polling rides out errors
@pytest.mark.parametrize("status", [429, 503])
def test_errors_while_polling_are_ridden_out_without_resubmitting(standin: AssemblyAIStandin, base_url: str,
                                                                   status: int) -> None:
    standin.fail_next(3, status, route="poll")

    result = transcriber(base_url).transcribe(AUDIO)

    assert result.words[0].text == "hello"
    assert len(standin.uploads) == 1 and len(standin.submissions) == 1


def test_polling_errors_that_outlast_the_budget_are_a_provider_timeout_naming_the_transcript(
        standin: AssemblyAIStandin, base_url: str) -> None:
    standin.fail_next(10**6, 503, route="poll")

    with pytest.raises(TransientError) as caught:
        transcriber(base_url, timeout_seconds=1.0).transcribe(AUDIO)

    assert caught.value.code == "provider_timeout"
    assert "provider_unavailable" in caught.value.message
    assert f"transcript {_submitted_id(standin)}" in caught.value.message


# ---------------------------------------------------------------- answers that break the contract
def test_a_finished_transcript_that_is_not_json_is_transient_invalid_output(standin: AssemblyAIStandin,
                                                                             base_url: str) -> None:
    standin.complete_transcripts_with("<html>502 Bad Gateway</html>")

    with pytest.raises(InvalidProviderOutput) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert isinstance(caught.value, TransientError) and caught.value.code == "provider_invalid_output"
    assert "JSONDecodeError" in caught.value.message
    assert len(standin.uploads) == 1 and len(standin.submissions) == 1


def test_a_field_of_the_wrong_type_is_invalid_output_naming_the_field_but_not_its_value(
        standin: AssemblyAIStandin, base_url: str) -> None:
    standin.complete_transcripts_with({"words": [{"text": "hello", "start": "soon-ish", "end": 800,
                                                  "confidence": 0.9, "speaker": "A"}]})

    with pytest.raises(InvalidProviderOutput) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert "words.0.start" in caught.value.message
    assert "soon-ish" not in caught.value.message


def test_a_confidence_above_one_passes_the_sdk_but_not_vigils_contract(standin: AssemblyAIStandin,
                                                                       base_url: str) -> None:
    words = completed_transcript(DEFAULT_SCRIPT)["words"]
    standin.complete_transcripts_with({"words": [{**words[0], "confidence": 1.7}, *words[1:]]})

    with pytest.raises(InvalidProviderOutput) as caught:
        transcriber(base_url).transcribe(AUDIO)

    assert "words.0.confidence" in caught.value.message


def test_a_broken_answer_is_counted_as_a_parse_error_of_assemblyai(standin: AssemblyAIStandin, base_url: str,
                                                                   recorded_telemetry: RecordedTelemetry) -> None:
    fanout._breakers.clear()  # a breaker opened by another test's failures would skip the calls
    standin.complete_transcripts_with("not json")
    with pytest.raises(InvalidProviderOutput):
        call_provider(transcriber(base_url), AUDIO)
    standin.completed_body = None
    call_provider(transcriber(base_url), AUDIO)

    assert recorded_telemetry.parse_errors == [("speech", "assemblyai")]
    assert recorded_telemetry.provider_calls == [("assemblyai", "provider_invalid_output"), ("assemblyai", "ok")]


# ---------------------------------------------------------------- the overall deadline
def test_a_server_slower_than_the_timeout_is_a_provider_timeout_raised_on_time(standin: AssemblyAIStandin,
                                                                               base_url: str) -> None:
    standin.delay_responses(5.0)

    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        transcriber(base_url, timeout_seconds=1.0).transcribe(AUDIO)

    assert caught.value.code == "provider_timeout"
    assert time.monotonic() - started < 2.0


def test_a_transcript_still_processing_at_the_deadline_is_a_provider_timeout_raised_on_time(
        standin: AssemblyAIStandin, base_url: str) -> None:
    standin.keep_transcripts_processing()

    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        transcriber(base_url, timeout_seconds=1.0).transcribe(AUDIO)

    assert caught.value.code == "provider_timeout"
    assert "last seen: processing" in caught.value.message
    assert time.monotonic() - started < 1.5


# ---------------------------------------------------------------- secrets
SCRIPTED_FAILURES: dict[str, tuple[Callable[[AssemblyAIStandin], None], str]] = {
    "wrong key": (lambda s: None, WRONG_KEY),
    "rate limited": (lambda s: s.fail_next(1, 429), API_KEY),
    "server error": (lambda s: s.fail_next(1, 503), API_KEY),
    "transcript error": (lambda s: s.finish_transcripts_with_error(f"bad audio; key was {API_KEY}"), API_KEY),
    "slow server": (lambda s: s.delay_responses(5.0), API_KEY),
    "broken answer": (lambda s: s.complete_transcripts_with(f"not json; key was {API_KEY}"), API_KEY),
}


@pytest.mark.parametrize("failure", SCRIPTED_FAILURES)
def test_the_api_key_never_appears_in_a_raised_error_or_its_causes(standin: AssemblyAIStandin, base_url: str,
                                                                   failure: str) -> None:
    script, key = SCRIPTED_FAILURES[failure]
    script(standin)

    with pytest.raises(VigilError) as caught:
        transcriber(base_url, api_key=key, timeout_seconds=1.0).transcribe(AUDIO)

    assert key not in "".join(traceback.format_exception(caught.value))
    assert key not in repr(caught.value)


def _submitted_id(standin: AssemblyAIStandin) -> str:
    polled = [r for r in standin.requests if r.startswith("GET /v2/transcript/")]
    return polled[0].rsplit("/", 1)[1]
