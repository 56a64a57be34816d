"""Generate the bundled sample sessions with a text-to-speech engine.

Run once by a developer (needs Debian's `espeak-ng`); the outputs are committed, so
`make run` never needs a speech engine. Each dialogue becomes one media file plus a
JSON file with its reference turns (speaker, text, start, end) for word-error-rate checks.

    python samples/generate.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import imageio_ffmpeg

HERE = Path(__file__).parent
VOICES = {"counselor": "en-us+m3", "client": "en-us+f2"}
GAP_SECONDS = 0.6

DIALOGUES: dict[str, dict] = {
    "checkin-risk": {
        "format": "mp3",
        "title": "Weekly check-in (risk disclosure)",
        "turns": [
            ("counselor", "Thanks for coming in today. How has your week been since we last talked?"),
            ("client", "Honestly it has been really hard. I have not been sleeping and I stopped going to work."),
            ("counselor", "That sounds exhausting. What has been on your mind at night?"),
            ("client", "I keep thinking that everyone would be better off without me."),
            ("counselor", "I am glad you told me. Are you having thoughts of ending your life?"),
            ("client", "Yes. I have been thinking about killing myself, and I have saved up some pills."),
            ("counselor", "Thank you for trusting me with that. Let's talk about how we keep you safe tonight."),
        ],
    },
    "routine-coaching": {
        "format": "m4a",
        "title": "Coaching call (routine)",
        "turns": [
            ("counselor", "Welcome back. What would you like to focus on in our session today?"),
            ("client", "Time management. My boss would kill me if I missed another deadline."),
            ("counselor", "It sounds like deadlines are weighing on you. What has worked for you before?"),
            ("client", "Making a list every morning helped, and I am cutting back on late night emails."),
            ("counselor", "Great. What is one small step you could take this week?"),
            ("client", "I will block two hours each morning for focused work."),
        ],
    },
    "support-video": {
        "format": "webm",
        "title": "Support call (video)",
        "turns": [
            ("counselor", "Hi, thanks for calling the support line. How can I help you today?"),
            ("client", "My partner hits me when he drinks and I am scared to go home."),
            ("counselor", "I am sorry that is happening. You deserve to be safe. Are you safe right now?"),
            ("client", "Right now I am at my sister's house, so I am okay for tonight."),
            ("counselor", "Good. Let's go over a safety plan and some local resources together."),
        ],
    },
}


def _speak(text: str, voice: str, out: Path) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True)


def _duration(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def generate(name: str, spec: dict) -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        parts: list[Path] = []
        reference = []
        clock = 0.0
        silence = tmpdir / "gap.wav"
        subprocess.run(
            [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono",
             "-t", str(GAP_SECONDS), str(silence)], check=True)
        for i, (speaker, text) in enumerate(spec["turns"]):
            wav = tmpdir / f"turn{i}.wav"
            _speak(text, VOICES[speaker], wav)
            length = _duration(wav)
            reference.append({"speaker": speaker, "text": text,
                              "start": round(clock, 2), "end": round(clock + length, 2)})
            clock += length + GAP_SECONDS
            parts += [wav, silence]
        listing = tmpdir / "list.txt"
        listing.write_text("".join(f"file '{p}'\n" for p in parts))
        joined = tmpdir / "joined.wav"
        subprocess.run([ffmpeg, "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                        "-c", "copy", str(joined)], check=True)
        out = HERE / f"{name}.{spec['format']}"
        if spec["format"] == "webm":
            cmd = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=steelblue:s=320x180:r=2",
                   "-i", str(joined), "-shortest", "-c:v", "libvpx", "-b:v", "50k",
                   "-c:a", "libopus", "-b:a", "24k", str(out)]
        elif spec["format"] == "m4a":
            cmd = [ffmpeg, "-v", "error", "-y", "-i", str(joined), "-c:a", "aac", "-b:a", "32k", str(out)]
        else:
            cmd = [ffmpeg, "-v", "error", "-y", "-i", str(joined), "-b:a", "32k", str(out)]
        subprocess.run(cmd, check=True)
    (HERE / f"{name}.json").write_text(json.dumps(
        {"id": name, "title": spec["title"], "media": out.name, "turns": reference}, indent=2) + "\n")
    print(f"{out.name}: {clock:.1f}s, {out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    for sample_name, sample_spec in DIALOGUES.items():
        generate(sample_name, sample_spec)
