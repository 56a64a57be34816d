"""Offline recognizer: faster-whisper (CTranslate2) with a Whisper model a registry package ships (tiny.en by
default, base on request; see whisper_models.py), so nothing is downloaded at run time.

Decoding is deterministic: temperature 0 only, so a window that fails its thresholds is never re-decoded by
sampling at random (the same audio always gives the same words). Then every stretch of speech that voice activity
detection finds must be covered by segments (vigil.transcription.coverage): an uncovered one is decoded again on its
own with beam search, and if that hears nothing either it is marked `[inaudible mm:ss–mm:ss]`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vigil.errors import PermanentError
from vigil.schemas.transcripts import ProviderTranscript, Segment, Span, SpeechCoverage, Word
from vigil.settings import Settings
from vigil.transcription.coverage import (
    SAMPLE_RATE,
    in_time_order,
    inaudible_marker,
    speech_spans,
    uncovered_stretches,
)
from vigil.transcription.whisper_models import default_model_dir, model_dir_for, model_label

__all__ = ["DecodeOptions", "WhisperTranscriber", "default_model_dir"]

REDECODE_BEAM_SIZE = 5
REDECODE_PAD_SECONDS = 0.5  # audio either side of an uncovered stretch, so its first and last words are heard whole
# A re-decoded segment this unsure (Whisper's own log-probability threshold) is not taken for words.
MIN_AVG_LOGPROB = -1.0


def _default(setting: str) -> Any:
    return Settings.model_fields[setting].default


@dataclass(frozen=True)
class DecodeOptions:
    """How the first pass decodes; the defaults are the settings' (docs/transcription.md#decoding measures them)."""

    beam_size: int = _default("whisper_beam_size")
    vad_filter: bool = _default("whisper_vad_filter")
    batch_size: int = _default("whisper_batch_size")  # > 0: faster-whisper's BatchedInferencePipeline
    min_uncovered_seconds: float = _default("coverage_min_gap_seconds")

    @classmethod
    def from_settings(cls, settings: Settings) -> DecodeOptions:
        return cls(beam_size=settings.whisper_beam_size, vad_filter=settings.whisper_vad_filter,
                   batch_size=settings.whisper_batch_size, min_uncovered_seconds=settings.coverage_min_gap_seconds)


@dataclass
class _Decoded:
    words: list[Word]
    segments: list[Segment]
    raw: list[dict[str, Any]]


