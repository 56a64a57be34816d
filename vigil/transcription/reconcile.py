"""Reconciling several providers' transcripts into one, ROVER-style.

1. Alignment: the hypotheses are aligned one after another into a word transition network, a list
   of slots holding each provider's word or nothing. A word costs nothing against a slot that
   already holds the same (normalised) word; otherwise the usual edit costs apply.
2. Voting: in each slot every candidate (a word, or "nothing") scores
   `ALPHA * share of providers voting for it + (1 - ALPHA) * its mean confidence`, where "nothing"
   carries `NULL_CONFIDENCE`. The best candidate wins; a winning "nothing" drops the slot.
The winning word keeps its provider's original spelling, timings and speaker, and records which
provider it came from and how confident the vote was.

Fiscus (1997), "A post-processing system to yield reduced word error rates: ROVER".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations

from pydantic import BaseModel

from vigil.schemas.transcripts import (
    DisagreementRegion,
    ProviderTranscript,
    ReconciledWord,
    ReconciliationSummary,
    Segment,
    Word,
)
from vigil.transcription.coverage import in_time_order
from vigil.transcription.quality import normalise_words, word_error_rate

ALPHA = 0.6
NULL_CONFIDENCE = 0.5
DEFAULT_CONFIDENCE = 0.7  # for providers that give no per-word confidence


class ReconciledTranscript(BaseModel):
    words: list[ReconciledWord]
    segments: list[Segment]
    summary: ReconciliationSummary


@dataclass
class _Slot:
    words: dict[str, Word | None] = field(default_factory=dict)

    def keys(self) -> set[str]:
        return {_norm(w.text) for w in self.words.values() if w is not None}


def _norm(text: str) -> str:
    return " ".join(normalise_words(text))


def _align(slots: list[_Slot], provider: str, hypothesis: list[Word], earlier: list[str]) -> list[_Slot]:
    """Edit-distance alignment of one hypothesis against the network built so far."""
    n, m = len(slots), len(hypothesis)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i
    for j in range(1, m + 1):
        cost[0][j] = j
    keys = [slot.keys() for slot in slots]
    normed = [_norm(w.text) for w in hypothesis]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            match = 0 if normed[j - 1] in keys[i - 1] else 1
            cost[i][j] = min(cost[i - 1][j - 1] + match, cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    aligned: list[_Slot] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (0 if normed[j - 1] in keys[i - 1] else 1):
            slots[i - 1].words[provider] = hypothesis[j - 1]
            aligned.append(slots[i - 1])
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            slots[i - 1].words[provider] = None
            aligned.append(slots[i - 1])
            i -= 1
        else:
            inserted = _Slot({name: None for name in earlier})
            inserted.words[provider] = hypothesis[j - 1]
            aligned.append(inserted)
            j -= 1
    aligned.reverse()
    return aligned


def _confidence(word: Word) -> float:
    return word.confidence if word.confidence is not None else DEFAULT_CONFIDENCE


def _vote(slot: _Slot, providers: list[str]) -> tuple[ReconciledWord | None, float]:
    groups: dict[str, list[tuple[str, Word]]] = defaultdict(list)
    nulls = 0
    for name in providers:
        word = slot.words.get(name)
        if word is None:
            nulls += 1
        else:
            groups[_norm(word.text)].append((name, word))
    total = len(providers)
    best_key, best_score = None, ALPHA * nulls / total + (1 - ALPHA) * NULL_CONFIDENCE if nulls else -1.0
    for key, members in groups.items():
        mean_conf = sum(_confidence(w) for _, w in members) / len(members)
        score = ALPHA * len(members) / total + (1 - ALPHA) * mean_conf
        if score > best_score:
            best_key, best_score = key, score
    if best_key is None:
        return None, best_score
    source, word = max(groups[best_key], key=lambda member: _confidence(member[1]))
    return ReconciledWord(**word.model_dump(), source=source, votes=len(groups[best_key])), best_score


def _segments_for(words: list[ReconciledWord], frame: ProviderTranscript) -> list[Segment]:
    """Reconciled words grouped into the primary provider's segments, by start time."""
    if not frame.segments:
        return []
    bounds = [s.start for s in frame.segments[1:]] + [float("inf")]
    buckets: list[list[ReconciledWord]] = [[] for _ in frame.segments]
    index = 0
    for word in words:
        while word.start >= bounds[index]:
            index += 1
        buckets[index].append(word)
    segments = []
    for seg, bucket in zip(frame.segments, buckets, strict=True):
        if not bucket:
            continue
        confidence = sum(_confidence(w) for w in bucket) / len(bucket)
        segments.append(Segment(index=len(segments), start=min(seg.start, bucket[0].start),
                                end=max(seg.end, bucket[-1].end), text=" ".join(w.text for w in bucket),
                                speaker=seg.speaker, confidence=round(confidence, 4)))
    return segments


