"""The pipeline, measured in one run:

  1. `stages`: offline recognizer accuracy and per-stage timings on the bundled samples and, when present,
     ../shared/data/speech (spoken AnnoMI excerpts with reference text). The real stage code in-process: ffmpeg
     extraction; the transcribe stage's two halves at once as it runs them (faster-whisper tiny.en, and
     diarization in a thread where the app uses a Ray task); the offline analyzer. Word error rate per file and,
     side by side, each stage's time and its real-time factor.
  2. `overhead`: the same stages through the running app (embedded PostgreSQL, local Ray, the real dispatcher,
     the transcription actor, stage tasks), one session at a time: a 40-second sample and a 10-minute recording.
     Per stage, its wall time (dispatch to done), the part that was its own work (ffmpeg, the recognizers and
     diarization, the analysis; recorded by the stage) and the overhead share, 1 − work ÷ wall, beside the bare
     in-process time of the same work. The first session pays worker start and is shown apart.
  3. `decoding`: the 10-minute recording decoded in one piece, window by window vs faster-whisper's batched
     pipeline, and cut into chunks as the app does (bench/transcription.py has every decoding setting).

    .venv/bin/python bench/pipeline.py                 # all three
    .venv/bin/python bench/pipeline.py overhead        # one section
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ray  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.jobs import make_context, principal_for  # noqa: E402
from bench.media import join_audio  # noqa: E402
from cli.stack import RUNTIME_ENV  # noqa: E402
from tasks.dispatcher import Dispatcher  # noqa: E402
from vigil.analysis.analyzers.offline import OfflineAnalyzer  # noqa: E402
from vigil.context import Context  # noqa: E402
from vigil.db.engine import start_embedded_postgres  # noqa: E402
from vigil.db.models import Session, StageEvent  # noqa: E402
from vigil.media import extract_audio  # noqa: E402
from vigil.schemas.enums import Role  # noqa: E402
from vigil.services.ingest import accept_upload  # noqa: E402
from vigil.services.pipeline import chunk_audio  # noqa: E402
from vigil.settings import Settings  # noqa: E402
from vigil.transcription.agent import build_agent_transcript  # noqa: E402
from vigil.transcription.diarization import diarize_in_thread, diarizer_for  # noqa: E402
from vigil.transcription.fanout import run_providers  # noqa: E402
from vigil.transcription.quality import word_error_rate  # noqa: E402
from vigil.transcription.whisper import DecodeOptions, WhisperTranscriber, default_model_dir  # noqa: E402

SPEECH = ROOT.parent / "shared" / "data" / "speech"


def cases() -> list[tuple[str, Path, str]]:
    found = []
    for meta in sorted((ROOT / "samples").glob("*.json")):
        spec = json.loads(meta.read_text())
        found.append(("sample", ROOT / "samples" / spec["media"], " ".join(t["text"] for t in spec["turns"])))
    if (SPEECH / "cases.json").exists():
        for case in json.loads((SPEECH / "cases.json").read_text()):
            found.append(("annomi", SPEECH / case["audio"], case["reference"]))
    return found


def stages() -> None:
    load_started = time.perf_counter()
    whisper = WhisperTranscriber(default_model_dir())
    load_seconds = time.perf_counter() - load_started
    settings = Settings()
    load_started = time.perf_counter()
    diarizer = diarizer_for(settings)
    diarizer_seconds = time.perf_counter() - load_started
    analyzer = OfflineAnalyzer()
    rows = []
    print(f"model load: {load_seconds:.2f}s ({whisper.model_name}, int8, greedy); diarizer "
          f"({settings.diarization}) {diarizer_seconds:.2f}s\n")
    print(f"{'set':<7} {'file':<24} {'audio s':>8} {'extract s':>10} {'transcribe s':>13} {'analyze s':>10}"
          f" {'x realtime':>11} {'WER':>6}")
    for kind, path, reference in cases():
        with tempfile.TemporaryDirectory() as tmp:
            audio = Path(tmp) / "audio.flac"
            t0 = time.perf_counter()
            duration = extract_audio(path, audio, timeout_seconds=600)
            t1 = time.perf_counter()
            wait = diarize_in_thread(settings, audio) if diarizer else None
            transcript = whisper.transcribe(audio)
            if wait:
                wait()
            t2 = time.perf_counter()
            agent = build_agent_transcript(uuid.uuid4(), transcript)
            analyzer.analyze(agent)
            t3 = time.perf_counter()
        wer = word_error_rate(reference, " ".join(s.text for s in transcript.segments))
        row = {"set": kind, "file": path.name, "audio": duration, "extract": t1 - t0, "transcribe": t2 - t1,
               "analyze": t3 - t2, "wer": wer}
        rows.append(row)
        total = row["extract"] + row["transcribe"] + row["analyze"]
        print(f"{kind:<7} {path.name:<24} {duration:>8.1f} {row['extract']:>10.2f} {row['transcribe']:>13.2f}"
              f" {row['analyze']:>10.3f} {duration / total:>11.1f} {wer:>6.3f}")
    print()
    for kind in ("sample", "annomi"):
        subset = [r for r in rows if r["set"] == kind]
        if not subset:
            continue
        audio = sum(r["audio"] for r in subset)
        words_wer = statistics.mean(r["wer"] for r in subset)
        stage_totals = {s: sum(r[s] for r in subset) for s in ("extract", "transcribe", "analyze")}
        print(f"{kind}: {len(subset)} files, {audio:.0f}s of audio, mean WER {words_wer:.3f}; "
              + ", ".join(f"{s} {t:.2f}s ({audio / t:.0f}x realtime)" for s, t in stage_totals.items()))


def ten_minutes(tmp: Path) -> Path:
    """A 10-minute recording: the spoken excerpts end to end (or, without them, the samples over and over), cut at
    600 s."""
    sources = ([SPEECH / c["audio"] for c in json.loads((SPEECH / "cases.json").read_text())]
               if (SPEECH / "cases.json").exists() else [path for _, path, _ in cases()] * 7)
    return join_audio(sources, tmp / "ten-minutes.flac", seconds=600)


def bare_work(path: Path, settings: Settings, whisper: WhisperTranscriber, analyzer: OfflineAnalyzer,
              tmp: Path) -> dict[str, float]:
    """The three stages' own work on one file in this process, cut into chunks as the app cuts long audio."""
    audio = tmp / f"bare-{path.stem}.flac"
    t0 = time.perf_counter()
    extract_audio(path, audio, 600)
    t1 = time.perf_counter()
    wait = diarize_in_thread(settings, audio)
    chunked = chunk_audio(settings, audio, tmp)
    transcript = run_providers([whisper], audio, chunked).transcripts[0]
    wait()
    t2 = time.perf_counter()
    analyzer.analyze(build_agent_transcript(uuid.uuid4(), transcript))
    return {"extract": t1 - t0, "transcribe": t2 - t1, "analyze": time.perf_counter() - t2}


