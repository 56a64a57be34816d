"""Offline diarization: who spoke when, from the audio alone.

Speech is found by the Silero VAD that faster-whisper ships; overlapping windows of it are embedded by a speaker
encoder (Resemblyzer's voice encoder, whose weights its wheel ships, or a model-free log-mel baseline kept for
comparison); the windows are clustered (agglomerative, cosine, average linkage) into 2..4 speakers, the number
chosen by silhouette with a lean towards two; each speech frame takes the speaker of its nearest window. Nothing is
downloaded at run time. `docs/transcription.md` has the measurements behind each choice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from vigil.errors import PermanentError
from vigil.schemas.transcripts import Diarization, SpeakerTurn
from vigil.settings import Settings

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME = 0.01  # seconds per decision frame
# Resemblyzer's encoder reads 1.6 s partials (160 mel frames); the log-mel baseline uses the same windows.
WINDOW_SECONDS = 1.6
# A window is clustered only when VAD says at least this share of it is speech.
MIN_SPEECH_SHARE = 0.5
# A speaker's pauses shorter than this are bridged: a pause inside a turn is still that speaker's turn.
BRIDGE_SECONDS = 0.5
# A run of frames shorter than this that touches another speaker's run with no pause between is a seam between
# windows (a window half over a turn change), not a turn: it joins the run it touches. A short run with pauses
# either side ("Yes.") stays a turn.
MIN_TURN_SECONDS = 0.5
# Two speakers is the default for a session; more are found only when they separate clearly better.
MORE_SPEAKERS_MARGIN = 0.1


class SpeakerEmbedder(Protocol):
    name: str

    def embed(self, audio: np.ndarray, hop_seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of WINDOW_SECONDS windows every `hop_seconds` → (embeddings [n, d], window starts [n] in
        seconds)."""
        ...


def log_mel(audio: np.ndarray) -> np.ndarray:
    """40 mel bands every 10 ms over 25 ms (what Resemblyzer's encoder was trained on), as [frames, 40]."""
    import librosa  # deferred: it loads slowly

    mel = librosa.feature.melspectrogram(y=audio.astype(np.float32), sr=SAMPLE_RATE, n_fft=400, hop_length=160,
                                         n_mels=40)
    return mel.astype(np.float32).T


def windows(frames: int, hop_seconds: float) -> list[int]:
    """First mel frame of each WINDOW_SECONDS window every `hop_seconds`; the last one reaches the end."""
    width, step = int(round(WINDOW_SECONDS / FRAME)), max(1, int(round(hop_seconds / FRAME)))
    starts = list(range(0, max(1, frames - width + 1), step))
    if frames > width and starts[-1] + width < frames:
        starts.append(frames - width)
    return starts


class ResemblyzerEmbedder:
    """Resemblyzer's GE2E voice encoder (3-layer LSTM over 40 mel bands → 256-d d-vector). Its weights ship in
    the `resemblyzer` wheel. The network is declared here rather than imported, because importing `resemblyzer`
    imports `webrtcvad`, whose release needs `pkg_resources`, which current setuptools no longer has; the
    weights file is read where the wheel installed it (tests/unit/test_diarization.py checks it loads whole)."""

    name = "resemblyzer"

    def __init__(self) -> None:
        import importlib.util

        import torch  # deferred: torch is heavy, and only diarization needs it here

        # One thread: measured 6x faster than two on a busy 2-core machine, and the decode runs beside it.
        torch.set_num_threads(1)

        spec = importlib.util.find_spec("resemblyzer")  # finds the package without running its __init__
        if spec is None or not spec.submodule_search_locations:
            raise PermanentError("the resemblyzer package is not installed", code="model_missing")
        weights = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
        self._torch = torch
        self._net = _voice_encoder_network(torch)
        state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
        # The checkpoint also holds the GE2E loss's similarity scale and bias, used only in training.
        self._net.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
        self._net.eval()
        self._lock = threading.Lock()

    def embed(self, audio: np.ndarray, hop_seconds: float) -> tuple[np.ndarray, np.ndarray]:
        width = int(round(WINDOW_SECONDS / FRAME))
        mel = log_mel(_normalized(audio))  # the encoder takes mel power, not its log, as Resemblyzer feeds it
        if len(mel) < width:
            mel = np.pad(mel, ((0, width - len(mel)), (0, 0)))
        starts = windows(len(mel), hop_seconds)
        batch = np.stack([mel[s:s + width] for s in starts])
        torch = self._torch
        with self._lock, torch.inference_mode():
            embeddings = np.concatenate([self._net(torch.from_numpy(batch[i:i + 64])).numpy()
                                         for i in range(0, len(batch), 64)])
        return embeddings, np.array(starts) * FRAME


def _voice_encoder_network(torch):  # type: ignore[no-untyped-def]
    class VoiceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = torch.nn.LSTM(40, 256, 3, batch_first=True)
            self.linear = torch.nn.Linear(256, 256)
            self.relu = torch.nn.ReLU()

        def forward(self, mels):  # type: ignore[no-untyped-def]
            _, (hidden, _) = self.lstm(mels)
            raw = self.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True)

    return VoiceEncoder()