class WhisperTranscriber:
    name = "whisper"

    def __init__(self, model_dir: Path, cpu_threads: int = 2, num_workers: int = 1,
                 options: DecodeOptions | None = None) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        if not (model_dir / "model.bin").is_file():
            raise PermanentError(f"no CTranslate2 Whisper model in {model_dir}", code="model_missing")
        self.model_dir = model_dir
        self.model_name = f"faster-whisper:{model_label(model_dir)}"
        self.options = options or DecodeOptions()
        # num_workers > 1 lets that many decodes (e.g. chunks) run at once, each on cpu_threads threads.
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads,
                                   num_workers=num_workers)
        self._batched = BatchedInferencePipeline(model=self._model)

    @classmethod
    def from_settings(cls, settings: Settings) -> WhisperTranscriber:
        return cls(model_dir_for(settings.whisper_model), cpu_threads=settings.whisper_threads,
                   num_workers=settings.whisper_workers, options=DecodeOptions.from_settings(settings))

    def transcribe(self, audio_path: Path, vocabulary: Sequence[str] = ()) -> ProviderTranscript:
        from faster_whisper import decode_audio  # with the model: deferred like it

        audio = decode_audio(str(audio_path), sampling_rate=SAMPLE_RATE)
        duration = round(len(audio) / SAMPLE_RATE, 3)
        hotwords = ", ".join(vocabulary) or None
        first = self.decode_all(audio, hotwords)
        speech = speech_spans(audio)
        words, segments, raw = list(first.words), list(first.segments), list(first.raw)
        redecoded, inaudible = [], []
        for stretch in uncovered_stretches(speech, segments, self.options.min_uncovered_seconds):
            redecoded.append(stretch)
            again = self.decode_stretch(audio, stretch, hotwords)
            if again.segments:
                words += again.words
                segments += again.segments
                raw += again.raw
            else:
                inaudible.append(stretch)
                segments.append(inaudible_marker(stretch))
        return ProviderTranscript(
            provider=self.name, model=self.model_name, language="en", duration=duration,
            words=sorted(words, key=lambda w: w.start), segments=in_time_order(segments),
            raw={"segments": raw, "decoding": {"beam_size": self.options.beam_size, "temperature": 0.0,
                                               "vad_filter": self.options.vad_filter,
                                               "batched": self.options.batch_size > 0,
                                               "hotwords": bool(hotwords)}},
            coverage=SpeechCoverage(speech=speech, redecoded=redecoded, inaudible=inaudible),
        )

    def decode_all(self, audio: np.ndarray, hotwords: str | None) -> _Decoded:
        """The first pass over the whole audio."""
        common = dict(language="en", beam_size=self.options.beam_size, temperature=0.0, word_timestamps=True,
                      condition_on_previous_text=False, hotwords=hotwords)
        if self.options.batch_size > 0:
            # With timestamps, so segments are sentences and turns rather than whole 30-second pieces of speech.
            segments, _ = self._batched.transcribe(audio, batch_size=self.options.batch_size,
                                                   without_timestamps=False, **common)
        else:
            segments, _ = self._model.transcribe(audio, vad_filter=self.options.vad_filter, **common)
        return _convert(segments, offset=0.0)

    def decode_stretch(self, audio: np.ndarray, stretch: Span, hotwords: str | None) -> _Decoded:
        """One uncovered stretch decoded on its own (its own window) with beam search. Voice activity detection
        says there is speech, so Whisper's no-speech skip is off; words it is unsure of are not taken, and only
        words whose middle lies in the stretch count (the padding belongs to segments already there)."""
        start = max(0.0, stretch.start - REDECODE_PAD_SECONDS)
        end = min(len(audio) / SAMPLE_RATE, stretch.end + REDECODE_PAD_SECONDS)
        clip = audio[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        segments, _ = self._model.transcribe(clip, language="en", beam_size=REDECODE_BEAM_SIZE, temperature=0.0,
                                             word_timestamps=True, condition_on_previous_text=False,
                                             no_speech_threshold=None, hotwords=hotwords)
        sure = [s for s in segments if s.avg_logprob is None or s.avg_logprob >= MIN_AVG_LOGPROB]
        return _convert(sure, offset=start, within=stretch)


def _convert(segments: Iterable[Any], offset: float, within: Span | None = None) -> _Decoded:
    """faster-whisper's segments → ours, times shifted by `offset`; with `within`, only words whose middle lies in
    it, each segment's text rebuilt from the words it keeps."""
    decoded = _Decoded([], [], [])
    for seg in segments:
        seg_words = [Word(text=w.word.strip(), start=round(w.start + offset, 3), end=round(w.end + offset, 3),
                          confidence=round(w.probability, 4))
                     for w in (seg.words or []) if w.word.strip()]
        text = seg.text.strip()
        if within is not None:
            seg_words = [w for w in seg_words if within.start <= (w.start + w.end) / 2 <= within.end]
            text = " ".join(w.text for w in seg_words)
        decoded.words.extend(seg_words)
        if not text:
            continue
        confidence = math.exp(seg.avg_logprob) if seg.avg_logprob is not None else None
        start = seg_words[0].start if within is not None else round(seg.start + offset, 3)
        end = seg_words[-1].end if within is not None else round(seg.end + offset, 3)
        decoded.segments.append(Segment(index=0, start=start, end=end, text=text,
                                        confidence=round(min(confidence, 1.0), 4) if confidence else None))
        decoded.raw.append({"id": seg.id, "start": round(seg.start + offset, 3),
                            "avg_logprob": seg.avg_logprob, "no_speech_prob": seg.no_speech_prob,
                            "compression_ratio": seg.compression_ratio, "redecoded": within is not None})
    return decoded
