"""Conversation analytics computed locally from the transcript's timed segments: talk time and pace per speaker and
per role (counselor, client: the roles the analysis reads, see `vigil.analysis.text.roles`), filler words, long
silences and interruptions. No model, no network; the same transcript always gives the same figures."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from vigil.analysis.text.turns import read_turns
from vigil.schemas.transcripts import AgentTranscript

LONG_SILENCE_SECONDS = 3.0
# A turn that starts this long before the other speaker's turn ended is an interruption (overlapping speech).
INTERRUPTION_OVERLAP_SECONDS = 0.3
FILLERS = ("um", "uh", "er", "erm", "hmm", "mm", "like", "you know", "i mean", "sort of", "kind of")
_FILLER = re.compile(r"\b(" + "|".join(re.escape(f) for f in sorted(FILLERS, key=len, reverse=True)) + r")\b", re.I)
_WORD = re.compile(r"[\w']+")


def conversation_analytics(transcript: AgentTranscript) -> dict[str, Any]:
    speakers: dict[str, dict[str, float]] = defaultdict(lambda: {"seconds": 0.0, "words": 0, "turns": 0,
                                                                 "fillers": 0, "interruptions": 0})
    fillers_by_word: dict[str, int] = defaultdict(int)
    silences: list[dict[str, float]] = []
    segments = sorted(transcript.segments, key=lambda s: (s.start, s.index))
    for i, segment in enumerate(segments):
        who = segment.speaker or "unknown"
        stats = speakers[who]
        stats["seconds"] += max(0.0, segment.end - segment.start)
        stats["words"] += len(_WORD.findall(segment.text))
        stats["turns"] += 1
        for match in _FILLER.finditer(segment.text):
            stats["fillers"] += 1
            fillers_by_word[match.group(1).lower()] += 1
        if i == 0:
            continue
        before = segments[i - 1]
        gap = segment.start - before.end
        if gap >= LONG_SILENCE_SECONDS:
            silences.append({"start": round(before.end, 2), "end": round(segment.start, 2), "seconds": round(gap, 2)})
        if before.speaker != segment.speaker and -gap >= INTERRUPTION_OVERLAP_SECONDS:
            stats["interruptions"] += 1
    talk_total = sum(s["seconds"] for s in speakers.values()) or None
    per_speaker = {
        who: {"talk_seconds": round(s["seconds"], 2),
              "talk_share": round(s["seconds"] / talk_total, 3) if talk_total else None,
              "words": int(s["words"]), "turns": int(s["turns"]),
              "words_per_minute": round(s["words"] / s["seconds"] * 60, 1) if s["seconds"] > 0 else None,
              "fillers": int(s["fillers"]), "interruptions": int(s["interruptions"])}
        for who, s in speakers.items()
    }
    words = sum(s["words"] for s in speakers.values())
    by_role: dict[str, dict[str, float]] = {role: {"seconds": 0.0, "words": 0, "turns": 0}
                                            for role in ("counselor", "client")}
    for turn in read_turns(transcript.segments, transcript.roles):
        stats = by_role[turn.role.value]
        stats["seconds"] += max(0.0, turn.segment.end - turn.segment.start)
        stats["words"] += len(_WORD.findall(turn.segment.text))
        stats["turns"] += 1
    per_role = {role: {"talk_seconds": round(s["seconds"], 2),
                       "talk_share": round(s["seconds"] / talk_total, 3) if talk_total else None,
                       "words": int(s["words"]), "turns": int(s["turns"])} for role, s in by_role.items()}
    return {
        "duration_seconds": round(transcript.duration, 2),
        "speakers": per_speaker,
        "roles": per_role,
        "roles_source": transcript.roles.source if transcript.roles else "inference",
        "words_per_minute": round(words / transcript.duration * 60, 1) if transcript.duration > 0 else None,
        "fillers": dict(sorted(fillers_by_word.items())),
        "long_silences": silences,
        "long_silence_seconds": LONG_SILENCE_SECONDS,
        "interruptions": sum(int(s["interruptions"]) for s in speakers.values()),
    }
