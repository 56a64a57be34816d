"""Google Cloud Speech-to-Text (v1) over gRPC, with long-running recognition.

The audio travels inline in the request, and Google refuses inline content over 10 MB — about nine
minutes of 16 kHz mono FLAC. Longer sessions would need the audio in Cloud Storage (a `gs://` URI),
which this provider does not do; it says so with a PermanentError instead of sending the request."""

from __future__ import annotations

import concurrent.futures
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import pydantic
from google.api_core import exceptions, retry
from google.api_core.operation import Operation
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import speech_v1
from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport
from google.protobuf.message import DecodeError

from vigil.errors import PermanentError, TransientError, VigilError
from vigil.media import audio_duration
from vigil.schemas.transcripts import ProviderTranscript, Segment, Word
from vigil.transcription.base import broken_answer

# Google's inline limit is 10 MB for the whole request; a little headroom covers the config around the audio.
INLINE_AUDIO_LIMIT_BYTES = 10_000_000
SPEAKERS = 2  # a counselor and a client
# How much the tenant's vocabulary is favoured; Google takes 0 to 20 and suggests a middle value to start from.
PHRASE_BOOST = 10.0

# Google's own channels lift gRPC's 4 MB receive cap; a long transcript can exceed it.
_CHANNEL_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


class GoogleSpeechTranscriber:
    name = "google"

    def __init__(self, api_endpoint: str | None = None, credentials: Credentials | None = None,
                 insecure: bool = False, timeout_seconds: float = 600.0, language_code: str = "en-US",
                 model: str = "latest_long") -> None:
        """`timeout_seconds` bounds one whole transcription: submitting the audio and waiting for the result.
        `insecure` is for a local stand-in only: plaintext gRPC and no credentials."""
        self.timeout_seconds = timeout_seconds
        self.language_code = language_code
        self.model = model
        if insecure:
            if not api_endpoint:
                raise ValueError("an insecure client needs the stand-in's api_endpoint")
            channel = grpc.insecure_channel(api_endpoint, options=_CHANNEL_OPTIONS)
            transport = SpeechGrpcTransport(host=api_endpoint, channel=channel, credentials=AnonymousCredentials())
            self._client = speech_v1.SpeechClient(transport=transport, client_options={"api_endpoint": api_endpoint})
        else:
            self._client = speech_v1.SpeechClient(credentials=credentials,
                                                  client_options={"api_endpoint": api_endpoint})

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        size = audio_path.stat().st_size
        if size > INLINE_AUDIO_LIMIT_BYTES:
            raise PermanentError(f"the audio is {size / 1e6:.1f} MB; Google Speech accepts at most "
                                 f"{INLINE_AUDIO_LIMIT_BYTES / 1e6:.0f} MB inline", code="audio_too_large")
        duration = audio_duration(audio_path)
        deadline = time.monotonic() + self.timeout_seconds
        operation: Operation | None = None
        try:
            # No retry on submission: it is not idempotent (a retry may start, and bill, a second
            # operation), and the job layer already retries a TransientError with backoff.
            operation = self._client.long_running_recognize(
                config=self._recognition_config(vocabulary),
                audio=speech_v1.RecognitionAudio(content=audio_path.read_bytes()),
                retry=None, timeout=self.timeout_seconds,
            )
            remaining = max(deadline - time.monotonic(), 0.001)
            response = operation.result(timeout=remaining, retry=_polling_retry(remaining))
        except (concurrent.futures.TimeoutError, exceptions.RetryError) as exc:
            raise TransientError(f"Google Speech did not finish within {self.timeout_seconds:g}s",
                                 code="provider_timeout") from exc
        except exceptions.GoogleAPICallError as exc:
            if operation is not None and operation.operation.done:
                raise PermanentError(f"Google Speech recognition failed: {exc.message}",
                                     code="recognition_failed") from exc
            raise typed_error(exc) from exc
        except (TypeError, DecodeError) as exc:  # the operation's result is not a LongRunningRecognizeResponse
            raise broken_answer("Google Speech operation result", exc) from exc
        try:
            return self._transcript(response, operation.operation.name, duration)
        except pydantic.ValidationError as exc:
            raise broken_answer(f"Google Speech operation {operation.operation.name}", exc) from exc

    def _recognition_config(self, vocabulary: Sequence[str]) -> speech_v1.RecognitionConfig:
        """The tenant's vocabulary goes as one speech context (speech adaptation phrases) with a boost."""
        contexts = [speech_v1.SpeechContext(phrases=list(vocabulary), boost=PHRASE_BOOST)] if vocabulary else []
        return speech_v1.RecognitionConfig(
            speech_contexts=contexts,
            encoding=speech_v1.RecognitionConfig.AudioEncoding.FLAC,
            sample_rate_hertz=16_000,
            audio_channel_count=1,
            language_code=self.language_code,
            model=self.model,
            enable_word_time_offsets=True,
            enable_word_confidence=True,
            enable_automatic_punctuation=True,
            diarization_config=speech_v1.SpeakerDiarizationConfig(
                enable_speaker_diarization=True, min_speaker_count=SPEAKERS, max_speaker_count=SPEAKERS),
        )

    def _transcript(self, response: speech_v1.LongRunningRecognizeResponse, operation_name: str,
                    duration: float) -> ProviderTranscript:
        results = [r for r in response.results if r.alternatives]
        speech_results, speaker_track = split_speaker_track(results)
        speakers = [to_word(w) for w in speaker_track]
        words: list[Word] = []
        segments: list[Segment] = []
        previous_end = 0.0
        for result in speech_results:
            top = result.alternatives[0]
            result_words = [to_word(w) for w in top.words]
            words.extend(result_words)
            result_end = result.result_end_time.total_seconds() if result.result_end_time else previous_end
            start = result_words[0].start if result_words else previous_end
            end = result_words[-1].end if result_words else result_end
            previous_end = result_end
            if top.transcript.strip():
                segments.append(Segment(index=len(segments), start=start, end=end, text=top.transcript.strip(),
                                        speaker=majority_speaker(speakers, start, end),
                                        confidence=round(top.confidence, 4) if top.confidence else None))
        language = next((r.language_code for r in results if r.language_code), self.language_code)
        raw: dict[str, Any] = {"operation": operation_name,
                               "response": type(response).to_dict(response)}
        return ProviderTranscript(provider=self.name, model=f"google:{self.model}", language=language,
                                  duration=duration, words=speakers or words, segments=segments, raw=raw)


