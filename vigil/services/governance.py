"""Analysis governance: immutable prompt, rubric and risk-model versions with one active per tenant, and the daily
model budget.

A version is stored once per tenant and content (`content_version`); the database refuses to change a stored row.
Activating a version is an audited pointer move on the tenant. The budget guard runs before model work: at
`BUDGET_ALERT_SHARE` of either budget one alert event per tenant and day is recorded; at 100 % new model work
waits (`Deferred`, until the next UTC midnight) instead of failing. Offline analysis costs nothing and is never held.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session as DbSession

from vigil.analysis.analyzers.versions import content_version
from vigil.analysis.risk.sentence_risk import DEFAULT_SENSITIVITY, RiskSettings, SentenceRiskModel
from vigil.db.models import Analysis, AuditEntry, ConfigVersion, Tenant, utcnow
from vigil.errors import Deferred, NotFound, ValidationFailure
from vigil.schemas.analysis import PromptSet, RubricDefinition
from vigil.schemas.api import ConfigVersionIn, ConfigVersionOut, UsageOut
from vigil.services import audit
from vigil.services.access import Action, Principal, own_tenant
from vigil.settings import Settings


class RiskModelContent(BaseModel):
    """A fitted sentence risk model's artifact (`SentenceRiskModel.payload`), accepted only if it loads."""

    model_config = ConfigDict(extra="forbid")
    format: str
    meta: dict[str, Any]
    heads: dict[str, dict[str, Any]]
    centroids: dict[str, dict[str, list[float]]]

    @model_validator(mode="after")
    def _loads(self) -> RiskModelContent:
        try:
            SentenceRiskModel.from_payload(self.model_dump())
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a usable sentence risk model: {exc}") from exc
        return self


CONTENT_MODELS: dict[str, type[BaseModel]] = {"prompt": PromptSet, "rubric": RubricDefinition,
                                              "risk_model": RiskModelContent}
ACTIVE_COLUMN = {"prompt": "active_prompt_version", "rubric": "active_rubric_version",
                 "risk_model": "active_risk_model_version"}


@dataclass(frozen=True)
class ActiveConfig:
    """What a tenant's analyses use; None → the analyzer's built-in prompt or rubric; the risk model and
    sensitivity (the shipped model at `high` unless the tenant chose otherwise)."""

    prompts: PromptSet | None = None
    prompt_version: str | None = None
    rubric: RubricDefinition | None = None
    rubric_version: str | None = None
    risk: RiskSettings = RiskSettings()


# ------------------------------------------------------------------ versions

def create_version(db: DbSession, principal: Principal, tenant_id: uuid.UUID,
                   body: ConfigVersionIn) -> ConfigVersionOut:
    """Store a prompt or rubric version (idempotent: the same content is the same version) and optionally
    activate it. Content is validated against its kind's schema first; nothing is stored when it is invalid."""
    tenant = own_tenant(db, principal, tenant_id, Action.administer)
    version = store_version(db, tenant.id, body.kind, body.name, body.content, principal)
    if body.activate:
        _activate(db, principal, tenant, body.kind, version)
    db.commit()
    return _version_out(db, tenant.id, body.kind, version)


def store_version(db: DbSession, tenant_id: uuid.UUID, kind: str, name: str, content: dict[str, Any],
                  actor: Principal | None) -> str:
    """Validate and store a version (not activated; the caller commits); returns its version. `actor` None: the
    system (e.g. `vigil fit --from-reviews`). Audited when new."""
    try:
        content = CONTENT_MODELS[kind].model_validate(content).model_dump(mode="json")
    except ValidationError as exc:
        raise ValidationFailure(f"not a valid {kind}: {exc.errors()[0]['msg']} at "
                                f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])}") from exc
    version = content_version(kind, content)
    inserted = db.scalar(pg_insert(ConfigVersion).values(
        id=uuid.uuid4(), tenant_id=tenant_id, kind=kind, version=version, name=name, content=content,
        created_by=actor.user_id if actor else None, created_at=utcnow()).on_conflict_do_nothing()
        .returning(ConfigVersion.id))
    if inserted is not None:
        audit.record(db, tenant_id=tenant_id, actor=actor, action=f"{kind}.version_created", entity_type=kind,
                     entity_id=version, detail={"name": name})
    return version


