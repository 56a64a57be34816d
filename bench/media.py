"""Recordings the benches build from other recordings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vigil.media import extract_audio, ffmpeg_binary


def join_audio(sources: list[Path], out: Path, seconds: float | None = None) -> Path:
    """`sources` end to end as one 16 kHz mono FLAC at `out` (cut at `seconds` when given), made once: each source is
    extracted as the pipeline extracts it, so any media the app takes can be joined."""
    if out.exists():
        return out
    parts = []
    for index, source in enumerate(sources):
        parts.append(out.with_name(f"{out.stem}-part-{index}.flac"))
        extract_audio(source, parts[-1], 600)
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{part}'\n" for part in parts))
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    *(["-t", str(seconds)] if seconds else []), "-c:a", "flac", str(out)], check=True)
    return out