def _polling_retry(budget_seconds: float) -> retry.Retry:
    """How to retry one GetOperation poll. The library's default keeps retrying UNAVAILABLE for
    600 s whatever our budget; a poll is a read, so retrying is safe, but only within the budget."""
    return retry.Retry(
        predicate=retry.if_exception_type(exceptions.ServiceUnavailable, exceptions.DeadlineExceeded),
        initial=0.2, maximum=5.0, multiplier=2.0, timeout=budget_seconds,
    )


def typed_error(exc: exceptions.GoogleAPICallError) -> VigilError:
    """Transient for what may pass (deadline, quota, server trouble); permanent for what will not."""
    status = exc.grpc_status_code.name if exc.grpc_status_code else str(exc.code)
    message = f"Google Speech {status}: {exc.message}"
    if isinstance(exc, exceptions.DeadlineExceeded):
        return TransientError(message, code="provider_timeout")
    if isinstance(exc, exceptions.TooManyRequests):  # RESOURCE_EXHAUSTED
        return TransientError(message, code="provider_rate_limited")
    if isinstance(exc, exceptions.Unauthenticated | exceptions.PermissionDenied):
        return PermanentError(message, code="provider_auth")
    if isinstance(exc, exceptions.ServerError | exceptions.Aborted):  # UNAVAILABLE, INTERNAL, UNKNOWN, ...
        return TransientError(message, code="provider_unavailable")
    return PermanentError(message, code="provider_rejected")  # INVALID_ARGUMENT and other request faults


def split_speaker_track(
    results: list[speech_v1.SpeechRecognitionResult],
) -> tuple[list[speech_v1.SpeechRecognitionResult], list[speech_v1.WordInfo]]:
    """With diarization on, Google repeats every word of the audio, speaker-tagged, in the top alternative
    of the last result. That result is a speaker track, not one more stretch of speech."""
    if not results:
        return [], []
    last_words = list(results[-1].alternatives[0].words)
    if not any(w.speaker_tag for w in last_words):
        return results, []
    return (results[:-1] if len(results) > 1 else results), last_words


def to_word(info: speech_v1.WordInfo) -> Word:
    # Google sends 0 for "not given": a confidence of 0.0 and speaker tag 0 are both absent values.
    return Word(text=info.word, start=round(info.start_time.total_seconds(), 3),
                end=round(info.end_time.total_seconds(), 3),
                confidence=round(info.confidence, 4) if info.confidence else None,
                speaker=f"S{info.speaker_tag}" if info.speaker_tag else None)


def majority_speaker(speakers: list[Word], start: float, end: float) -> str | None:
    """The speaker of most tagged words whose midpoint falls within [start, end]."""
    votes = Counter(w.speaker for w in speakers if w.speaker and start <= (w.start + w.end) / 2 <= end)
    return votes.most_common(1)[0][0] if votes else None
