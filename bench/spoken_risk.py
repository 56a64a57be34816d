"""Does what the recognizer mishears change which risks get flagged? Measured in one run, to choose the default
Whisper model by what matters most (a missed disclosure), not by word error rate alone.

C-SSRS users from the *development* part of ../shared/data/cssrs (the locked part is never read here) whose
posts total at most --max-words words are spoken by espeak-ng (the samples' client voice). Each recording is
transcribed by each Whisper setting, and the offline analyzer (the default) reads, as the client's words:
  - the text itself (what a perfect recognizer would give),
  - what each setting heard.
Printed side by side: word error rate, real-time factor, risk recall and false flags against the clinicians'
labels (a session counts as found when any risk is flagged: that puts it before a supervisor), and against the
text run: category flags lost (flagged from the text, not from the speech) and added.

    .venv/bin/python bench/spoken_risk.py                 # 56 users at the default 250 words
    .venv/bin/python bench/spoken_risk.py --max-words 150
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigil.analysis.analyzers.registry import build_analyzer  # noqa: E402
from vigil.evaluation.dataset import LabelledSession, LabelledTurn, read_dataset  # noqa: E402
from vigil.evaluation.split import development  # noqa: E402
from vigil.media import extract_audio  # noqa: E402
from vigil.settings import Settings  # noqa: E402
from vigil.transcription.quality import word_error_rate  # noqa: E402
from vigil.transcription.whisper import DecodeOptions, WhisperTranscriber  # noqa: E402
from vigil.transcription.whisper_models import base_model_dir, tiny_model_dir  # noqa: E402

CSSRS = ROOT.parent / "shared" / "data" / "cssrs" / "cssrs-dev.jsonl"
CLIENT_VOICE = "en-us+f2"  # as samples/generate.py speaks the client


def spoken_users(max_words: int) -> list[LabelledSession]:
    return [s for s in development(read_dataset(CSSRS))
            if sum(len(t.text.split()) for t in s.turns) <= max_words]


def client_only(session: LabelledSession, text: str) -> LabelledSession:
    """The session as one client turn of `text`: the same shape whether the words were read or heard."""
    return LabelledSession(id=session.id, source=session.source, labels=session.labels,
                           turns=[LabelledTurn(speaker="client", text=text)])


def speak(text: str, out: Path) -> None:
    wav = out.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-v", CLIENT_VOICE, "-s", "150", "-w", str(wav), text], check=True,
                   stdout=subprocess.DEVNULL)
    extract_audio(wav, out, 1200)
    wav.unlink()


def flags(analyzer: Any, session: LabelledSession) -> set[str]:
    return {flag.category.value for flag in analyzer.assess(session.to_transcript(), None).flags}


def summary(label: str, truth: dict[str, set[str]], got: dict[str, set[str]], text: dict[str, set[str]],
            wer: float | None, rtf: float | None) -> str:
    positives = [i for i, risk in truth.items() if risk]
    found = sum(1 for i in positives if got[i])
    false = sum(1 for i, risk in truth.items() if not risk and got[i])
    lost = sum(len(text[i] - got[i]) for i in truth)
    added = sum(len(got[i] - text[i]) for i in truth)
    return (f"{label:<22} {'—' if wer is None else f'{wer:.3f}':>6} {'—' if rtf is None else f'{rtf:.1f}x':>7} "
            f"{found:>3}/{len(positives):<3} {found / len(positives):>6.3f} {false:>3}/{len(truth) - len(positives):<3}"
            f" {lost:>5} {added:>6}")


SETTINGS: list[tuple[str, str, DecodeOptions]] = [
    ("tiny.en greedy", "tiny.en", DecodeOptions(batch_size=0)),
    ("tiny.en beam 5", "tiny.en", DecodeOptions(batch_size=0, beam_size=5)),
    ("base batched greedy", "base", DecodeOptions(batch_size=8)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-words", type=int, default=250)
    args = parser.parse_args()
    if not shutil.which("espeak-ng"):
        sys.exit("needs Debian's espeak-ng (apt-get install espeak-ng)")
    users = spoken_users(args.max_words)
    analyzer = build_analyzer(Settings(analyzer="offline"))
    with tempfile.TemporaryDirectory(prefix="vigil-spoken-risk-") as tmp_name:
        tmp = Path(tmp_name)
        models = {"tiny.en": tiny_model_dir(), "base": base_model_dir(tmp / "base")}
        transcribers = {label: WhisperTranscriber(models[model], cpu_threads=2, options=options)
                        for label, model, options in SETTINGS}
        truth = {u.id: {r.value for r in u.labels.risk} for u in users}
        text_run: dict[str, set[str]] = {}
        heard: dict[str, dict[str, set[str]]] = {label: {} for label in transcribers}
        errors: dict[str, list[float]] = {label: [] for label in transcribers}
        audio_seconds = dict.fromkeys(transcribers, 0.0)
        busy = dict.fromkeys(transcribers, 0.0)
        for number, user in enumerate(users, 1):
            text = " ".join(t.text for t in user.turns)
            text_run[user.id] = flags(analyzer, client_only(user, text))
            audio = tmp / f"{user.id}.flac"
            speak(text, audio)
            for label, transcriber in transcribers.items():  # each setting in turn on the same file
                started = time.perf_counter()
                result = transcriber.transcribe(audio)
                busy[label] += time.perf_counter() - started
                audio_seconds[label] += result.duration
                words = " ".join(w.text for w in result.words)
                errors[label].append(word_error_rate(text, words))
                heard[label][user.id] = flags(analyzer, client_only(user, words))
            print(f"{number}/{len(users)} {user.id}: labels {sorted(truth[user.id]) or '—'}, text "
                  f"{sorted(text_run[user.id]) or '—'}, " + ", ".join(
                      f"{label} {sorted(heard[label][user.id]) or '—'}" for label in transcribers), flush=True)
    print(f"\n{len(users)} development-part C-SSRS users of ≤ {args.max_words} words, spoken "
          f"({sum(audio_seconds.values()) / len(transcribers) / 60:.1f} min of audio); offline analyzer")
    print(f"{'read from':<22} {'WER':>6} {'RTF':>7} {'recall':>14} {'false flags':>11} {'lost':>5} {'added':>6}")
    print(summary("text", truth, text_run, text_run, None, None))
    for label in transcribers:
        print(summary(label, truth, heard[label], text_run, sum(errors[label]) / len(errors[label]),
                      audio_seconds[label] / busy[label]))


if __name__ == "__main__":
    main()
