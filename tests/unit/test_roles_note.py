"""The session page's one line on roles: who is who, and where that came from."""

from __future__ import annotations

from dashboard.formatting import roles_note


def test_it_names_each_speakers_role_and_the_source() -> None:
    note = roles_note({"source": "diarization", "basis": "content", "ambiguous": False,
                       "by_speaker": {"S1": "counselor", "S2": "client"}})
    assert note == "Roles: S1 counselor · S2 client — speakers from diarization, by what each speaker says"


def test_a_correction_and_an_unclear_guess_say_so() -> None:
    assert roles_note({"source": "person", "basis": "named", "by_speaker": {"counselor": "counselor"}}) == \
        "Roles: counselor counselor — a supervisor's speaker correction, by the role the label names"
    assert roles_note({"source": "inference", "basis": "per_segment", "by_speaker": {}}) == \
        "Roles: no speakers: each turn read on its own"
    assert roles_note({"source": "diarization", "basis": "content", "ambiguous": True, "by_speaker": {}}).endswith(
        "(the speakers barely differ: read both ways)")
    assert roles_note(None).startswith("Roles: not recorded")
