from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from serve.deps import ContextDep, DbDep, PrincipalDep
from vigil.schemas.api import (
    AlertConfig,
    BudgetIn,
    ConfigVersionIn,
    ConfigVersionOut,
    JobStatusOut,
    RedactionSettings,
    RetentionPolicy,
    RiskSettingsIn,
    RiskSettingsOut,
    SpeakerSettings,
    TranscriptionConfig,
    UsageOut,
    VocabularySettings,
)
from vigil.services import alerts, governance, redaction, retention, tenants
from vigil.services.jobs import list_jobs

router = APIRouter(prefix="/api/v1/tenants", tags=["jobs"])


@router.get("/{tenant_id}/jobs", response_model=list[JobStatusOut],
            description="The tenant's jobs, newest first (admin role, own tenant only).")
def tenant_jobs(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep, status: str | None = None,
                stage: str | None = None, since: datetime | None = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                offset: Annotated[int, Query(ge=0)] = 0) -> list[JobStatusOut]:
    return list_jobs(db, principal, tenant_id, status=status, stage=stage, since=since, limit=limit, offset=offset)


@router.get("/{tenant_id}/transcription", response_model=TranscriptionConfig, tags=["tenants"])
def get_transcription(tenant_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> TranscriptionConfig:
    return tenants.transcription_config(db, principal, tenant_id, ctx.settings)


@router.put("/{tenant_id}/transcription", response_model=TranscriptionConfig, tags=["tenants"],
            description="Choose this tenant's speech providers (admin, own tenant). Providers the deployment "
                        "cannot call (no key) are refused with 400.")
def put_transcription(tenant_id: uuid.UUID, body: TranscriptionConfig, ctx: ContextDep, db: DbDep,
                      principal: PrincipalDep) -> TranscriptionConfig:
    return tenants.set_transcribers(db, principal, tenant_id, body.transcribers, ctx.settings)


@router.get("/{tenant_id}/risk", response_model=RiskSettingsOut, tags=["tenants"],
            description="The risk model's sensitivity and the active fitted risk model (admin, own tenant).")
def get_risk(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> RiskSettingsOut:
    return tenants.risk_config(db, principal, tenant_id)


@router.put("/{tenant_id}/risk", response_model=RiskSettingsOut, tags=["tenants"],
            description="Choose the risk model's sensitivity for this tenant's next analyses: high (recall first, "
                        "the default) or balanced (fewer false flags); null → the default. Admin, own tenant; "
                        "audited. Each analysis records the sensitivity it used.")
def put_risk(tenant_id: uuid.UUID, body: RiskSettingsIn, db: DbDep, principal: PrincipalDep) -> RiskSettingsOut:
    return tenants.set_risk_sensitivity(db, principal, tenant_id, body.sensitivity)


@router.get("/{tenant_id}/speakers", response_model=SpeakerSettings, tags=["tenants"],
            description="Who speaks first in this tenant's sessions, if the tenant said (admin, own tenant).")
def get_speakers(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> SpeakerSettings:
    return tenants.speaker_settings(db, principal, tenant_id)


@router.put("/{tenant_id}/speakers", response_model=SpeakerSettings, tags=["tenants"],
            description="Say who speaks first in this tenant's sessions (counselor or client): the analyze stage "
                        "gives that speaker the role, and the other speakers the other. null → roles from what each "
                        "speaker says. A supervisor's speaker correction still wins. Admin, own tenant; audited.")
def put_speakers(tenant_id: uuid.UUID, body: SpeakerSettings, db: DbDep, principal: PrincipalDep) -> SpeakerSettings:
    return tenants.set_first_speaker(db, principal, tenant_id, body.first_speaker)


@router.get("/{tenant_id}/config-versions", response_model=list[ConfigVersionOut], tags=["governance"],
            description="Stored prompt and rubric versions, newest first (own tenant).")
def get_versions(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep,
                 kind: str | None = None) -> list[ConfigVersionOut]:
    return governance.list_versions(db, principal, tenant_id, kind)


@router.post("/{tenant_id}/config-versions", response_model=ConfigVersionOut, status_code=201, tags=["governance"],
             description="Store a prompt (PromptSet) or rubric (RubricDefinition) version; its version is its content "
                         "hash, so storing the same content again returns the same version. Admin only; audited.")
def post_version(tenant_id: uuid.UUID, body: ConfigVersionIn, db: DbDep, principal: PrincipalDep) -> ConfigVersionOut:
    return governance.create_version(db, principal, tenant_id, body)


class ActiveVersionIn(BaseModel):
    version: str | None = None


@router.put("/{tenant_id}/config-versions/{kind}/active", response_model=ConfigVersionOut | None,
            tags=["governance"], description="Make a stored version the active one (null → the built-in one).")
def put_active(tenant_id: uuid.UUID, kind: str, body: ActiveVersionIn, db: DbDep,
               principal: PrincipalDep) -> ConfigVersionOut | None:
    return governance.activate_version(db, principal, tenant_id, kind, body.version)


@router.get("/{tenant_id}/usage", response_model=UsageOut, tags=["governance"],
            description="Today's model tokens and cost against the tenant's daily budget (admin).")
def get_usage(tenant_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> UsageOut:
    return governance.tenant_usage(db, principal, tenant_id, ctx.settings)


@router.put("/{tenant_id}/budget", response_model=UsageOut, tags=["governance"],
            description="Set the daily model budget (admin; audited). At 80 % an alert event is recorded; over "
                        "budget, new model analysis waits (job status `waiting`, error_code `over_budget`).")
def put_budget(tenant_id: uuid.UUID, body: BudgetIn, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> UsageOut:
    return governance.set_budget(db, principal, tenant_id, body.daily_token_budget, body.daily_cost_budget_usd,
                                 ctx.settings)


@router.get("/{tenant_id}/retention", response_model=RetentionPolicy, tags=["tenants"],
            description="How long this tenant's media, audio and transcripts are kept (admin, own tenant).")
def get_retention(tenant_id: uuid.UUID, ctx: ContextDep, db: DbDep, principal: PrincipalDep) -> RetentionPolicy:
    return retention.retention_policy(db, principal, tenant_id, ctx.settings)


@router.put("/{tenant_id}/retention", response_model=RetentionPolicy, tags=["tenants"],
            description="Set the retention periods in days (null → the deployment's default). The scheduled sweep "
                        "applies them; every purge is audited. Sessions awaiting review are held until reviewed.")
def put_retention(tenant_id: uuid.UUID, body: RetentionPolicy, ctx: ContextDep, db: DbDep,
                  principal: PrincipalDep) -> RetentionPolicy:
    return retention.set_retention_policy(db, principal, tenant_id, body.media_days, body.content_days, ctx.settings)


@router.get("/{tenant_id}/redaction", response_model=RedactionSettings, tags=["tenants"],
            description="The names this tenant has redacted from transcripts (admin, own tenant).")
def get_redaction(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> RedactionSettings:
    return redaction.redaction_settings(db, principal, tenant_id)


@router.put("/{tenant_id}/redaction", response_model=RedactionSettings, tags=["tenants"],
            description="Replace the list of names to redact; it applies to sessions transcribed from now on. "
                        "Audited by count (the names are personal data themselves).")
def put_redaction(tenant_id: uuid.UUID, body: RedactionSettings, db: DbDep,
                  principal: PrincipalDep) -> RedactionSettings:
    return redaction.set_redaction_names(db, principal, tenant_id, body.names)


@router.get("/{tenant_id}/vocabulary", response_model=VocabularySettings, tags=["tenants"],
            description="The terms this tenant's speech recognizers are told to expect (admin, own tenant).")
def get_vocabulary(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> VocabularySettings:
    return tenants.vocabulary_settings(db, principal, tenant_id)


@router.put("/{tenant_id}/vocabulary", response_model=VocabularySettings, tags=["tenants"],
            description="Replace the custom vocabulary: names of programs, medications and places (each 1–100 "
                        "characters, at most 6 words, at most 1,000 terms). Whisper gets them as hotwords, AssemblyAI "
                        "as word boost, Google as speech adaptation phrases, for sessions transcribed from now on. "
                        "Admin, own tenant; audited with the terms added and removed.")
def put_vocabulary(tenant_id: uuid.UUID, body: VocabularySettings, db: DbDep,
                   principal: PrincipalDep) -> VocabularySettings:
    return tenants.set_vocabulary(db, principal, tenant_id, body.terms)


@router.get("/{tenant_id}/alerts", response_model=AlertConfig, tags=["tenants"],
            description="This tenant's alert rules (admin, own tenant); channel secrets are never shown.")
def get_alerts(tenant_id: uuid.UUID, db: DbDep, principal: PrincipalDep) -> AlertConfig:
    return alerts.alert_config(db, principal, tenant_id)


@router.put("/{tenant_id}/alerts", response_model=AlertConfig, tags=["tenants"],
            description="Replace the alert rules (in order): which risk categories at what minimum severity alert, "
                        "through which webhooks or email addresses (`unknown`, the risk analysis failed, always "
                        "alerts), and the escalation deadline. Each webhook delivery is signed with the channel's "
                        "secret (X-Vigil-Signature) and carries X-Vigil-Delivery; audited.")
def put_alerts(tenant_id: uuid.UUID, body: AlertConfig, ctx: ContextDep, db: DbDep,
               principal: PrincipalDep) -> AlertConfig:
    return alerts.set_alert_config(ctx.store, ctx.settings, db, principal, tenant_id, body)