def activate_version(db: DbSession, principal: Principal, tenant_id: uuid.UUID, kind: str,
                     version: str | None) -> ConfigVersionOut | None:
    """Point the tenant at a stored version (None → back to the analyzer's built-in one)."""
    tenant = own_tenant(db, principal, tenant_id, Action.administer)
    if kind not in CONTENT_MODELS:
        raise NotFound(f"no such configuration kind {kind!r}")
    if version is not None and _stored(db, tenant.id, kind, version) is None:
        raise NotFound(f"{kind} version {version} not found")
    _activate(db, principal, tenant, kind, version)
    db.commit()
    return _version_out(db, tenant.id, kind, version) if version else None


def _activate(db: DbSession, principal: Principal, tenant: Tenant, kind: str, version: str | None) -> None:
    column = ACTIVE_COLUMN[kind]
    before = getattr(tenant, column)
    setattr(tenant, column, version)
    audit.record(db, tenant_id=tenant.id, actor=principal, action=f"{kind}.activated", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before, "after": version})


def list_versions(db: DbSession, principal: Principal, tenant_id: uuid.UUID, kind: str | None = None
                  ) -> list[ConfigVersionOut]:
    tenant = own_tenant(db, principal, tenant_id, Action.read_content)
    query = sa.select(ConfigVersion).where(ConfigVersion.tenant_id == tenant.id)
    if kind:
        query = query.where(ConfigVersion.kind == kind)
    rows = db.scalars(query.order_by(ConfigVersion.created_at.desc())).all()
    return [_out(row, tenant) for row in rows]


def _stored(db: DbSession, tenant_id: uuid.UUID, kind: str, version: str) -> ConfigVersion | None:
    return db.scalar(sa.select(ConfigVersion).where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.kind == kind,
                                                    ConfigVersion.version == version))


def _version_out(db: DbSession, tenant_id: uuid.UUID, kind: str, version: str) -> ConfigVersionOut:
    row = _stored(db, tenant_id, kind, version)
    assert row is not None
    return _out(row, db.get(Tenant, tenant_id))


def _out(row: ConfigVersion, tenant: Tenant | None) -> ConfigVersionOut:
    active = tenant is not None and getattr(tenant, ACTIVE_COLUMN[row.kind]) == row.version
    return ConfigVersionOut(kind=row.kind, version=row.version, name=row.name, content=row.content, active=active,
                            created_at=row.created_at)


def active_config(db: DbSession, tenant_id: uuid.UUID) -> ActiveConfig:
    """The tenant's active prompt and rubric (system use: the pipeline, replay)."""
    tenant = db.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant not found")
    prompts = rubric = None
    if tenant.active_prompt_version and (row := _stored(db, tenant_id, "prompt", tenant.active_prompt_version)):
        prompts = PromptSet.model_validate(row.content)
    if tenant.active_rubric_version and (row := _stored(db, tenant_id, "rubric", tenant.active_rubric_version)):
        rubric = RubricDefinition.model_validate(row.content)
    return ActiveConfig(prompts=prompts, prompt_version=tenant.active_prompt_version if prompts else None,
                        rubric=rubric, rubric_version=tenant.active_rubric_version if rubric else None,
                        risk=risk_settings_of(db, tenant))


def risk_settings_of(db: DbSession, tenant: Tenant) -> RiskSettings:
    """The tenant's risk model (its active fitted one, else the shipped one) and sensitivity (else `high`)."""
    model = None
    version = tenant.active_risk_model_version
    if version and (row := _stored(db, tenant.id, "risk_model", version)):
        model = SentenceRiskModel.from_payload(row.content)
    return RiskSettings(model=model, model_version=version if model else None,
                        sensitivity=tenant.risk_sensitivity or DEFAULT_SENSITIVITY)