def wait_until_done(ctx: Context, session_id: uuid.UUID, timeout: float = 1800) -> str:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        with ctx.system_db() as db:
            status = db.scalar(sa.select(Session.status).where(Session.id == session_id))
        if status in ("ready", "failed"):
            return str(status)
        time.sleep(0.1)
    raise TimeoutError(f"session {session_id} not done in {timeout}s")


def through_app(tmp: Path, server: str, name: str, files: list[tuple[str, Path]],
                 warm_workers: int) -> tuple[list[tuple[str, uuid.UUID, float]], dict]:  # type: ignore[type-arg]
    """`files` uploaded one at a time through a fresh Ray with the real dispatcher; each session's upload-to-ready
    seconds and its stages' (wall, work) seconds."""
    ray.init(address="local", num_cpus=max(4, os.cpu_count() or 2), _node_ip_address="127.0.0.1",
             include_dashboard=False, log_to_driver=False, runtime_env=RUNTIME_ENV)
    try:
        ctx = make_context(server, tmp / name, transcribers="whisper", warm_workers=warm_workers)
        uploader = principal_for(ctx, Role.uploader)
        started = time.perf_counter()
        dispatcher = Dispatcher.options(name=f"bench-{name}").remote(ctx.settings, ctx.database_url,
                                                                     transcription_name=f"bench-{name}-asr")
        warm = ray.get(dispatcher.warmed.remote())
        print(f"{name}: dispatcher up{' and ' + str(len(warm)) + ' workers warm' if warm else ''} in "
              f"{time.perf_counter() - started:.1f}s", flush=True)
        sessions: list[tuple[str, uuid.UUID, float]] = []
        for label, media in files:
            started = time.perf_counter()
            with media.open("rb") as stream:
                session, _ = accept_upload(ctx, uploader, stream, media.name, None)
            status = wait_until_done(ctx, session.id)
            sessions.append((label, session.id, time.perf_counter() - started))
            print(f"{name}: {label} session {len(sessions)} {status} in {sessions[-1][2]:.2f}s", flush=True)
        ray.get(dispatcher.stop.remote())
        with ctx.system_db() as db:
            rows = db.execute(sa.select(StageEvent.session_id, StageEvent.stage, StageEvent.duration_seconds,
                                        StageEvent.work_seconds).where(StageEvent.event == "ready")).all()
    finally:
        ray.shutdown()
    return sessions, {(r.session_id, r.stage): (r.duration_seconds, r.work_seconds or 0.0) for r in rows}


