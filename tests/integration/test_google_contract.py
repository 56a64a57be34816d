"""Contract: GoogleSpeechTranscriber drives the real `google-cloud-speech` client over gRPC on 127.0.0.1
against a stand-in speaking Google's Speech v1 and long-running Operations protocols."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.standins.google_speech_server import GoogleSpeechStandin, SpokenWord, running_standin
from vigil.errors import InvalidProviderOutput, PermanentError, TransientError
from vigil.media import audio_duration, extract_audio
from vigil.schemas.transcripts import Segment, Word
from vigil.transcription.google_provider import INLINE_AUDIO_LIMIT_BYTES, PHRASE_BOOST, GoogleSpeechTranscriber

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "checkin-risk.mp3"
WORDS = (
    SpokenWord("How", 0.5, 0.8, 0.95, speaker=1), SpokenWord("are", 0.8, 1.0, 0.9, speaker=1),
    SpokenWord("you", 1.0, 1.2, 0.875, speaker=1), SpokenWord("feeling?", 1.2, 1.7, 0.8, speaker=1),
    SpokenWord("Not", 2.5, 2.75, 0.7, speaker=2), SpokenWord("great.", 2.75, 3.25, 0.625, speaker=2),
)


@pytest.fixture(scope="module")
def flac(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the pipeline hands a provider: 16 kHz mono FLAC extracted by ffmpeg."""
    target = tmp_path_factory.mktemp("google") / "audio.flac"
    extract_audio(SAMPLE, target, 60)
    return target


@pytest.fixture
def standin() -> GoogleSpeechStandin:
    return GoogleSpeechStandin(words=WORDS)


@pytest.fixture
def endpoint(standin: GoogleSpeechStandin) -> Iterator[str]:
    with running_standin(standin) as address:
        yield address


def transcriber(endpoint: str, timeout_seconds: float = 5.0) -> GoogleSpeechTranscriber:
    return GoogleSpeechTranscriber(api_endpoint=endpoint, insecure=True, timeout_seconds=timeout_seconds)


# ------------------------------------------------------------------ success
def test_words_carry_text_times_confidence_and_speaker(endpoint: str, flac: Path) -> None:
    transcript = transcriber(endpoint).transcribe(flac)

    assert transcript.words == [
        Word(text="How", start=0.5, end=0.8, confidence=0.95, speaker="S1"),
        Word(text="are", start=0.8, end=1.0, confidence=0.9, speaker="S1"),
        Word(text="you", start=1.0, end=1.2, confidence=0.875, speaker="S1"),
        Word(text="feeling?", start=1.2, end=1.7, confidence=0.8, speaker="S1"),
        Word(text="Not", start=2.5, end=2.75, confidence=0.7, speaker="S2"),
        Word(text="great.", start=2.75, end=3.25, confidence=0.625, speaker="S2"),
    ]


def test_each_recognition_result_becomes_a_segment_with_its_speaker(endpoint: str, flac: Path) -> None:
    transcript = transcriber(endpoint).transcribe(flac)

    assert transcript.segments == [
        Segment(index=0, start=0.5, end=1.7, text="How are you feeling?", speaker="S1", confidence=0.8),
        Segment(index=1, start=2.5, end=3.25, text="Not great.", speaker="S2", confidence=0.625),
    ]


def test_transcript_names_provider_model_language_duration_and_keeps_the_response(
        endpoint: str, flac: Path) -> None:
    transcript = transcriber(endpoint).transcribe(flac)

    assert (transcript.provider, transcript.model, transcript.language) == ("google", "google:latest_long", "en-us")
    assert transcript.duration == pytest.approx(audio_duration(flac))
    assert transcript.raw["operation"] == "0"
    assert len(transcript.raw["response"]["results"]) == 3  # two turns and the speaker track


