"""The labelled-session JSONL format (`../shared/data/README.md`), read into typed records.

One session per line: its turns (speaker, text, optional times) and its labels (risk categories,
MI quality, optional per-turn behaviour codes). `to_transcript` turns a record into the
`AgentTranscript` the analyzers read, so a dataset session and a production session take the same path.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.schemas.enums import RiskCategory
from vigil.schemas.transcripts import AgentTranscript, Segment, TranscriptMetrics

Behaviour = Literal["question", "reflection", "therapist_input", "other"]
MiQuality = Literal["high", "low"]


class LabelledTurn(BaseModel):
    model_config = ConfigDict(extra="allow")
    speaker: str
    text: str
    start: float | None = None
    end: float | None = None


class TurnLabel(BaseModel):
    model_config = ConfigDict(extra="allow")  # reflection/question subtypes, client_talk, ...
    index: int
    behaviour: Behaviour | None = None


class SessionLabels(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. `cssrs`
    risk: list[RiskCategory] = Field(default_factory=list)
    mi_quality: MiQuality | None = None
    turns: list[TurnLabel] = Field(default_factory=list)


class LabelledSession(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    source: str | None = None
    turns: list[LabelledTurn]
    labels: SessionLabels = Field(default_factory=SessionLabels)

    def to_transcript(self) -> AgentTranscript:
        """Turns as segments; a turn without an end ends where the next begins, and sources without times
        get one second per turn, in order."""
        segments = []
        for index, turn in enumerate(self.turns):
            start = turn.start if turn.start is not None else float(index)
            following = self.turns[index + 1].start if index + 1 < len(self.turns) else None
            end = turn.end if turn.end is not None else following if following is not None else start + 1.0
            segments.append(Segment(index=index, start=start, end=max(end, start), text=turn.text,
                                    speaker=turn.speaker))
        duration = max((s.end for s in segments), default=0.0)
        words = sum(len(t.text.split()) for t in self.turns)
        return AgentTranscript(
            session_id=uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-dataset:{self.id}"),
            provider="dataset", language="en", duration=duration, text=" ".join(t.text for t in self.turns),
            segments=segments,
            metrics=TranscriptMetrics(word_count=words, duration_seconds=duration,
                                      speaking_rate_wpm=round(words / duration * 60, 1) if duration else 0.0,
                                      mean_confidence=None, low_confidence_share=None))


def read_dataset(path: Path | str) -> list[LabelledSession]:
    return list(iter_dataset(path))


def iter_dataset(path: Path | str) -> Iterator[LabelledSession]:
    """Each line as a `LabelledSession`; a bad line fails with its line number."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield LabelledSession.model_validate(json.loads(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not a labelled session: {exc}") from exc


def turn_behaviours(session: LabelledSession) -> dict[int, str]:
    """Turn index → its labelled behaviour, for the turns that have one."""
    return {t.index: t.behaviour for t in session.labels.turns if t.behaviour is not None}


def as_json(session: LabelledSession) -> dict[str, Any]:
    return session.model_dump(mode="json")