STAGE_NAMES = ("extract", "transcribe", "analyze")


def print_overhead(name: str, group: list[tuple[str, uuid.UUID, float]], timing: dict,  # type: ignore[type-arg]
                   bare: dict[str, float]) -> None:
    for stage in (*STAGE_NAMES, None):
        stages_here = STAGE_NAMES if stage is None else (stage,)
        wall = sum(timing[(sid, s)][0] for _, sid, _ in group for s in stages_here) / len(group)
        work = sum(timing[(sid, s)][1] for _, sid, _ in group for s in stages_here) / len(group)
        bare_seconds = sum(bare[s] for s in stages_here)
        tail = (f"   upload to ready {sum(seconds for _, _, seconds in group) / len(group):.2f}s"
                if stage is None else "")
        print(f"{name:<26} {stage or 'all stages':<11} {wall:>8.2f} {work:>8.2f} {bare_seconds:>8.2f} "
              f"{1 - work / wall:>8.0%}{tail}")


def overhead(tmp: Path, warm_runs: int = 3) -> None:
    """Section 2: sessions one at a time through the running app, on a fresh Ray without and with warm workers;
    per stage wall, recorded work and bare work."""
    short = ROOT / "samples" / "checkin-risk.mp3"
    long_audio = ten_minutes(tmp)
    server = start_embedded_postgres(tmp / "pg")
    shorts = [("40 s", short)] * (1 + warm_runs)
    cold_sessions, cold_timing = through_app(tmp, server, "cold", shorts, warm_workers=0)
    sessions, timing = through_app(tmp, server, "warm", [*shorts, ("10 min", long_audio), ("10 min", long_audio)],
                                   warm_workers=Settings.model_fields["warm_workers"].default)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    whisper = WhisperTranscriber(default_model_dir(), cpu_threads=settings.whisper_threads)
    analyzer = OfflineAnalyzer()
    bare_work(short, settings, whisper, analyzer, tmp)  # warm: loads, first calls
    bare = {"40 s": bare_work(short, settings, whisper, analyzer, tmp),
            "10 min": bare_work(long_audio, settings, whisper, analyzer, tmp)}
    print(f"\n{'sessions':<26} {'stage':<11} {'wall s':>8} {'work s':>8} {'bare s':>8} {'overhead':>9}")
    print_overhead("40 s, first, no warm-up", cold_sessions[:1], cold_timing, bare["40 s"])
    print_overhead("40 s, first, warm workers", sessions[:1], timing, bare["40 s"])
    print_overhead(f"40 s, next {warm_runs}", sessions[1:1 + warm_runs], timing, bare["40 s"])
    print_overhead("10 min (2)", sessions[1 + warm_runs:], timing, bare["10 min"])


def decoding(tmp: Path) -> None:
    """Section 3: the 10-minute recording, tiny.en greedy: one piece window by window, one piece batched (8), and
    cut into 2-minute chunks decoded two at a time and stitched (the app's way for long audio)."""
    audio = ten_minutes(tmp)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    ways = {"one piece, window by window": (DecodeOptions(batch_size=0), False),
            "one piece, batched 8": (DecodeOptions(batch_size=8), False),
            "2-min chunks, 2 at a time": (DecodeOptions(batch_size=0), True)}
    for round_ in (1, 2):
        timings = {}
        for label, (options, chunked) in ways.items():
            whisper = WhisperTranscriber(default_model_dir(), cpu_threads=settings.whisper_threads,
                                         num_workers=2 if chunked else 1, options=options)
            started = time.perf_counter()
            chunks = chunk_audio(settings, audio, tmp) if chunked else None
            result = run_providers([whisper], audio, chunks).transcripts[0]
            timings[label] = time.perf_counter() - started
            print(f"round {round_}, {label}: {timings[label]:.1f}s ({result.duration / timings[label]:.1f}x real "
                  f"time), {len(result.words)} words", flush=True)
        base = timings["one piece, window by window"]
        print(f"round {round_}: batched {base / timings['one piece, batched 8']:.2f}x, chunks "
              f"{base / timings['2-min chunks, 2 at a time']:.2f}x the speed of window by window")


SECTIONS = {"stages": lambda tmp: stages(), "overhead": overhead, "decoding": decoding}


def main() -> None:
    wanted = sys.argv[1:] or list(SECTIONS)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-pipeline-") as tmp:
        for name in wanted:
            print(f"\n== {name}", flush=True)
            SECTIONS[name](Path(tmp))


if __name__ == "__main__":
    main()