def test_request_sends_the_flac_inline_with_offsets_confidence_punctuation_and_two_speakers(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    transcriber(endpoint).transcribe(flac)

    (request,) = standin.requests
    config = request.config
    assert request.audio.content == flac.read_bytes()
    assert (config.encoding.name, config.sample_rate_hertz, config.audio_channel_count) == ("FLAC", 16000, 1)
    assert (config.language_code, config.model) == ("en-US", "latest_long")
    assert config.enable_word_time_offsets and config.enable_word_confidence and config.enable_automatic_punctuation
    diarization = config.diarization_config
    assert diarization.enable_speaker_diarization
    assert (diarization.min_speaker_count, diarization.max_speaker_count) == (2, 2)


def test_the_vocabulary_is_sent_as_one_boosted_speech_context(standin: GoogleSpeechStandin, endpoint: str,
                                                              flac: Path) -> None:
    transcriber(endpoint).transcribe(flac, ["Naltrexone", "Bayview Clinic"])

    (context,) = standin.requests[0].config.speech_contexts
    assert list(context.phrases) == ["Naltrexone", "Bayview Clinic"]
    assert context.boost == PHRASE_BOOST and 0 < PHRASE_BOOST <= 20


def test_without_a_vocabulary_no_speech_context_is_sent(standin: GoogleSpeechStandin, endpoint: str,
                                                        flac: Path) -> None:
    transcriber(endpoint).transcribe(flac)

    assert list(standin.requests[0].config.speech_contexts) == []


def test_a_phrase_google_would_refuse_is_a_permanent_rejection(standin: GoogleSpeechStandin, endpoint: str,
                                                               flac: Path) -> None:
    """Google takes phrases of at most 100 characters; the tenant service never sends a longer one."""
    with pytest.raises(PermanentError, match="phrase has 1 to 100 characters") as caught:
        transcriber(endpoint).transcribe(flac, ["x" * 101])

    assert caught.value.code == "provider_rejected"


def test_operation_that_needs_several_polls_still_completes(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.keep_operations_running(polls=2)

    transcript = transcriber(endpoint).transcribe(flac)

    assert [w.text for w in transcript.words] == [w.text for w in WORDS]
    assert standin.calls == ["LongRunningRecognize", "GetOperation", "GetOperation", "GetOperation"]


def test_unavailable_while_polling_is_retried_and_the_transcript_arrives(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.keep_operations_running(polls=1)
    standin.fail_next(1, grpc.StatusCode.UNAVAILABLE, method="GetOperation")

    transcript = transcriber(endpoint).transcribe(flac)

    assert len(transcript.segments) == 2
    assert standin.calls.count("GetOperation") == 3  # the failed poll, one still running, one done


# ------------------------------------------------------------------ transient faults
def test_resource_exhausted_is_a_transient_rate_limit(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.fail_next(1, grpc.StatusCode.RESOURCE_EXHAUSTED, "Quota exceeded for requests per minute")

    with pytest.raises(TransientError, match="Quota exceeded") as caught:
        transcriber(endpoint).transcribe(flac)

    assert caught.value.code == "provider_rate_limited"


def test_unavailable_on_submission_is_transient_and_not_resubmitted(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.fail_next(1, grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable")

    with pytest.raises(TransientError) as caught:
        transcriber(endpoint).transcribe(flac)

    assert caught.value.code == "provider_unavailable"
    assert standin.calls == ["LongRunningRecognize"]  # the job's own retry resubmits, not the client


def test_internal_error_is_transient(standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.fail_next(1, grpc.StatusCode.INTERNAL, "Internal error encountered")

    with pytest.raises(TransientError) as caught:
        transcriber(endpoint).transcribe(flac)

    assert caught.value.code == "provider_unavailable"


def test_server_slower_than_the_timeout_is_a_provider_timeout(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.delay("LongRunningRecognize", seconds=10)

    with pytest.raises(TransientError) as caught:
        transcriber(endpoint, timeout_seconds=1.0).transcribe(flac)

    assert caught.value.code == "provider_timeout"


def test_operation_still_running_at_the_timeout_is_a_provider_timeout(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.keep_operations_running(polls=10**6)

    with pytest.raises(TransientError, match="did not finish within 1.5s") as caught:
        transcriber(endpoint, timeout_seconds=1.5).transcribe(flac)

    assert caught.value.code == "provider_timeout"


# ------------------------------------------------------------------ permanent faults
def test_operation_finishing_with_an_error_is_permanent_and_carries_googles_message(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.keep_operations_running(polls=1)
    standin.finish_operations_with_error(grpc.StatusCode.INVALID_ARGUMENT, "bad audio")

    with pytest.raises(PermanentError, match="bad audio") as caught:
        transcriber(endpoint).transcribe(flac)

    assert caught.value.code == "recognition_failed"


def test_invalid_argument_is_permanent(standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.fail_next(1, grpc.StatusCode.INVALID_ARGUMENT, "Invalid recognition 'config': bad encoding")

    with pytest.raises(PermanentError, match="bad encoding") as caught:
        transcriber(endpoint).transcribe(flac)

    assert caught.value.code == "provider_rejected"


@pytest.mark.parametrize("status", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED])
def test_refused_credentials_are_permanent(
        status: grpc.StatusCode, standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.fail_next(1, status, "The caller does not have permission")

    with pytest.raises(PermanentError) as caught:
        transcriber(endpoint).transcribe(flac)

    assert caught.value.code == "provider_auth"


def test_audio_over_the_inline_limit_is_refused_before_calling_google(
        standin: GoogleSpeechStandin, endpoint: str, tmp_path: Path) -> None:
    too_long = tmp_path / "long.flac"
    with too_long.open("wb") as f:
        f.truncate(INLINE_AUDIO_LIMIT_BYTES + 1)

    with pytest.raises(PermanentError, match="at most 10 MB inline") as caught:
        transcriber(endpoint).transcribe(too_long)

    assert caught.value.code == "audio_too_large"
    assert standin.calls == []


# ------------------------------------------------------------------ answers that break the contract
def test_an_operation_result_of_another_message_type_is_transient_invalid_output(
        standin: GoogleSpeechStandin, endpoint: str, flac: Path) -> None:
    standin.label_results_as("type.googleapis.com/google.cloud.speech.v1.RecognizeResponse")

    with pytest.raises(InvalidProviderOutput) as caught:
        transcriber(endpoint).transcribe(flac)

    assert isinstance(caught.value, TransientError) and caught.value.code == "provider_invalid_output"
    assert standin.calls.count("LongRunningRecognize") == 1


def test_a_word_confidence_above_one_is_invalid_output_naming_the_field(flac: Path) -> None:
    broken = GoogleSpeechStandin(words=(*WORDS[:-1], SpokenWord("great.", 2.75, 3.25, 1.5, speaker=2)))
    with running_standin(broken) as broken_endpoint, pytest.raises(InvalidProviderOutput) as caught:
        transcriber(broken_endpoint).transcribe(flac)

    assert "confidence" in caught.value.message and "less than or equal to 1" in caught.value.message
