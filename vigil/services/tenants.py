"""Per-tenant settings that admins change through the API."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.analysis.risk.sentence_risk import DEFAULT_SENSITIVITY
from vigil.db.models import Tenant
from vigil.errors import ValidationFailure
from vigil.schemas.api import RiskSettingsOut, SpeakerSettings, TranscriptionConfig, VocabularySettings
from vigil.services import audit
from vigil.services.access import Principal, own_tenant
from vigil.settings import Settings
from vigil.transcription.registry import unavailable_reason


def transcribers_for(db: DbSession, tenant_id: uuid.UUID, settings: Settings) -> list[str]:
    """The tenant's own providers if it chose any, else the deployment's. A choice the deployment can no longer
    call (its key was removed, or the load-test stand-in is no longer allowed) is passed over."""
    chosen = db.scalar(sa.select(Tenant.transcribers).where(Tenant.id == tenant_id))
    usable = [name for name in (chosen or "").split(",") if name and unavailable_reason(name, settings) is None]
    return usable or list(settings.transcriber_names)


def transcription_config(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                         settings: Settings) -> TranscriptionConfig:
    tenant = own_tenant(db, principal, tenant_id)
    return TranscriptionConfig(transcribers=transcribers_for(db, tenant.id, settings),
                               source="tenant" if tenant.transcribers else "deployment")


def set_transcribers(db: DbSession, principal: Principal, tenant_id: uuid.UUID, names: list[str] | None,
                     settings: Settings) -> TranscriptionConfig:
    """Choose the tenant's providers (None → follow the deployment). Only providers this deployment
    can actually call are accepted."""
    tenant = own_tenant(db, principal, tenant_id)
    if names is not None:
        if not names or len(set(names)) != len(names):
            raise ValidationFailure("name one or more providers, each once")
        problems = [reason for name in names if (reason := unavailable_reason(name, settings))]
        if problems:
            raise ValidationFailure("; ".join(problems))
    before = tenant.transcribers
    tenant.transcribers = ",".join(names) if names else None
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.transcribers", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before, "after": tenant.transcribers})
    db.commit()
    return transcription_config(db, principal, tenant_id, settings)


def risk_config(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> RiskSettingsOut:
    tenant = own_tenant(db, principal, tenant_id)
    return RiskSettingsOut(sensitivity=tenant.risk_sensitivity or DEFAULT_SENSITIVITY,  # type: ignore[arg-type]
                           source="tenant" if tenant.risk_sensitivity else "default",
                           model_version=tenant.active_risk_model_version)


def set_risk_sensitivity(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                         sensitivity: str | None) -> RiskSettingsOut:
    """The risk model's operating point for this tenant's next analyses (None → the default, `high`); audited.
    Analyses already made keep the sensitivity they record."""
    tenant = own_tenant(db, principal, tenant_id)
    before = tenant.risk_sensitivity
    tenant.risk_sensitivity = sensitivity
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.risk_sensitivity", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before, "after": sensitivity})
    db.commit()
    return risk_config(db, principal, tenant_id)


def speaker_settings(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> SpeakerSettings:
    tenant = own_tenant(db, principal, tenant_id)
    return SpeakerSettings(first_speaker=tenant.first_speaker)  # type: ignore[arg-type]


def set_first_speaker(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                      first_speaker: str | None) -> SpeakerSettings:
    """Who speaks first in this tenant's sessions (None → roles from what each speaker says), for its next
    analyses; audited. Each analysis records how its roles were assigned."""
    tenant = own_tenant(db, principal, tenant_id)
    before = tenant.first_speaker
    tenant.first_speaker = first_speaker
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.first_speaker", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before, "after": first_speaker})
    db.commit()
    return speaker_settings(db, principal, tenant_id)


MAX_TERM_CHARACTERS = 100  # Google's limit on one phrase
MAX_TERM_WORDS = 6  # AssemblyAI's limit on one word-boost phrase


def vocabulary_for(db: DbSession, tenant_id: uuid.UUID) -> list[str]:
    """The terms the speech recognizers are told to expect for this tenant's sessions."""
    return list(db.scalar(sa.select(Tenant.vocabulary).where(Tenant.id == tenant_id)) or [])


def vocabulary_settings(db: DbSession, principal: Principal, tenant_id: uuid.UUID) -> VocabularySettings:
    return VocabularySettings(terms=list(own_tenant(db, principal, tenant_id).vocabulary or []))


def set_vocabulary(db: DbSession, principal: Principal, tenant_id: uuid.UUID, terms: list[str]) -> VocabularySettings:
    """Replace the tenant's vocabulary (admin; applies to sessions transcribed from now on). Spacing is tidied and a
    term given twice (in any case) is kept once, in the order given. The audit entry names the terms added and
    removed: they are names of programs, medications and places, not of people."""
    tenant = own_tenant(db, principal, tenant_id)
    cleaned: list[str] = []
    for term in (" ".join(t.split()) for t in terms):
        if not term or term.casefold() in {c.casefold() for c in cleaned}:
            continue
        if len(term) > MAX_TERM_CHARACTERS or len(term.split()) > MAX_TERM_WORDS:
            raise ValidationFailure(f"a term is at most {MAX_TERM_CHARACTERS} characters and {MAX_TERM_WORDS} "
                                    f"words: {term[:40]!r}…")
        cleaned.append(term)
    before = list(tenant.vocabulary or [])
    tenant.vocabulary = cleaned
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.vocabulary", entity_type="tenant",
                 entity_id=tenant.id, detail={"added": [t for t in cleaned if t not in before],
                                              "removed": [t for t in before if t not in cleaned],
                                              "terms_after": len(cleaned)})
    db.commit()
    return VocabularySettings(terms=cleaned)
