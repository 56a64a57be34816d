"""What an analysis is made from, as one key: the transcript's content, the analyzer (kind, built-in prompts,
models), and the tenant's active prompt, rubric, risk model and sensitivity. Two analyses with equal keys are the
same work; an analyze request whose key equals the latest analysis's returns that analysis's job."""

from __future__ import annotations

import hashlib
import json
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.analysis.analyzers.registry import analyzer_identity
from vigil.analysis.risk.sentence_risk import DEFAULT_SENSITIVITY
from vigil.db.models import Artifact, Tenant
from vigil.sealed_text import digest
from vigil.services.reviews import session_speaker_overrides
from vigil.settings import Settings

TRANSCRIPT_KIND = "transcript_agent"


def analysis_inputs(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID,
                    settings: Settings) -> dict[str, object] | None:
    """The inputs an analysis of this session would use now; None without a transcript."""
    transcript = db.scalar(sa.select(Artifact.sha256).where(Artifact.session_id == session_id,
                                                            Artifact.kind == TRANSCRIPT_KIND))
    tenant = db.get(Tenant, tenant_id)
    if transcript is None or tenant is None:
        return None
    inputs: dict[str, object] = {
        "transcript_sha256": transcript, **analyzer_identity(settings),
        "prompt": tenant.active_prompt_version, "rubric": tenant.active_rubric_version,
        "risk_model": tenant.active_risk_model_version,
        "sensitivity": tenant.risk_sensitivity or DEFAULT_SENSITIVITY}
    # Speakers and roles are inputs too, named only when set, so analyses made before them keep their keys.
    speakers = session_speaker_overrides(db, tenant_id, session_id)
    if speakers:
        inputs["speaker_corrections"] = digest(speakers)["sha256"]
    if tenant.first_speaker:
        inputs["first_speaker"] = tenant.first_speaker
    return inputs


def inputs_key(inputs: dict[str, object] | None) -> str | None:
    if inputs is None:
        return None
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def current_inputs_key(db: DbSession, tenant_id: uuid.UUID, session_id: uuid.UUID, settings: Settings) -> str | None:
    return inputs_key(analysis_inputs(db, tenant_id, session_id, settings))
