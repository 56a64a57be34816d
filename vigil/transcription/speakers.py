"""Speakers onto the recognized words: each word takes the diarized speaker it overlaps most, and a segment whose
words change speaker is cut there, so every segment has one speaker and a word on a turn boundary lands with its
own speaker rather than its segment's."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.schemas.transcripts import Diarization, ProviderTranscript, Segment, SpeakersSource, SpeakerTurn, Word
from vigil.transcription.diarization import speakers_at


def words_with_speakers(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> list[Word]:
    return [w.model_copy(update={"speaker": speakers_at(turns, w.start, w.end)}) for w in words]


def _words_of(segments: Sequence[Segment], words: Sequence[Word]) -> list[list[Word]]:
    """Each word in the segment its midpoint falls in (a word between two segments goes to the later one)."""
    owned: list[list[Word]] = [[] for _ in segments]
    for word in words:
        middle = (word.start + word.end) / 2
        for i, segment in enumerate(segments):
            upper = segments[i + 1].start if i + 1 < len(segments) else float("inf")
            if (i == 0 or middle >= segment.start) and middle < upper:
                owned[i].append(word)
                break
    return owned


def split_by_speaker(transcript: ProviderTranscript, turns: Sequence[SpeakerTurn]) -> ProviderTranscript:
    """The transcript with a speaker on every word and segment, segments cut where their words change speaker."""
    words = words_with_speakers(transcript.words, turns)
    segments: list[Segment] = []
    for segment, own in zip(transcript.segments, _words_of(transcript.segments, words), strict=True):
        if segment.inaudible:  # a marker of speech nobody heard: whose it was is unknown too
            segments.append(segment.model_copy(update={"index": len(segments), "speaker": None}))
            continue
        runs: list[list[Word]] = []
        for word in own:
            if runs and runs[-1][-1].speaker == word.speaker:
                runs[-1].append(word)
            else:
                runs.append([word])
        if len(runs) <= 1:
            speaker = runs[0][0].speaker if runs else speakers_at(turns, segment.start, segment.end)
            segments.append(segment.model_copy(update={"index": len(segments), "speaker": speaker}))
            continue
        for run in runs:
            segments.append(Segment(index=len(segments), start=run[0].start, end=run[-1].end,
                                    text=" ".join(w.text for w in run), speaker=run[0].speaker,
                                    confidence=segment.confidence))
    return transcript.model_copy(update={"words": words, "segments": segments})


def has_provider_speakers(transcript: ProviderTranscript) -> bool:
    return any(s.speaker for s in transcript.segments)


def attach_speakers(transcript: ProviderTranscript,
                    diarization: Diarization | None) -> tuple[ProviderTranscript, SpeakersSource | None]:
    """A provider's own speakers are kept when it gave them (they label its own words, so nothing is lost in
    aligning); otherwise diarization's; otherwise none."""
    if has_provider_speakers(transcript):
        return transcript, "provider"
    if diarization is not None and diarization.turns:
        return split_by_speaker(transcript, diarization.turns), "diarization"
    return transcript, None
