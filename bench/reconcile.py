"""Does reconciling three providers (ROVER) beat the best single one? Measured on ../shared/data/speech
(five spoken AnnoMI excerpts with reference text), whatever it shows.

Per file, three providers transcribe the same audio through the product's code: Whisper tiny.en (the
offline provider, clean audio, greedy), the real `assemblyai` SDK against its REST stand-in and the real
`google-cloud-speech` client against its gRPC stand-in, run at once by `run_providers`. The stand-ins
say real recognitions of that audio, decoded otherwise than the whisper provider's; they are Whisper
tiny.en too, so their errors are only partly independent (tests/standins/recognitions.py says exactly
what they are and why). The product's `reconcile_transcripts` then votes. Two settings of the stand-ins
are measured: "decodings" (they hear the same clean audio, and come out about as accurate as whisper)
and "channels" (each also hears a worse channel, and comes out clearly less accurate).

Printed per file and pooled (errors summed over files / reference words summed): the WER of each
provider, of the best single provider chosen per file (in hindsight, with the reference: no deployment
can choose so), of the provider best on average over the five files (also chosen in hindsight), and of
the reconciled transcript, with ROVER's ratio to both. Lower is better; a ratio above 1 means ROVER lost.

    .venv/bin/python bench/reconcile.py [decodings|channels]    (both when none is named)
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.standins.assemblyai_server import AssemblyAIStandin, serve_standin  # noqa: E402
from tests.standins.google_speech_server import GoogleSpeechStandin, running_standin  # noqa: E402
from tests.standins.recognitions import SETTINGS, Hearing, as_assemblyai_script, as_google_words, hear  # noqa: E402
from vigil.media import extract_audio  # noqa: E402
from vigil.schemas.transcripts import ProviderTranscript
from vigil.transcription.assemblyai_provider import AssemblyAITranscriber  # noqa: E402
from vigil.transcription.base import Transcriber  # noqa: E402
from vigil.transcription.fanout import run_providers  # noqa: E402
from vigil.transcription.google_provider import GoogleSpeechTranscriber  # noqa: E402
from vigil.transcription.quality import normalise_words, word_error_rate  # noqa: E402
from vigil.transcription.reconcile import reconcile_transcripts  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"
PROVIDERS = ("whisper", "assemblyai", "google")
RECONCILED = "reconciled"
KEY = "bench-key"


def transcribe_with_standins(audio: Path, whisper: Transcriber, hearings: dict[str, Hearing],
                             workdir: Path) -> list[ProviderTranscript]:
    """The three providers' transcripts of `audio`, in PROVIDERS order, each through its real client."""
    heard = {name: hear(audio, hearing, workdir) for name, hearing in hearings.items()}
    assemblyai = AssemblyAIStandin(api_key=KEY, timed_script=as_assemblyai_script(heard["assemblyai"]),
                                   processing_polls=0)
    google = GoogleSpeechStandin(words=as_google_words(heard["google"]))
    with serve_standin(assemblyai) as url, running_standin(google) as endpoint:
        transcribers = [whisper, AssemblyAITranscriber(KEY, url, timeout_seconds=120, poll_interval_seconds=0.05),
                        GoogleSpeechTranscriber(endpoint, insecure=True, timeout_seconds=120)]
        run = run_providers(transcribers, audio)
    if run.failures:
        raise RuntimeError(f"providers failed: {run.failures}")
    return run.transcripts


def word_errors(reference: str, hypothesis: str) -> int:
    return round(word_error_rate(reference, hypothesis) * len(normalise_words(reference)))


@dataclass(frozen=True)
class FileScore:
    name: str
    words: int  # in the reference
    errors: dict[str, int]  # per provider, and RECONCILED

    def wer(self, who: str) -> float:
        return self.errors[who] / self.words

    @property
    def best_provider(self) -> str:
        return min(PROVIDERS, key=lambda p: self.errors[p])


def score_file(name: str, reference: str, transcripts: list[ProviderTranscript]) -> FileScore:
    reconciled = reconcile_transcripts(transcripts)
    hypotheses = {t.provider: " ".join(w.text for w in t.words) for t in transcripts}
    hypotheses[RECONCILED] = " ".join(w.text for w in reconciled.words)
    return FileScore(name, len(normalise_words(reference)),
                     {who: word_errors(reference, text) for who, text in hypotheses.items()})