# ------------------------------------------------------------------ budget
def _day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time.min, tzinfo=UTC)


def usage(db: DbSession, tenant_id: uuid.UUID, settings: Settings, now: datetime | None = None) -> UsageOut:
    now = now or utcnow()
    start = _day_start(now)
    tokens, cost = db.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Analysis.tokens_in + Analysis.tokens_out), 0),
                  sa.func.coalesce(sa.func.sum(Analysis.cost_usd), 0.0))
        .where(Analysis.tenant_id == tenant_id, Analysis.created_at >= start)).one()
    tenant = db.get(Tenant, tenant_id)
    token_budget = tenant.daily_token_budget if tenant and tenant.daily_token_budget is not None \
        else settings.daily_token_budget
    cost_budget = tenant.daily_cost_budget_usd if tenant and tenant.daily_cost_budget_usd is not None \
        else settings.daily_cost_budget_usd
    shares = [used / budget if budget else float("inf") if used else 0.0
              for used, budget in ((tokens, token_budget), (cost, cost_budget)) if budget is not None]
    share = max(shares) if shares else None
    state = ("unlimited" if share is None else "over_budget" if share >= 1.0
             else "alert" if share >= settings.budget_alert_share else "ok")
    return UsageOut(day=start.date().isoformat(), tokens=int(tokens), cost_usd=round(float(cost), 6),
                    daily_token_budget=token_budget, daily_cost_budget_usd=cost_budget,
                    share_used=None if share is None else round(min(share, 1e9), 4), state=state)


def guard_model_budget(db: DbSession, tenant_id: uuid.UUID, settings: Settings, now: datetime | None = None) -> None:
    """Before model work: record the day's alert at the alert share; over budget, raise `Deferred` to next midnight."""
    now = now or utcnow()
    current = usage(db, tenant_id, settings, now)
    if current.state in ("alert", "over_budget"):
        _alert_once(db, tenant_id, current)
    if current.state == "over_budget":
        until = _day_start(now) + timedelta(days=1)
        raise Deferred(f"the tenant's daily model budget is spent ({current.tokens} tokens, ${current.cost_usd:.4f}); "
                       f"analysis waits until {until:%Y-%m-%d %H:%M} UTC", until=until, code="over_budget")


def _alert_once(db: DbSession, tenant_id: uuid.UUID, current: UsageOut) -> None:
    # One alert per tenant and day, even with several workers checking at once.
    db.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"budget-alert:{tenant_id}:{current.day}"))))
    exists = db.scalar(sa.select(AuditEntry.id).where(
        AuditEntry.tenant_id == tenant_id, AuditEntry.action == "budget.alert",
        AuditEntry.entity_id == str(tenant_id), AuditEntry.detail["day"].as_string() == current.day).limit(1))
    if exists is None:
        audit.record(db, tenant_id=tenant_id, actor=None, action="budget.alert", entity_type="tenant",
                     entity_id=tenant_id, detail=current.model_dump(mode="json"))
    db.commit()


def set_budget(db: DbSession, principal: Principal, tenant_id: uuid.UUID, tokens: int | None, cost: float | None,
               settings: Settings) -> UsageOut:
    tenant = own_tenant(db, principal, tenant_id, Action.administer)
    before = {"tokens": tenant.daily_token_budget, "cost_usd": tenant.daily_cost_budget_usd}
    tenant.daily_token_budget, tenant.daily_cost_budget_usd = tokens, cost
    audit.record(db, tenant_id=tenant.id, actor=principal, action="tenant.budget", entity_type="tenant",
                 entity_id=tenant.id, detail={"before": before, "after": {"tokens": tokens, "cost_usd": cost}})
    db.commit()
    return usage(db, tenant.id, settings)


def tenant_usage(db: DbSession, principal: Principal, tenant_id: uuid.UUID, settings: Settings) -> UsageOut:
    tenant = own_tenant(db, principal, tenant_id, Action.administer)
    return usage(db, tenant.id, settings)
