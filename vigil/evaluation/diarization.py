"""Diarization error rate and word-level speaker accuracy, computed exactly (no frames, no collar).

DER = (missed speech + false alarm + speaker confusion) / total reference speech, the NIST definition that
`pyannote.metrics` also implements: time is cut at every reference and hypothesis boundary; in each piece with R
reference and H hypothesis speakers, missed is max(0, R−H), false alarm max(0, H−R), and confusion min(R, H)
less the reference speakers whose mapped hypothesis speaker is also talking there. Hypothesis labels are mapped
one-to-one onto reference labels to maximise the time they share (the Hungarian algorithm).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

Turn = tuple[str, float, float]  # speaker, start, end


@dataclass(frozen=True)
class DiarizationError:
    missed: float
    false_alarm: float
    confusion: float
    total: float
    mapping: dict[str, str]

    @property
    def der(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total else 0.0


def _pieces(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> list[tuple[float, set[str], set[str]]]:
    bounds = sorted({t for _, s, e in [*reference, *hypothesis] for t in (s, e)})
    pieces = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        middle = (start + end) / 2
        ref = {who for who, s, e in reference if s <= middle < e}
        hyp = {who for who, s, e in hypothesis if s <= middle < e}
        if ref or hyp:
            pieces.append((end - start, ref, hyp))
    return pieces


def optimal_mapping(overlap: dict[tuple[str, str], float]) -> dict[str, str]:
    """Hypothesis label → reference label, one-to-one, maximising the summed `overlap[(ref, hyp)]`."""
    refs = sorted({r for r, _ in overlap})
    hyps = sorted({h for _, h in overlap})
    if not refs or not hyps:
        return {}
    matrix = np.zeros((len(refs), len(hyps)))
    for (r, h), value in overlap.items():
        matrix[refs.index(r), hyps.index(h)] = value
    rows, cols = linear_sum_assignment(-matrix)
    return {hyps[c]: refs[r] for r, c in zip(rows, cols, strict=True) if matrix[r, c] > 0}


def diarization_error(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> DiarizationError:
    pieces = _pieces(reference, hypothesis)
    shared: dict[tuple[str, str], float] = defaultdict(float)
    for length, ref, hyp in pieces:
        for r in ref:
            for h in hyp:
                shared[(r, h)] += length
    mapping = optimal_mapping(shared)
    missed = false_alarm = confusion = total = 0.0
    for length, ref, hyp in pieces:
        total += length * len(ref)
        missed += length * max(0, len(ref) - len(hyp))
        false_alarm += length * max(0, len(hyp) - len(ref))
        correct = len(ref & {mapping[h] for h in hyp if h in mapping})
        confusion += length * (min(len(ref), len(hyp)) - correct)
    return DiarizationError(missed, false_alarm, confusion, total, mapping)


def speaker_word_accuracy(reference: Sequence[str | None], hypothesis: Sequence[str | None]) -> float:
    """Share of words whose hypothesis speaker, mapped one-to-one onto the reference's labels (to maximise
    agreement), is the reference speaker. A word with no hypothesis speaker counts as wrong; words with no
    reference speaker are left out."""
    pairs = [(r, h) for r, h in zip(reference, hypothesis, strict=True) if r is not None]
    if not pairs:
        return 0.0
    counts: dict[tuple[str, str], float] = defaultdict(float)
    for r, h in pairs:
        if h is not None:
            counts[(r, h)] += 1
    mapping = optimal_mapping(counts)
    return sum(1 for r, h in pairs if h is not None and mapping.get(h) == r) / len(pairs)


def aligned_reference_speakers(reference: Sequence[tuple[str, str]], words: Sequence[str]) -> list[str | None]:
    """The reference speaker of each recognized word, for references with speakers and text but no times: the
    reference's words (each carrying its turn's speaker) are aligned to the recognized ones by edit distance; a
    recognized word matched or substituted takes its reference word's speaker, an inserted one gets None.
    (Words are compared after `normalise_words`; a recognized "word" that normalises to several, like "9:30",
    takes the speaker of its first.)"""
    from vigil.transcription.quality import normalise_words

    ref = [(speaker, w) for speaker, text in reference for w in normalise_words(text)]
    hyp = [(normalise_words(w) or [""])[0] for w in words]
    n, m = len(ref), len(hyp)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1,
                             cost[i - 1, j - 1] + (ref[i - 1][1] != hyp[j - 1]))
    speakers: list[str | None] = [None] * m
    i, j = n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1][1] != hyp[j - 1]):
            speakers[j - 1] = ref[i - 1][0]
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return speakers


def turns_from_words(speakers: Sequence[str | None], times: Sequence[tuple[float, float]]) -> list[Turn]:
    """Reference turns made from recognized words' times and their (aligned) reference speakers: a run of one
    speaker's words is one turn from its first word's start to its last word's end (unassigned words skipped)."""
    turns: list[list] = []
    for speaker, (start, end) in zip(speakers, times, strict=True):
        if speaker is None:
            continue
        if turns and turns[-1][0] == speaker:
            turns[-1][2] = end
        else:
            turns.append([speaker, start, end])
    return [(s, a, b) for s, a, b in turns]
