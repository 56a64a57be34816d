"""Speakers onto words, roles onto speakers, and what reads the roles: MITI codes counselor turns only, risk reads
the client's words as the client's own, talk time is counted per role."""

from __future__ import annotations

import uuid

import pytest

from vigil.analysis.analyzers.offline import OfflineAnalyzer
from vigil.analysis.outputs.conversation import conversation_analytics
from vigil.analysis.text.roles import assign_roles
from vigil.analysis.text.turns import SpeakerRole, read_turns
from vigil.schemas.transcripts import (
    AgentTranscript,
    ProviderTranscript,
    Segment,
    SpeakerRoles,
    SpeakerTurn,
    TranscriptMetrics,
    Word,
)
from vigil.services.reviews import transcript_with_roles
from vigil.transcription.speakers import attach_speakers, split_by_speaker

SESSION = [
    ("S1", "Hi, thanks for coming in today. How has your week been?"),
    ("S2", "Honestly it has been hard. I have not been sleeping much."),
    ("S1", "It sounds like the nights are the hardest part for you. What keeps you awake?"),
    ("S2", "I keep going over everything at work."),
    ("S1", "So work follows you home. What would help you switch off?"),
    ("S2", "Maybe a walk after dinner."),
]


def transcript(turns: list[tuple[str | None, str]], speakers_source: str | None = "diarization") -> AgentTranscript:
    segments = [Segment(index=i, start=i * 5.0, end=i * 5.0 + 4.5, text=text, speaker=who)
                for i, (who, text) in enumerate(turns)]
    return AgentTranscript(session_id=uuid.uuid4(), provider="whisper", language="en", duration=len(turns) * 5.0,
                           text="", segments=segments, speakers_source=speakers_source,  # type: ignore[arg-type]
                           metrics=TranscriptMetrics(word_count=0, duration_seconds=0, speaking_rate_wpm=0,
                                                     mean_confidence=None, low_confidence_share=None))


def test_the_speaker_who_asks_and_reflects_is_the_counselor() -> None:
    roles = assign_roles(transcript(SESSION).segments, "diarization")
    assert roles == SpeakerRoles(source="diarization", basis="content", by_speaker={"S1": "counselor", "S2": "client"})


def test_the_tenants_first_speaker_setting_decides_over_content() -> None:
    roles = assign_roles(transcript(SESSION).segments, "diarization", first_speaker="client")
    assert (roles.basis, roles.by_speaker) == ("first_speaker", {"S1": "client", "S2": "counselor"})


def test_a_supervisors_correction_wins_over_the_setting_and_over_content() -> None:
    corrected = transcript_with_roles(transcript(SESSION), {"speaker.S1": "client", "speaker.S2": "counselor"},
                                      first_speaker="counselor")
    assert corrected.roles == SpeakerRoles(source="person", basis="named",
                                           by_speaker={"client": "client", "counselor": "counselor"})
    assert [s.speaker for s in corrected.segments[:2]] == ["client", "counselor"]


def test_naming_one_speaker_the_counselor_makes_the_others_clients() -> None:
    roles = transcript_with_roles(transcript(SESSION), {"speaker.S2": "counselor"}, None).roles
    assert roles is not None and roles.by_speaker == {"S1": "client", "counselor": "counselor"}


def test_without_speakers_each_segment_is_read_on_its_own() -> None:
    unlabelled = transcript([(None, text) for _, text in SESSION], speakers_source=None)
    roles = assign_roles(unlabelled.segments)
    assert (roles.source, roles.basis, roles.by_speaker) == ("inference", "per_segment", {})
    turns = read_turns(unlabelled.segments, roles)
    assert all(t.role_inferred for t in turns)
    assert turns[0].role is SpeakerRole.counselor and turns[3].role is SpeakerRole.client


def test_a_word_on_a_turn_boundary_takes_its_own_speaker_and_cuts_the_segment() -> None:
    words = [Word(text=t, start=s, end=s + 0.3) for t, s in
             [("How", 0.0), ("are", 0.4), ("you?", 0.8), ("Fine,", 1.6), ("thanks.", 2.0)]]
    recognized = ProviderTranscript(provider="whisper", model="m", duration=3.0, words=words,
                                    segments=[Segment(index=0, start=0.0, end=2.3, text="How are you? Fine, thanks.")])
    turns = [SpeakerTurn(speaker="S1", start=0.0, end=1.3), SpeakerTurn(speaker="S2", start=1.5, end=2.6)]
    split = split_by_speaker(recognized, turns)
    assert [(s.index, s.speaker, s.text, s.start, s.end) for s in split.segments] == [
        (0, "S1", "How are you?", 0.0, 1.1), (1, "S2", "Fine, thanks.", 1.6, 2.3)]
    assert [w.speaker for w in split.words] == ["S1", "S1", "S1", "S2", "S2"]


def test_a_providers_own_speakers_are_kept_over_diarization() -> None:
    recognized = ProviderTranscript(provider="assemblyai", model="m", duration=1.0, words=[],
                                    segments=[Segment(index=0, start=0.0, end=1.0, text="Hi.", speaker="A")])
    kept, source = attach_speakers(recognized, None)
    assert (kept.segments[0].speaker, source) == ("A", "provider")


@pytest.fixture(scope="module")
def analyzer() -> OfflineAnalyzer:
    return OfflineAnalyzer()


def test_miti_codes_the_counselors_turns_and_none_of_the_clients(analyzer: OfflineAnalyzer) -> None:
    session = transcript(SESSION)
    as_read = transcript_with_roles(session, {}, None)
    assessed = analyzer.assess(as_read)
    assert sorted(c.segment_index for c in assessed.turn_codes) == [0, 2, 4]
    swapped = transcript_with_roles(session, {}, "client")  # the tenant says the client speaks first
    assert sorted(c.segment_index for c in analyzer.assess(swapped).turn_codes) == [1, 3, 5]


DISCLOSURE = [
    ("S1", "Thanks for coming in. How has this week been for you?"),
    ("S2", "I have been thinking about killing myself, and I have saved up some pills."),
    ("S1", "Thank you for telling me. Are you safe tonight?"),
    ("S2", "I think so."),
]


def test_risk_reads_the_clients_words_as_the_clients_own(analyzer: OfflineAnalyzer) -> None:
    assessed = analyzer.assess(transcript_with_roles(transcript(DISCLOSURE), {}, None))
    assert assessed.risk_level.value == "high"
    assert {e.segment_index for f in assessed.flags for e in f.evidence} == {1}


def test_the_same_words_from_the_counselor_are_not_the_counselors_risk(analyzer: OfflineAnalyzer) -> None:
    # A person says S2 is the counselor: its first-person words are read as a reflection, not a disclosure.
    corrected = transcript_with_roles(transcript(DISCLOSURE), {"speaker.S2": "counselor", "speaker.S1": "client"},
                                      None)
    assert corrected.roles is not None and not corrected.roles.ambiguous
    assert analyzer.assess(corrected).flags == []


def test_talk_time_is_counted_per_role() -> None:
    analytics = conversation_analytics(transcript_with_roles(transcript(SESSION), {}, None))
    assert analytics["roles"]["counselor"] == {"talk_seconds": 13.5, "talk_share": 0.5, "words": 37, "turns": 3}
    assert analytics["roles"]["client"]["turns"] == 3
    assert analytics["roles_source"] == "diarization"