def _normalized(audio: np.ndarray, target_dbfs: float = -30.0) -> np.ndarray:
    """Quiet recordings raised to -30 dBFS, as Resemblyzer prepares its input; loud ones left alone."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rms <= 0:
        return audio
    gain_db = target_dbfs - 20 * np.log10(rms)
    return audio * (10 ** (gain_db / 20)) if gain_db > 0 else audio


class LogMelEmbedder:
    """No model: each window's 40 log-mel bands, mean and spread, standardised over the session. A baseline that
    tells how much the voice encoder adds."""

    name = "logmel"

    def embed(self, audio: np.ndarray, hop_seconds: float) -> tuple[np.ndarray, np.ndarray]:
        mel = np.log(log_mel(audio) + 1e-6)
        width = int(round(WINDOW_SECONDS / FRAME))
        starts = windows(len(mel), hop_seconds)
        features = np.stack([np.concatenate([mel[s:s + width].mean(0), mel[s:s + width].std(0)]) for s in starts])
        features = (features - features.mean(0)) / (features.std(0) + 1e-6)
        return features, np.array(starts) * FRAME


EMBEDDERS = {"resemblyzer": ResemblyzerEmbedder, "logmel": LogMelEmbedder}


def load_audio(path: Path) -> np.ndarray:
    from faster_whisper.audio import decode_audio  # deferred: PyAV

    return decode_audio(str(path), sampling_rate=SAMPLE_RATE)


def speech_mask(audio: np.ndarray) -> np.ndarray:
    """One boolean per FRAME: speech or not, by the Silero VAD faster-whisper ships (short pauses count as
    pauses, so the gaps between turns are found)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100, min_speech_duration_ms=100)
    mask = np.zeros(int(np.ceil(len(audio) / SAMPLE_RATE / FRAME)), dtype=bool)
    for span in get_speech_timestamps(audio, options):
        mask[int(span["start"] / SAMPLE_RATE / FRAME):int(np.ceil(span["end"] / SAMPLE_RATE / FRAME))] = True
    return mask


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray
    speakers: int
    silhouettes: dict[int, float]


def cluster_windows(embeddings: np.ndarray, min_speakers: int = 2, max_speakers: int = 4,
                    speakers: int | None = None) -> Clustering:
    """Agglomerative clustering on cosine distance. With `speakers` unset, the count is estimated: the best
    silhouette among min..max, but more than `min_speakers` only when it beats that by MORE_SPEAKERS_MARGIN."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = len(embeddings)
    if n < 2:
        return Clustering(np.zeros(n, dtype=int), min(n, 1), {})
    normed = embeddings / (np.linalg.norm(embeddings, axis=1, keepdims=True) + 1e-9)

    def fit(k: int) -> np.ndarray:
        return AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(normed)

    if speakers is not None:
        k = min(speakers, n)
        return Clustering(fit(k) if k > 1 else np.zeros(n, dtype=int), k, {})
    candidates = {k: fit(k) for k in range(max(2, min_speakers), min(max_speakers, n - 1) + 1)}
    if not candidates:
        return Clustering(np.zeros(n, dtype=int), 1, {})
    scores = {k: float(silhouette_score(normed, labels, metric="cosine")) if len(set(labels)) > 1 else -1.0
              for k, labels in candidates.items()}
    base = min(candidates)
    best = max(scores, key=lambda k: scores[k])
    chosen = best if scores[best] >= scores[base] + MORE_SPEAKERS_MARGIN else base
    return Clustering(candidates[chosen], chosen, scores)


def smooth(labels: np.ndarray) -> np.ndarray:
    """A lone window between two neighbours that agree takes their speaker: one window is too short a turn."""
    out = labels.copy()
    for i in range(1, len(labels) - 1):
        if labels[i - 1] == labels[i + 1] != labels[i]:
            out[i] = labels[i - 1]
    return out


def frame_labels(mask: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each speech frame takes the label of the window whose centre is nearest; silence is -1."""
    out = np.full(len(mask), -1, dtype=int)
    if len(centers) == 0:
        return out
    speech = np.flatnonzero(mask)
    times = (speech + 0.5) * FRAME
    position = np.clip(np.searchsorted(centers, times), 1, len(centers) - 1) if len(centers) > 1 else None
    if position is None:
        out[speech] = labels[0]
        return out
    left, right = centers[position - 1], centers[position]
    nearest = np.where(np.abs(times - left) <= np.abs(right - times), position - 1, position)
    out[speech] = labels[nearest]
    return out


