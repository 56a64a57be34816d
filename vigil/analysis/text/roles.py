"""Counselor or client for each speaker label.

In order of authority:
- a role word in the label ("counselor", "client", "caller" …): a supervisor's correction, or a provider that
  names roles, is taken as given; the other labels then take the role left over (the most counselor-like one is
  the counselor when no label was named counselor, the rest are clients);
- the tenant's setting (`first_speaker`): the speaker of the first segment has that role; of the others, the most
  counselor-like is the counselor when the first is the client, the rest are clients;
- what each speaker says: the share of their sentences that are questions or reflections, plus a small lead for
  opening the session; the highest is the counselor, the others clients;
- no labels at all: each segment on its own (`vigil.analysis.text.turns`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from vigil.analysis.text.counselor_moves import is_reflection
from vigil.analysis.text.sentences import Sentence, split_sentences
from vigil.schemas.transcripts import Role, Segment, SpeakerRoles, SpeakersSource

COUNSELOR_WORDS = frozenset(
    "counselor counsellor therapist coach agent clinician interviewer provider practitioner supervisor "
    "staff advisor adviser doctor nurse worker facilitator psychologist psychiatrist mentor host".split()
)
CLIENT_WORDS = frozenset(
    "client patient caller customer member participant student coachee guest youth consumer".split()
)
# Opening the session counts for this much of counselor-likeness: counselors usually open, but not always.
OPENING_LEAD = 0.1
# Below this lead in counselor-likeness the roles are a guess: the turns are read both ways (`ambiguous`).
MIN_COUNSELOR_LEAD = 0.05


def role_from_label(speaker: str | None) -> Role | None:
    if not speaker:
        return None
    words = set(re.findall(r"[a-z]+", speaker.lower()))
    if words & COUNSELOR_WORDS:
        return "counselor"
    if words & CLIENT_WORDS:
        return "client"
    return None


def counselor_likeness(sentences: Sequence[Sentence]) -> float:
    """Share of sentences that are questions or reflections: what counselors mostly say."""
    if not sentences:
        return 0.0
    return sum(1 for s in sentences if s.is_question or is_reflection(s)) / len(sentences)


def _ranked(labels: Sequence[str], sentences: Mapping[str, Sequence[Sentence]],
            opener: str | None) -> tuple[list[str], float]:
    """Labels, most counselor-like first, and the first's lead over the second."""
    scores = {label: counselor_likeness(sentences[label]) + (OPENING_LEAD if label == opener else 0.0)
              for label in labels}
    ranked = sorted(labels, key=lambda label: -scores[label])
    lead = scores[ranked[0]] - scores[ranked[1]] if len(ranked) > 1 else 1.0
    return ranked, lead


def assign_roles(segments: Sequence[Segment], speakers_source: SpeakersSource | None = None,
                 first_speaker: Role | None = None, corrected: bool = False) -> SpeakerRoles:
    """Roles for every speaker label in `segments`. `speakers_source`: whose labels these are; `corrected`: a
    supervisor corrected speakers on this session, so the roles rest on a person's word."""
    labels = list(dict.fromkeys(s.speaker for s in segments if s.speaker))
    if not labels:
        return SpeakerRoles(source="inference", basis="per_segment")
    source = "person" if corrected else (speakers_source or "provider")
    sentences: dict[str, list[Sentence]] = defaultdict(list)
    for segment in segments:
        if segment.speaker:
            sentences[segment.speaker].extend(split_sentences(segment))
    opener = labels[0]
    named = {label: role for label in labels if (role := role_from_label(label)) is not None}
    anonymous = [label for label in labels if label not in named]
    roles: dict[str, Role] = dict(named)
    if named:
        basis = "named"
        if anonymous:
            ranked, _ = _ranked(anonymous, sentences, opener)
            counselor_named = "counselor" in named.values()
            roles.update({label: "counselor" if label == ranked[0] and not counselor_named else "client"
                          for label in anonymous})
        return SpeakerRoles(source=source, basis=basis, by_speaker=roles)
    if first_speaker is not None:
        roles[opener] = first_speaker
        others = [label for label in labels if label != opener]
        if others:
            ranked, _ = _ranked(others, sentences, None)
            roles.update({label: "counselor" if label == ranked[0] and first_speaker == "client" else "client"
                          for label in others})
        return SpeakerRoles(source=source, basis="first_speaker", by_speaker=roles)
    if len(labels) < 2:  # one voice throughout tells nothing about who is who: each segment on its own
        return SpeakerRoles(source="inference", basis="per_segment")
    ranked, lead = _ranked(labels, sentences, opener)
    roles = {label: "counselor" if label == ranked[0] else "client" for label in labels}
    return SpeakerRoles(source=source, basis="content", by_speaker=roles, ambiguous=lead < MIN_COUNSELOR_LEAD)
