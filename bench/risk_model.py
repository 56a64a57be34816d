"""The risk model's sentence encoder behind Ray Serve, measured side by side in one run on a local Ray:

  1. sentences per second through the deployment, three ways over the same client sentences: one call per
     sentence, one after another (no batching possible); one call per sentence with many in flight (Serve's
     `@serve.batch` gathers them); a session's sentences in parts of 64, all sent at once (what the analyze
     stage does). Ratios against the first; the in-process encoder (all at once, and one sentence a call) as
     the reference without Serve;
  2. the analyze stage (`run_analysis_tasks`: refinement, analytics, risk + rubric, summary) of a 60-minute
     session, offline sentence-model analyzer, encoder through the deployment, wall seconds (target <= 10 s);
  3. the deployment's memory: resident set of its replica process, after the runs.

Sentences are the client turns of the AnnoMI development sessions (`--data-dir`), or written ones when the data
is not there (said in the output). The 60-minute session is AnnoMI sessions laid end to end until 9,000 words
(about 150 spoken words a minute), or the written sentences repeated.

    .venv/bin/python bench/risk_model.py [--data-dir ../shared/data] [--sentences 600] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tasks.risk_scoring import APP_NAME, DEPLOYMENT_NAME, ServeEncoder  # noqa: E402
from vigil.analysis.analyzers.offline import OfflineAnalyzer  # noqa: E402
from vigil.analysis.risk.encoder import shipped_encoder  # noqa: E402
from vigil.evaluation.dataset import LabelledSession, LabelledTurn, read_dataset  # noqa: E402
from vigil.schemas.transcripts import AgentTranscript
from vigil.services.pipeline import run_analysis_tasks  # noqa: E402

ANNOMI = "annomi/annomi-dev.jsonl"
WORDS_PER_MINUTE = 150
WRITTEN = ["I have been sleeping badly since the move.", "Work is fine, I suppose, a bit busy.",
           "Some days I wonder what the point of any of it is.", "My sister came over on Sunday with the kids.",
           "I had two drinks on Friday, nothing more.", "I cut myself again on Tuesday night."]


def load_turns(data_dir: Path) -> tuple[list[tuple[str, str]], str]:
    """(speaker, text) of every AnnoMI development turn, in order, or the written sentences as client turns."""
    path = data_dir / ANNOMI
    if not path.exists():
        return [("client", text) for text in WRITTEN], f"written sentences ({path} not found)"
    turns = [(turn.speaker, turn.text) for record in read_dataset(path) for turn in record.turns]
    return turns, f"AnnoMI development sessions ({path})"


def client_sentences(turns: list[tuple[str, str]], count: int) -> list[str]:
    pool = [s for speaker, text in turns if speaker == "client" for s in re.split(r"(?<=[.!?])\s+", text)
            if len(s.split()) >= 3] or WRITTEN
    return [pool[i % len(pool)] for i in range(count)]


def sixty_minutes(turns: list[tuple[str, str]]) -> AgentTranscript:
    laid: list[LabelledTurn] = []
    words, start = 0, 0.0
    while words < 60 * WORDS_PER_MINUTE:
        speaker, text = turns[len(laid) % len(turns)]
        length = len(text.split()) * 60.0 / WORDS_PER_MINUTE
        laid.append(LabelledTurn(speaker=speaker, text=text, start=start, end=start + length))
        words, start = words + len(text.split()), start + length
    return LabelledSession(id="bench-60-minutes", turns=laid).to_transcript()


def rate(sentences: int, seconds: float) -> float:
    return round(sentences / seconds, 1)


def throughput(handle: Any, sentences: list[str], in_flight: int = 32) -> dict[str, Any]:
    encoder = shipped_encoder()
    out: dict[str, Any] = {"sentences": len(sentences)}
    started = time.perf_counter()
    for sentence in sentences:
        handle.encode.remote([sentence]).result()
    out["serve_one_call_per_sentence"] = rate(len(sentences), time.perf_counter() - started)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(lambda s: handle.encode.remote([s]).result(), sentences))
    out[f"serve_one_call_per_sentence_{in_flight}_in_flight"] = rate(len(sentences), time.perf_counter() - started)
    started = time.perf_counter()
    ServeEncoder().remote(sentences)
    out["serve_parts_of_64_at_once"] = rate(len(sentences), time.perf_counter() - started)
    started = time.perf_counter()
    for sentence in sentences:
        encoder.encode([sentence])
    out["in_process_one_sentence_a_call"] = rate(len(sentences), time.perf_counter() - started)
    started = time.perf_counter()
    encoder.encode(sentences)
    out["in_process_all_at_once"] = rate(len(sentences), time.perf_counter() - started)
    base = out["serve_one_call_per_sentence"]
    out["batched_over_one_call_per_sentence"] = round(out["serve_parts_of_64_at_once"] / base, 2)
    out["in_flight_over_one_call_per_sentence"] = round(
        out[f"serve_one_call_per_sentence_{in_flight}_in_flight"] / base, 2)
    return out


def analyze_stage(transcript: AgentTranscript) -> dict[str, Any]:
    analyzer = OfflineAnalyzer(ServeEncoder())
    started = time.perf_counter()
    run = run_analysis_tasks(transcript, analyzer)
    seconds = time.perf_counter() - started
    return {"session_minutes": round(transcript.duration / 60, 1), "turns": len(transcript.segments),
            "words": transcript.metrics.word_count, "stage_seconds": round(seconds, 2),
            "task_seconds": {name: outcome.seconds for name, outcome in run.outcomes.items()},
            "failed_tasks": [name for name, outcome in run.outcomes.items() if outcome.status != "succeeded"],
            "encoder_fallbacks": analyzer.encoder.fallbacks, "target_seconds": 10}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import ray
    from ray import serve

    from cli.stack import RUNTIME_ENV
    from serve.sentence_encoder import app

    turns, source = load_turns(args.data_dir)
    ray.init(address="local", num_cpus=4, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             runtime_env=RUNTIME_ENV, namespace=f"bench-risk-{uuid.uuid4().hex[:6]}")
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": 0})
        serve.run(app(), name=APP_NAME, route_prefix=None, blocking=False)
        handle = serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=APP_NAME)
        handle.encode.remote(["warm up"]).result(timeout_s=120)
        figures = {"source": source, "throughput": throughput(handle, client_sentences(turns, args.sentences)),
                   "analyze_60_minutes": analyze_stage(sixty_minutes(turns)),
                   "replica_memory_mb": handle.memory_mb.remote().result()}
    finally:
        serve.shutdown()
        ray.shutdown()
    if args.json:
        print(json.dumps(figures, indent=1))
        return
    t, a = figures["throughput"], figures["analyze_60_minutes"]
    print(f"sentences: {t['sentences']} from {source}")
    for key, value in t.items():
        if key != "sentences":
            print(f"  {key:48s} {value}")
    print(f"analyze stage, {a['session_minutes']}-minute session ({a['turns']} turns, {a['words']} words): "
          f"{a['stage_seconds']} s (target <= 10 s); tasks {a['task_seconds']}; fallbacks {a['encoder_fallbacks']}")
    print(f"SentenceEncoder replica memory: {figures['replica_memory_mb']} MB")


if __name__ == "__main__":
    main()