def turns_from_frames(frames: np.ndarray) -> list[SpeakerTurn]:
    """Runs of one label → turns named S1, S2 … in order of first appearance, a speaker's short pauses bridged."""
    spans: list[list[float | int]] = []
    start = None
    for i, label in enumerate([*frames.tolist(), -1]):
        if start is not None and label != frames[start]:
            spans.append([int(frames[start]), start * FRAME, i * FRAME])
            start = None
        if start is None and label >= 0:
            start = i
    kept: list[list[float | int]] = []
    for i, span in enumerate(spans):
        if span[2] - span[1] >= MIN_TURN_SECONDS:
            kept.append(span)
        elif kept and abs(kept[-1][2] - span[1]) < FRAME / 2:
            kept[-1][2] = span[2]
        elif i + 1 < len(spans) and abs(spans[i + 1][1] - span[2]) < FRAME / 2:
            spans[i + 1][1] = span[1]
        else:
            kept.append(span)
    merged: list[list[float | int]] = []
    for span in kept:
        if merged and merged[-1][0] == span[0] and span[1] - merged[-1][2] < BRIDGE_SECONDS:
            merged[-1][2] = span[2]
        else:
            merged.append(span)
    names: dict[int, str] = {}
    for label, _, _ in merged:
        names.setdefault(int(label), f"S{len(names) + 1}")
    return [SpeakerTurn(speaker=names[int(label)], start=round(float(s), 2), end=round(float(e), 2))
            for label, s, e in merged]


class Diarizer:
    def __init__(self, embedder: SpeakerEmbedder, hop_seconds: float = 0.75, min_speakers: int = 2,
                 max_speakers: int = 4, speakers: int | None = None) -> None:
        self.embedder = embedder
        self.hop_seconds = hop_seconds
        self.min_speakers, self.max_speakers, self.speakers = min_speakers, max_speakers, speakers

    @property
    def model(self) -> str:
        return f"{self.embedder.name}+agglomerative"

    def diarize(self, audio_path: Path) -> Diarization:
        started = time.perf_counter()
        audio = load_audio(audio_path)
        if len(audio) == 0:
            raise PermanentError("the audio is empty", code="empty_audio")
        mask = speech_mask(audio)
        embeddings, starts = self.embedder.embed(audio, self.hop_seconds)
        centers = starts + WINDOW_SECONDS / 2
        keep = np.array([_speech_share(mask, s) >= MIN_SPEECH_SHARE for s in starts], dtype=bool)
        embeddings, centers = embeddings[keep], centers[keep]
        clustering = cluster_windows(embeddings, self.min_speakers, self.max_speakers, self.speakers)
        frames = frame_labels(mask, centers, smooth(clustering.labels))
        turns = turns_from_frames(frames)
        seconds = round(time.perf_counter() - started, 3)
        log.info("diarized", extra={"speakers": clustering.speakers, "windows": len(centers), "seconds": seconds,
                                    "silhouettes": clustering.silhouettes})
        return Diarization(model=self.model, speakers=len({t.speaker for t in turns}), turns=turns, seconds=seconds)


def _speech_share(mask: np.ndarray, start: float) -> float:
    window = mask[int(start / FRAME):int((start + WINDOW_SECONDS) / FRAME)]
    return float(window.mean()) if len(window) else 0.0


def build_diarizer(embedder: str, hop_seconds: float = 0.75, min_speakers: int = 2, max_speakers: int = 4,
                   speakers: int | None = None) -> Diarizer:
    if embedder not in EMBEDDERS:
        raise PermanentError(f"unknown speaker embedder {embedder!r}; known: {', '.join(EMBEDDERS)}",
                             code="bad_config")
    return Diarizer(EMBEDDERS[embedder](), hop_seconds, min_speakers, max_speakers, speakers)


@lru_cache(maxsize=4)
def shared_diarizer(embedder: str, hop_seconds: float, max_speakers: int, speakers: int | None) -> Diarizer:
    """One diarizer per setting per process: the encoder loads once (about 1.5 s) and is kept."""
    return build_diarizer(embedder, hop_seconds, 2, max_speakers, speakers)


def diarizer_for(settings: Settings) -> Diarizer | None:
    """The deployment's diarizer, or None with DIARIZATION=off."""
    if settings.diarization == "off":
        return None
    return shared_diarizer(settings.diarization, settings.diarization_hop_seconds, settings.diarization_max_speakers,
                           settings.diarization_speakers)


# Starts diarizing an audio file and returns how to wait for the result; the transcribe stage calls it before the
# providers start and waits after they finish, so the two overlap (threads here; a Ray task in tasks/stages.py).
StartDiarization = Callable[[Settings, Path], Callable[[], Diarization]]


def diarize_in_thread(settings: Settings, audio: Path) -> Callable[[], Diarization]:
    diarizer = diarizer_for(settings)
    if diarizer is None:
        raise PermanentError("diarization is off", code="bad_config")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diarize")
    future = pool.submit(diarizer.diarize, audio)
    pool.shutdown(wait=False)
    return future.result


def speakers_at(turns: Sequence[SpeakerTurn], start: float, end: float) -> str | None:
    """The speaker who talks most within [start, end]; with no overlap, the one whose turn is nearest."""
    best, best_overlap = None, 0.0
    for turn in turns:
        overlap = min(end, turn.end) - max(start, turn.start)
        if overlap > best_overlap:
            best, best_overlap = turn.speaker, overlap
    if best is not None or not turns:
        return best
    middle = (start + end) / 2
    return min(turns, key=lambda t: min(abs(middle - t.start), abs(middle - t.end))).speaker