@dataclass(frozen=True)
class Comparison:
    files: list[FileScore]

    @property
    def words(self) -> int:
        return sum(f.words for f in self.files)

    def pooled(self, who: str) -> float:
        return sum(f.errors[who] for f in self.files) / self.words

    @property
    def best_on_average(self) -> str:
        return min(PROVIDERS, key=self.pooled)

    @property
    def best_per_file_pooled(self) -> float:
        return sum(f.errors[f.best_provider] for f in self.files) / self.words

    def figures(self) -> dict[str, object]:
        fixed = self.best_on_average
        return {
            "files": {f.name: {"words": f.words, **{who: round(f.wer(who), 3) for who in f.errors},
                               "best_single": f.best_provider} for f in self.files},
            "pooled": {who: round(self.pooled(who), 3) for who in (*PROVIDERS, RECONCILED)},
            "best_on_average": fixed,
            "best_per_file_pooled": round(self.best_per_file_pooled, 3),
            "reconciled_over_best_on_average": round(self.pooled(RECONCILED) / self.pooled(fixed), 3),
            "reconciled_over_best_per_file": round(self.pooled(RECONCILED) / self.best_per_file_pooled, 3),
        }


def _ratio(rover: float, single: float) -> str:
    return f"{rover / single:.2f}" if single else ("1.00" if not rover else "inf")


def print_comparison(comparison: Comparison) -> None:
    fixed = comparison.best_on_average
    print(f"{'file':<12}{'words':>6}" + "".join(f"{p:>11}" for p in PROVIDERS)
          + f"{'best single (file)':>24}{'ROVER':>7}{'÷best (file)':>13}{'÷' + fixed:>12}")
    rows = [(f.name, f.words, [f.wer(p) for p in PROVIDERS], f"{f.wer(f.best_provider):.3f} ({f.best_provider})",
             f.wer(f.best_provider), f.wer(RECONCILED), f.wer(fixed)) for f in comparison.files]
    best_pooled = comparison.best_per_file_pooled
    rows.append(("pooled", comparison.words, [comparison.pooled(p) for p in PROVIDERS],
                 f"{best_pooled:.3f} (each file's)", best_pooled, comparison.pooled(RECONCILED),
                 comparison.pooled(fixed)))
    for name, words, singles, best_label, best, rover, fixed_wer in rows:
        print(f"{name:<12}{words:>6}" + "".join(f"{w:>11.3f}" for w in singles)
              + f"{best_label:>24}{rover:>7.3f}{_ratio(rover, best):>13}{_ratio(rover, fixed_wer):>12}")
    rover = comparison.pooled(RECONCILED)
    print(f"best single provider on average: {fixed} (WER {comparison.pooled(fixed):.3f}); ROVER {rover:.3f},"
          f" ratio {_ratio(rover, comparison.pooled(fixed))}; ROVER better on "
          f"{sum(f.errors[RECONCILED] < f.errors[fixed] for f in comparison.files)} of {len(comparison.files)} files,"
          f" worse on {sum(f.errors[RECONCILED] > f.errors[fixed] for f in comparison.files)}")


def compare_on_shared_speech(setting: str, whisper: Transcriber, tmp: Path) -> Comparison:
    cases = json.loads((SPEECH / "cases.json").read_text())
    scores = []
    for case in cases:
        audio = tmp / case["audio"]
        extract_audio(SPEECH / case["audio"], audio, 600)
        transcripts = transcribe_with_standins(audio, whisper, SETTINGS[setting], tmp)
        scores.append(score_file(case["audio"].removesuffix(".flac"), case["reference"], transcripts))
        print(f"{setting} {case['audio']}: " + ", ".join(f"{k} {v}" for k, v in scores[-1].errors.items())
              + f" errors of {scores[-1].words} words", file=sys.stderr)
    return Comparison(scores)


def main() -> None:
    from vigil.transcription.whisper import DecodeOptions, WhisperTranscriber
    from vigil.transcription.whisper_models import tiny_model_dir

    # tiny.en window by window, as its 2026-12-07 figures were measured: the stand-ins are tiny.en too.
    whisper = WhisperTranscriber(tiny_model_dir(), options=DecodeOptions(batch_size=0))
    for setting in sys.argv[1:] or list(SETTINGS):
        with tempfile.TemporaryDirectory(prefix="vigil-bench-rover-") as tmp:
            comparison = compare_on_shared_speech(setting, whisper, Path(tmp))
        print(f"\n== stand-ins: {setting}")
        print_comparison(comparison)
        print(json.dumps({"setting": setting, **comparison.figures()}))


if __name__ == "__main__":
    main()
