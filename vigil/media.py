"""Media inspection (PyAV, which bundles FFmpeg's libraries) and audio extraction (ffmpeg)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from vigil.errors import PermanentError, TransientError

# Containers we accept, by what the content turns out to be (not what the filename claims).
SUPPORTED_EXTENSIONS = {"wav", "mp3", "m4a", "mp4", "webm", "ogg", "flac", "mov", "mkv", "aac", "opus"}
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class MediaInfo:
    container: str
    duration_seconds: float | None
    has_audio: bool
    has_video: bool

    @property
    def media_type(self) -> str:
        return "video" if self.has_video else "audio"


def ffmpeg_binary() -> str:
    """ffmpeg on PATH, else the binary that the imageio-ffmpeg wheel ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_media(path: Path) -> MediaInfo:
    """Read the container header and stream list. Raises PermanentError for non-media or no audio."""
    import av

    if path.stat().st_size == 0:
        raise PermanentError("the file is empty", code="empty_file")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            has_audio = any(s.type == "audio" for s in container.streams)
            has_video = any(s.type == "video" and not _is_cover_art(s) for s in container.streams)
            duration = container.duration / 1_000_000 if container.duration else None
            fmt = container.format.name
    except (av.error.InvalidDataError, UnicodeDecodeError) as exc:
        raise PermanentError("not a recognised audio or video file", code="not_media") from exc
    except av.error.FFmpegError as exc:
        raise PermanentError(f"could not read the media: {exc}", code="unreadable_media") from exc
    if not has_audio:
        raise PermanentError("the file has no audio stream", code="no_audio")
    return MediaInfo(container=fmt, duration_seconds=duration, has_audio=has_audio, has_video=has_video)


def _is_cover_art(stream: object) -> bool:
    disposition = getattr(stream, "disposition", None)
    return bool(disposition is not None and "attached_pic" in str(disposition).lower())


def extract_audio(source: Path, target: Path, timeout_seconds: float) -> float:
    """Decode `source` to 16 kHz mono FLAC at `target`; returns the audio's duration in seconds.

    Corrupt media (undecodable data) and truncated media (ends before its header says it should)
    fail here with a PermanentError carrying ffmpeg's own words; nothing is left at `target`."""
    tmp = target.with_suffix(".partial.flac")
    cmd = (
        ffmpeg.input(str(source))
        .output(str(tmp), ac=1, ar=SAMPLE_RATE, vn=None, format="flac")
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-xerror")
        .overwrite_output()
        .compile(cmd=ffmpeg_binary())
    )
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_seconds, check=False)
    except subprocess.TimeoutExpired as exc:
        tmp.unlink(missing_ok=True)
        raise TransientError(f"ffmpeg took longer than {timeout_seconds:.0f}s", code="ffmpeg_timeout") from exc
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        message = detail[-1] if detail else f"exit code {done.returncode}"
        raise PermanentError(f"audio extraction failed: {message}", code="corrupt_media")
    duration = audio_duration(tmp)
    stderr = done.stderr.decode(errors="replace")
    # ffmpeg decodes what it can of a cut-off file and exits 0; its demuxer's warning is what tells.
    if "ended prematurely" in stderr:
        tmp.unlink(missing_ok=True)
        raise PermanentError(f"the file is truncated: it ends after {duration:.1f}s of audio, "
                             "before its container says it should", code="truncated_media")
    if duration <= 0.05:
        tmp.unlink(missing_ok=True)
        raise PermanentError("the media decodes to no audible audio", code="empty_audio")
    tmp.replace(target)
    return duration


def audio_duration(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return (container.duration or 0) / 1_000_000
