"""AssemblyAI speech provider over the official `assemblyai` SDK: upload, submit, then poll, all inside one
overall deadline.

Each call builds its own SDK `Client` from its own `Settings`, so the SDK's process-wide `assemblyai.settings`
is never written: concurrent calls in threads (possibly with different keys or endpoints) need no lock and
cannot see each other's key.

The SDK does not retry; `TransientError` hands retries to the job layer. The one exception is polling: once a
transcript is submitted AssemblyAI is working on it (and billing for it), so a 429/5xx on a status read is
ridden out until the deadline instead of failing the job into a second upload and submission.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import assemblyai as aai
import httpx
import pydantic

from vigil.errors import PermanentError, TransientError, VigilError
from vigil.schemas.transcripts import ProviderTranscript
from vigil.transcription.base import broken_answer

DEFAULT_BASE_URL = "https://api.assemblyai.com"
_FINISHED = (aai.TranscriptStatus.completed, aai.TranscriptStatus.error)
# Status reads that failed with these codes are worth repeating; anything else (bad key, unknown id) is final.
_RETRYABLE_POLL_CODES = ("provider_rate_limited", "provider_unavailable", "provider_unreachable")

T = TypeVar("T")


class AssemblyAITranscriber:
    name = "assemblyai"

    def __init__(self, api_key: str, base_url: str | None = None, timeout_seconds: float = 600.0,
                 poll_interval_seconds: float = 3.0) -> None:
        if not api_key:
            raise ValueError("AssemblyAI needs an API key")
        self._api_key = api_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.poll_interval_seconds = poll_interval_seconds

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        deadline = time.monotonic() + self.timeout_seconds
        client = aai.Client(settings=aai.Settings(api_key=self._api_key, base_url=self.base_url,
                                                  http_timeout=self.timeout_seconds,
                                                  polling_interval=self.poll_interval_seconds))
        try:
            sdk = aai.Transcriber(client=client, config=transcription_config(vocabulary))
            upload_url = self._request("upload", client, deadline, lambda: sdk.upload_file(str(audio_path)))
            submitted = self._request("submit", client, deadline, lambda: sdk.submit(upload_url))
            finished = self._await_finished(client, str(submitted.id), deadline)
        finally:
            client.http_client.close()
        if finished.status == aai.TranscriptStatus.error:
            raise PermanentError(self._redact(f"AssemblyAI could not transcribe the audio: {finished.error}"),
                                 code="provider_transcript_error")
        try:
            return self._to_provider_transcript(finished)
        except pydantic.ValidationError as exc:
            raise broken_answer(f"AssemblyAI transcript {finished.id}", exc) from exc

    def _await_finished(self, client: aai.Client, transcript_id: str, deadline: float) -> aai.Transcript:
        last_seen = "queued"
        while True:
            try:
                response = self._request(f"poll of transcript {transcript_id} (last seen: {last_seen})", client,
                                         deadline, lambda: aai.api.get_transcript(client.http_client, transcript_id))
            except TransientError as exc:
                if exc.code not in _RETRYABLE_POLL_CODES:
                    raise
                last_seen = exc.code
            else:
                if response.status in _FINISHED:
                    return aai.Transcript.from_response(client=client, response=response)
                last_seen = str(response.status.value)
            time.sleep(max(0.0, min(self.poll_interval_seconds, deadline - time.monotonic())))

    def _request(self, what: str, client: aai.Client, deadline: float, call: Callable[[], T]) -> T:
        """Runs one SDK call with the time left as its HTTP timeout, translating its failures into ours."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout(what)
        client.http_client.timeout = httpx.Timeout(remaining)
        try:
            return call()
        except httpx.TimeoutException as exc:
            raise self._timeout(what) from exc
        except httpx.TransportError as exc:
            raise TransientError(self._redact(f"AssemblyAI {what}: cannot reach {self.base_url}: "
                                              f"{type(exc).__name__}: {exc}"), code="provider_unreachable") from exc
        except aai.types.AssemblyAIError as exc:
            raise self._http_error(what, exc) from exc
        except ValueError as exc:  # the SDK parses each answer: a body that is not JSON, or not its schema
            raise broken_answer(self._redact(f"AssemblyAI {what}"), exc) from exc

    def _timeout(self, what: str) -> TransientError:
        return TransientError(self._redact(f"AssemblyAI did not finish within {self.timeout_seconds:g}s "
                                           f"(during {what})"), code="provider_timeout")

    def _http_error(self, what: str, exc: aai.types.AssemblyAIError) -> VigilError:
        status = exc.status_code
        message = self._redact(f"AssemblyAI {what} failed with HTTP {status}: {str(exc).strip()}")
        if status == 429:
            return TransientError(message, code="provider_rate_limited")
        if status is None or status >= 500:
            return TransientError(message, code="provider_unavailable")
        if status in (401, 403):
            return PermanentError(message, code="provider_auth")
        return PermanentError(message, code="provider_rejected")

    def _redact(self, text: str) -> str:
        # Provider error bodies are echoed into messages; a server quoting the key back must not leak it.
        return text.replace(self._api_key, "[redacted]")

    def _to_provider_transcript(self, transcript: aai.Transcript) -> ProviderTranscript:
        """Validated as one document, so a broken field is named by its place (`words.3.confidence`)."""
        words = [{"text": w.text, "start": _seconds(w.start), "end": _seconds(w.end), "confidence": w.confidence,
                  "speaker": w.speaker} for w in transcript.words or []]
        segments = [{"index": i, "start": _seconds(u.start), "end": _seconds(u.end), "text": u.text,
                     "speaker": u.speaker, "confidence": u.confidence}
                    for i, u in enumerate(transcript.utterances or [])]
        # audio_duration is whole seconds; the last word's end is finer and must not fall outside the duration.
        duration = max(float(transcript.audio_duration or 0), words[-1]["end"] if words else 0.0)
        response = transcript.json_response or {}
        model = response.get("speech_model_used") or _plain(response.get("speech_model")) or "unknown"
        return ProviderTranscript.model_validate({
            "provider": self.name, "model": str(model), "language": _plain(transcript.language_code),
            "duration": duration, "words": words, "segments": segments, "raw": response})


def transcription_config(vocabulary: Sequence[str]) -> aai.TranscriptionConfig:
    """Speakers labelled; the tenant's vocabulary as word boost at the default weight (the SDK leaves both fields
    out of the request when there is no vocabulary)."""
    return aai.TranscriptionConfig(speaker_labels=True, word_boost=list(vocabulary),
                                   boost_param=aai.WordBoost.default if vocabulary else None)


def _seconds(milliseconds: int) -> float:
    return milliseconds / 1000


def _plain(value: Any) -> str | None:
    """The SDK hands some strings back as enums (language, model); callers want the plain value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
