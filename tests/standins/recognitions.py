"""Real recognitions for the speech stand-ins to say, so that reconciling them can be measured honestly.

The AssemblyAI and Google stand-ins say whatever words they are given. Given the reference text, every
vote converges on the truth and "reconciled beats one provider" cannot fail. Here each stand-in instead
says what a recognizer really heard in the same audio. The `whisper` provider hears the clean audio and
decodes greedily, each 30 s window on its own (vigil/transcription/whisper.py). The stand-ins decode
otherwise, in one of two settings (SETTINGS):

- "decodings": they hear the same clean audio. `assemblyai` decodes with beam search (5 beams),
  conditioned on its previous text; `google` samples at temperature 0.4 (best of 5, fixed seed), each
  window on its own. The three come out about as accurate (pooled WER 0.12-0.15 on shared/data/speech),
  though any one of them may go wrong on a file where the others do not.
- "channels": the same decodings, but each stand-in also hears its own worse channel: `assemblyai` a
  telephone line (300-3400 Hz, 8 kHz G.711 mu-law), `google` pink noise (fixed seed, about 24 dB below
  the speech) through a 24 kbps MP3. Both come out clearly less accurate than `whisper` (0.20-0.26
  against 0.12).

All three are Whisper tiny.en, the only usable recognizer that runs offline here (PocketSphinx, whose
wheel ships an English model, got WER 0.63 on annomi-37 against tiny.en's 0.23: too weak to vote). So
their errors are only partly independent: the channel and the decoding make them differ, but one model makes the same
mistakes on words it does not know, and they agree on those. Real AssemblyAI and Google run other models
and would disagree more often; what is measured with these stand-ins says how ROVER does with correlated
providers, not with those services.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.standins.google_speech_server import SpokenWord
from vigil.media import ffmpeg_binary

SPEAKER = 1  # the recognizer does not diarize; every word is one speaker's


@dataclass(frozen=True)
class Hearing:
    """How one stand-in provider hears audio: through which channel, decoded how."""

    channel: str
    filters: tuple[str, ...]  # ffmpeg arguments from the input's on, ending with the output's format
    suffix: str
    beam_size: int
    temperature: float
    condition_on_previous_text: bool
    seed: int = 0


_CLEAN = ("clean", ("-c:a", "flac"), ".flac")
_TELEPHONE = ("telephone", ("-af", "highpass=f=300,lowpass=f=3400", "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw"),
              ".wav")
_NOISY_MP3 = ("noisy-mp3", ("-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.03:seed=7:sample_rate=16000",
                            "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0",
                            "-ar", "16000", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "24k"), ".mp3")

# Two settings of the stand-ins, both measured (bench/reconcile.py). "decodings": every provider hears the
# clean audio and only the decoding differs, so all three are about as accurate. "channels": the stand-ins
# also hear a worse channel each, so they are clearly less accurate than the whisper provider.
SETTINGS: dict[str, dict[str, Hearing]] = {
    "decodings": {
        "assemblyai": Hearing(*_CLEAN, beam_size=5, temperature=0.0, condition_on_previous_text=True),
        "google": Hearing(*_CLEAN, beam_size=1, temperature=0.4, condition_on_previous_text=False, seed=11),
    },
    "channels": {
        "assemblyai": Hearing(*_TELEPHONE, beam_size=5, temperature=0.0, condition_on_previous_text=True),
        "google": Hearing(*_NOISY_MP3, beam_size=1, temperature=0.4, condition_on_previous_text=False, seed=11),
    },
}


@dataclass(frozen=True)
class HeardWord:
    text: str
    start: float
    end: float
    confidence: float


def pass_through_channel(audio: Path, hearing: Hearing, workdir: Path) -> Path:
    """`audio` as heard through `hearing`'s channel, as a new file in `workdir`."""
    out = workdir / f"{audio.stem}-{hearing.channel}{hearing.suffix}"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-i", str(audio), *hearing.filters, str(out)], check=True)
    return out


def hear(audio: Path, hearing: Hearing, workdir: Path) -> list[HeardWord]:
    """The words tiny.en recognizes in `audio` heard as `hearing` says, with times and confidences."""
    import ctranslate2
    from faster_whisper import WhisperModel

    from vigil.transcription.whisper_models import tiny_model_dir

    # A model's worker threads draw from generators seeded when they start: a model loaded after the seed is
    # set samples the same way every time (one loaded earlier does not). Loading tiny.en takes under a second.
    ctranslate2.set_random_seed(hearing.seed)
    model = WhisperModel(str(tiny_model_dir()), device="cpu", compute_type="int8", cpu_threads=2)
    segments, _ = model.transcribe(
        str(pass_through_channel(audio, hearing, workdir)), language="en", beam_size=hearing.beam_size, best_of=5,
        temperature=hearing.temperature, condition_on_previous_text=hearing.condition_on_previous_text,
        word_timestamps=True, vad_filter=False)
    return [HeardWord(w.word.strip(), round(w.start, 3), round(w.end, 3), round(w.probability, 4))
            for seg in segments for w in (seg.words or []) if w.word.strip()]


def as_assemblyai_script(words: list[HeardWord]) -> list[tuple[str, list[tuple[str, int, int, float]]]]:
    """For AssemblyAIStandin's `timed_script`: one utterance per pause of over a second, speaker A."""
    gaps = [0.0] + [b.start - a.end for a, b in zip(words, words[1:], strict=False)]
    turns: list[list[HeardWord]] = []
    for word, gap in zip(words, gaps, strict=True):
        if gap > 1.0 or not turns:
            turns.append([])
        turns[-1].append(word)
    return [("A", [(w.text, round(w.start * 1000), round(w.end * 1000), w.confidence) for w in turn])
            for turn in turns]


def as_google_words(words: list[HeardWord]) -> list[SpokenWord]:
    return [SpokenWord(w.text, w.start, w.end, w.confidence, SPEAKER) for w in words]