def reconcile_transcripts(transcripts: list[ProviderTranscript]) -> ReconciledTranscript:
    """One transcript from several. The first is the primary (it starts the alignment)."""
    if not transcripts:
        raise ValueError("nothing to reconcile")
    providers = [t.provider for t in transcripts]
    slots: list[_Slot] = [_Slot({providers[0]: w}) for w in transcripts[0].words]
    for k, transcript in enumerate(transcripts[1:], start=1):
        slots = _align(slots, transcript.provider, list(transcript.words), providers[:k])
    words: list[ReconciledWord] = []
    scores: list[float] = []
    wins: Counter[str] = Counter()
    agreed = 0
    disagreements: list[DisagreementRegion] = []
    for slot in slots:
        heard = {name: (slot.words.get(name).text if slot.words.get(name) else "") for name in providers}
        unanimous = len({_norm(t) for t in heard.values()}) == 1
        winner, score = _vote(slot, providers)
        scores.append(score)
        if unanimous:
            agreed += 1
        else:
            timed = [w for w in slot.words.values() if w is not None]
            disagreements.append(DisagreementRegion(start=min(w.start for w in timed),
                                                    end=max(w.end for w in timed), candidates=heard))
            if winner is not None:
                wins[winner.source] += 1
        if winner is not None:
            words.append(winner)
    texts = {t.provider: " ".join(w.text for w in t.words) for t in transcripts}
    summary = ReconciliationSummary(
        providers=providers,
        agreement_rate=round(agreed / len(slots), 4) if slots else 1.0,
        overall_confidence=round(sum(scores) / len(scores), 4) if scores else 0.0,
        wins=dict(wins),
        disagreements=disagreements,
        pairwise_wer={f"{a}|{b}": round(word_error_rate(texts[a], texts[b]), 4)
                      for a, b in combinations(providers, 2)},
        mean_confidence={t.provider: (round(sum(_confidence(w) for w in t.words) / len(t.words), 4)
                                      if t.words else None) for t in transcripts},
    )
    # Segments (and so speakers) come from the first provider that diarized, else from the primary.
    frame = next((t for t in transcripts if any(seg.speaker for seg in t.segments)), transcripts[0])
    segments = _segments_for(words, frame) + _still_inaudible(transcripts, words)
    return ReconciledTranscript(words=words, segments=in_time_order(segments), summary=summary)


def _still_inaudible(transcripts: list[ProviderTranscript], words: list[ReconciledWord]) -> list[Segment]:
    """A provider's inaudible marker stays where no reconciled word was heard; where another provider heard words,
    those words stand instead. The same stretch marked by two providers is marked once."""
    kept: list[Segment] = []
    for marker in (s for t in transcripts for s in t.segments if s.inaudible):
        heard = any(marker.start <= (w.start + w.end) / 2 <= marker.end for w in words)
        if not heard and not any(k.start < marker.end and marker.start < k.end for k in kept):
            kept.append(marker)
    return kept
