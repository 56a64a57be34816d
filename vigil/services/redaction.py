"""Redaction of personal data in transcripts, and the supervisor's review of it.

At the end of transcription the agent transcript is redacted (vigil.pii finds emails, phone numbers,
national ID and card numbers that pass their checksums, addresses, and the tenant's own list of names):
- `transcript/agent.json` holds the **redacted** transcript, so analysis, the API and the dashboard only ever
  read redacted text;
- `transcript/original.json` keeps the original, encrypted at rest like every transcript artifact, and purged
  with the rest of the content by the retention policy;
- `transcript/redactions.json` lists the findings: kind, offsets, placeholder and a fingerprint, never the text.

A supervisor reviews a finding like any AI output (`POST /sessions/{id}/reviews` with field `redaction.<n>` and
value `redacted` or `restored`), audited as every override is. A restored finding is a false positive: the
displayed transcript shows its original words again; the others stay hidden.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.context import Context
from vigil.db.models import Tenant
from vigil.errors import ValidationFailure
from vigil.pii import PiiKind, PiiSpan, redact_segments, redact_text
from vigil.schemas.api import RedactionOut, RedactionSettings
from vigil.schemas.transcripts import AgentTranscript
from vigil.services import audit
from vigil.services.access import Action, Principal, content_wall, own_tenant
from vigil.services.reviews import newest_values
from vigil.storage.base import TRANSCRIPT_ORIGINAL_NAME, TRANSCRIPT_REDACTIONS_NAME, artifact_key
from vigil.transcription.agent import transcript_text

DECISIONS = ("redacted", "restored")
FIELD_PREFIX = "redaction."
MAX_NAMES = 5000


def names_for(db: DbSession, tenant_id: uuid.UUID) -> list[str]:
    return list(db.scalar(sa.select(Tenant.redaction_names).where(Tenant.id == tenant_id)) or [])


def redact_transcript(transcript: AgentTranscript, names: list[str]) -> tuple[AgentTranscript, list[dict[str, Any]]]:
    """The transcript with PII replaced by placeholders in every segment and in its text, and the findings."""
    segments, findings = redact_segments([s.model_dump() for s in transcript.segments], names)
    redacted = [segment.model_copy(update={"text": copy["text"]})
                for segment, copy in zip(transcript.segments, segments, strict=True)]
    return transcript.model_copy(update={"segments": redacted, "text": transcript_text(redacted)}), findings


def is_redaction_field(field: str) -> bool:
    return field.startswith(FIELD_PREFIX)


def stored_findings(ctx: Context, tenant_id: uuid.UUID, session_id: uuid.UUID) -> list[dict[str, Any]]:
    key = artifact_key(tenant_id, session_id, TRANSCRIPT_REDACTIONS_NAME)
    return json.loads(ctx.store.get_bytes(key)) if ctx.store.exists(key) else []


def redaction_values(findings: list[dict[str, Any]]) -> dict[str, str]:
    """The AI's value of each reviewable redaction: every finding starts out redacted."""
    return {f"{FIELD_PREFIX}{n}": "redacted" for n in range(len(findings))}


def decided_in(values: dict[str, Any]) -> dict[int, str]:
    """Each reviewed finding's decision ("restored" or "redacted"), from a session's newest review values
    (reviews.newest_values with FIELD_PREFIX among the prefixes)."""
    return {int(field.removeprefix(FIELD_PREFIX)): value for field, value in values.items()
            if field.startswith(FIELD_PREFIX)}


def decisions(db: DbSession, principal: Principal, session_id: uuid.UUID) -> dict[int, str]:
    return decided_in(newest_values(db, principal.tenant_id, session_id, (FIELD_PREFIX,)))


def list_redactions(ctx: Context, db: DbSession, principal: Principal, session_id: uuid.UUID,
                    reveal: bool = False) -> list[RedactionOut]:
    """The findings and their decisions. `reveal` adds each finding's original words, for a reviewer deciding
    whether it is a false positive: reviewers only, and audited."""
    principal.require(Action.review if reveal else Action.read_content)
    content_wall(db, principal, session_id)
    reviewed = decisions(db, principal, session_id)
    findings = stored_findings(ctx, principal.tenant_id, session_id)
    originals: list[str | None] = [None] * len(findings)
    if reveal and findings:
        original = AgentTranscript.model_validate_json(ctx.store.get_bytes(
            artifact_key(principal.tenant_id, session_id, TRANSCRIPT_ORIGINAL_NAME)))
        originals = [original.segments[f["segment"]].text[f["start"]:f["end"]] for f in findings]
        audit.record(db, tenant_id=principal.tenant_id, actor=principal, action="transcript.original_read",
                     entity_type="session", entity_id=session_id, detail={"what": "redactions",
                                                                          "findings": len(findings)})
        db.commit()
    out = []
    for n, finding in enumerate(findings):
        out.append(RedactionOut(index=n, field=f"{FIELD_PREFIX}{n}", segment=finding["segment"],
                                kind=finding["kind"], detail=finding["detail"], placeholder=finding["placeholder"],
                                fingerprint=finding["fingerprint"], decision=reviewed.get(n, "redacted"),
                                reviewed=n in reviewed, original=originals[n]))
    return out


def apply_restorations(ctx: Context, principal: Principal, transcript: AgentTranscript,
                       restored: set[int]) -> AgentTranscript:
    """The redacted transcript with the restored findings' original words back in place, the rest still hidden."""
    if not restored:
        return transcript
    findings = stored_findings(ctx, principal.tenant_id, transcript.session_id)
    original = AgentTranscript.model_validate_json(ctx.store.get_bytes(
        artifact_key(principal.tenant_id, transcript.session_id, TRANSCRIPT_ORIGINAL_NAME)))
    still_hidden: dict[int, list[PiiSpan]] = {}
    touched = {findings[n]["segment"] for n in restored if n < len(findings)}
    for n, finding in enumerate(findings):
        if finding["segment"] in touched and n not in restored:
            still_hidden.setdefault(finding["segment"], []).append(PiiSpan(
                finding["start"], finding["end"], PiiKind(finding["kind"]),
                original.segments[finding["segment"]].text[finding["start"]:finding["end"]], finding["detail"]))
    segments = [original.segments[i].model_copy(update={
                    "text": redact_text(original.segments[i].text, still_hidden.get(i, [])),
                    "speaker": segment.speaker})
                if i in touched else segment for i, segment in enumerate(transcript.segments)]
    return transcript.model_copy(update={"segments": segments, "text": transcript_text(segments)})


def restored_in(values: dict[str, Any]) -> set[int]:
    """The findings a reviewer restored, from a session's newest review values (see decided_in)."""
    return {n for n, decision in decided_in(values).items() if decision == "restored"}


def redaction_settings(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> RedactionSettings:
    return RedactionSettings(names=list(own_tenant(db, principal, tenant_id).redaction_names or []))


def set_redaction_names(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                        names: list[str]) -> RedactionSettings:
    """Replace the tenant's list of names to redact (applies to sessions transcribed from now on). The audit entry
    counts the names rather than listing them: the list is itself personal data."""
    tenant = own_tenant(db, principal, tenant_id)
    cleaned = sorted({name.strip() for name in names if name.strip()})
    if len(cleaned) > MAX_NAMES:
        raise ValidationFailure(f"at most {MAX_NAMES} names")
    before = len(tenant.redaction_names or [])
    tenant.redaction_names = cleaned
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.redaction_names", entity_type="tenant",
                 entity_id=tenant.id, detail={"names_before": before, "names_after": len(cleaned)})
    db.commit()
    return RedactionSettings(names=cleaned)
