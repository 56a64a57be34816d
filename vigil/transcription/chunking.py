"""Cutting long audio into chunks at silences, and stitching the chunks' transcripts back.

Each chunk owns the stretch between two cuts and is transcribed with a little audio either side
(`overlap`), so a word at a seam is heard whole by both neighbours. Stitching keeps a word only in
the chunk that owns its midpoint: a word on a seam appears once, and none falls between chunks."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import PermanentError, TransientError
from vigil.media import ffmpeg_binary
from vigil.schemas.transcripts import ProviderTranscript, Segment, Span, SpeechCoverage, Word

_SILENCE_START = re.compile(r"silence_start: (-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end: (-?[\d.]+)")


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float  # what is cut and transcribed, padded by the overlap
    end: float
    own_start: float  # what this chunk answers for when stitching
    own_end: float


def find_silences(audio: Path, timeout_seconds: float, noise_db: float = -35.0,
                  min_silence_seconds: float = 0.3) -> list[tuple[float, float]]:
    """(start, end) of each silence, from ffmpeg's silencedetect filter."""
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-i", str(audio),
           "-af", f"silencedetect=noise={noise_db}dB:d={min_silence_seconds}", "-f", "null", "-"]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_seconds, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TransientError("silence detection timed out", code="ffmpeg_timeout") from exc
    if done.returncode != 0:
        raise PermanentError("silence detection failed", code="corrupt_media")
    log = done.stderr.decode(errors="replace")
    starts = [float(m) for m in _SILENCE_START.findall(log)]
    ends = [float(m) for m in _SILENCE_END.findall(log)]
    return list(zip(starts, ends, strict=False))


def plan_chunks(duration: float, silences: list[tuple[float, float]], target_seconds: float = 120.0,
                overlap_seconds: float = 1.0, search_seconds: float = 20.0) -> list[Chunk]:
    """Cuts near every `target_seconds`, moved to the middle of the nearest silence within
    `search_seconds` (or left where they are when there is none)."""
    cuts: list[float] = []
    aim = target_seconds
    while aim < duration - target_seconds / 4:
        near = [(abs((s + e) / 2 - aim), (s + e) / 2) for s, e in silences if abs((s + e) / 2 - aim) <= search_seconds]
        cut = min(near)[1] if near else aim
        if not cuts or cut > cuts[-1] + 1.0:
            cuts.append(cut)
        aim = cut + target_seconds
    bounds = [0.0, *cuts, duration]
    return [Chunk(index=i, start=max(0.0, a - overlap_seconds), end=min(duration, b + overlap_seconds),
                  own_start=a, own_end=b) for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]


def cut_chunk(audio: Path, chunk: Chunk, target: Path, timeout_seconds: float) -> None:
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{chunk.start:.3f}",
           "-to", f"{chunk.end:.3f}", "-i", str(audio), "-c:a", "pcm_s16le", str(target)]
    try:
        subprocess.run(cmd, capture_output=True, timeout=timeout_seconds, check=True)
    except subprocess.TimeoutExpired as exc:
        raise TransientError("cutting a chunk timed out", code="ffmpeg_timeout") from exc
    except subprocess.CalledProcessError as exc:
        raise PermanentError(f"cutting a chunk failed: {exc.stderr.decode(errors='replace')[-200:]}",
                             code="corrupt_media") from exc


def cut_at_silences(audio: Path, duration: float, workdir: Path, target_seconds: float, overlap_seconds: float,
                    timeout_seconds: float) -> list[tuple[Chunk, Path]]:
    """Plan chunks at the audio's silences and cut each into `workdir`; returns them in order."""
    plan = plan_chunks(duration, find_silences(audio, timeout_seconds), target_seconds, overlap_seconds)
    files = []
    for chunk in plan:
        target = workdir / f"chunk-{chunk.index:04d}.wav"
        cut_chunk(audio, chunk, target, timeout_seconds)
        files.append((chunk, target))
    return files


def _owns(chunk: Chunk, start: float, end: float, last: bool) -> bool:
    middle = (start + end) / 2
    return chunk.own_start <= middle < chunk.own_end or (last and middle >= chunk.own_end)


def stitch(parts: list[tuple[Chunk, ProviderTranscript]], duration: float) -> ProviderTranscript:
    """One transcript with absolute times from per-chunk transcripts (chunk times start at 0)."""
    words: list[Word] = []
    segments: list[Segment] = []
    ordered = sorted(parts, key=lambda part: part[0].index)
    for position, (chunk, transcript) in enumerate(ordered):
        last = position == len(ordered) - 1
        for word in transcript.words:
            start, end = word.start + chunk.start, word.end + chunk.start
            if _owns(chunk, start, end, last):
                words.append(word.model_copy(update={"start": round(start, 3), "end": round(end, 3)}))
        for seg in transcript.segments:
            start, end = seg.start + chunk.start, seg.end + chunk.start
            if _owns(chunk, start, end, last):
                segments.append(seg.model_copy(update={"index": len(segments), "start": round(start, 3),
                                                       "end": round(end, 3)}))
    first = ordered[0][1]
    return ProviderTranscript(provider=first.provider, model=first.model, language=first.language,
                              duration=duration, words=words, segments=segments,
                              raw={"chunks": [{"index": c.index, "start": c.start, "end": c.end, "raw": t.raw}
                                              for c, t in ordered]},
                              coverage=_stitched_coverage(ordered))


def _owned_spans(chunk: Chunk, spans: list[Span], last: bool) -> list[Span]:
    """A chunk's spans in absolute time, cut to the stretch the chunk owns."""
    own_end = float("inf") if last else chunk.own_end
    shifted = ((max(s.start + chunk.start, chunk.own_start), min(s.end + chunk.start, own_end)) for s in spans)
    return [Span(start=round(a, 3), end=round(b, 3)) for a, b in shifted if b > a]


def _stitched_coverage(ordered: list[tuple[Chunk, ProviderTranscript]]) -> SpeechCoverage | None:
    if not all(t.coverage for _, t in ordered):
        return None
    parts = [(chunk, t.coverage, i == len(ordered) - 1) for i, (chunk, t) in enumerate(ordered) if t.coverage]
    return SpeechCoverage(speech=[s for c, cov, last in parts for s in _owned_spans(c, cov.speech, last)],
                          redecoded=[s for c, cov, last in parts for s in _owned_spans(c, cov.redecoded, last)],
                          inaudible=[s for c, cov, last in parts for s in _owned_spans(c, cov.inaudible, last)])
