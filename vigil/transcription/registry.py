"""The registry that picks speech providers by configuration (`TRANSCRIBERS`, a tenant's choice). Each factory
imports its provider when called: the SDKs and the Whisper model are heavy, and a deployment loads only those it
names."""

from __future__ import annotations

from collections.abc import Callable

from vigil.settings import STANDIN_REFUSED, Settings
from vigil.transcription.base import Transcriber


def _whisper(settings: Settings) -> Transcriber:
    from vigil.transcription.whisper import WhisperTranscriber

    return WhisperTranscriber.from_settings(settings)


def _standin(settings: Settings) -> Transcriber:
    from vigil.transcription.standin import StandinTranscriber

    if not settings.allow_standin:
        raise ValueError(STANDIN_REFUSED)
    return StandinTranscriber(settings.standin_latency_seconds)


def _assemblyai(settings: Settings) -> Transcriber:
    from vigil.transcription.assemblyai_provider import AssemblyAITranscriber

    if not settings.assemblyai_api_key:
        raise ValueError("TRANSCRIBERS names assemblyai but ASSEMBLYAI_API_KEY is not set")
    return AssemblyAITranscriber(api_key=settings.assemblyai_api_key, base_url=settings.assemblyai_base_url,
                                 timeout_seconds=settings.provider_timeout_seconds)


def _google(settings: Settings) -> Transcriber:
    """Credentials come from Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS)."""
    from vigil.transcription.google_provider import GoogleSpeechTranscriber

    return GoogleSpeechTranscriber(api_endpoint=settings.google_speech_endpoint,
                                   insecure=settings.google_speech_insecure,
                                   timeout_seconds=settings.provider_timeout_seconds)


PROVIDERS: dict[str, Callable[[Settings], Transcriber]] = {
    "whisper": _whisper, "standin": _standin, "assemblyai": _assemblyai, "google": _google,
}


def build_transcriber(name: str, settings: Settings) -> Transcriber:
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown transcriber {name!r}; known: {sorted(PROVIDERS)}") from None
    return factory(settings)


def unavailable_reason(name: str, settings: Settings) -> str | None:
    """Why this deployment cannot use a provider (unknown, or missing its credentials), or None."""
    if name not in PROVIDERS:
        return f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}"
    if name == "standin" and not settings.allow_standin:
        return STANDIN_REFUSED
    if name == "assemblyai" and not settings.assemblyai_api_key:
        return "assemblyai needs ASSEMBLYAI_API_KEY on this deployment"
    return None
