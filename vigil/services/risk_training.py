"""Supervisors teach the risk model: `vigil fit --from-reviews` fits new risk heads from a tenant's reviewed
sessions (supervisor-final labels: a flag confirmed or left standing is at risk, a flag dismissed or never raised
is not) plus the shipped development data, and stores the model as a candidate version of kind `risk_model`.

It never activates itself: `vigil replay --candidate <version>` compares it with the active configuration on the
tenant's history or a labelled set, and an admin activates it (`PUT /api/v1/tenants/{id}/config-versions/
risk_model/active`), audited like any other configuration change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from vigil.analysis.risk import risk_fit
from vigil.analysis.risk.encoder import shipped_encoder
from vigil.analysis.risk.sentence_risk import SentenceRiskModel
from vigil.context import Context
from vigil.errors import ValidationFailure
from vigil.schemas.enums import RiskCategory
from vigil.services.governance import store_version
from vigil.services.replay import history_cases

EVERYTHING = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_REVIEWED_SESSIONS = 1


@dataclass(frozen=True)
class FittedCandidate:
    version: str
    name: str
    reviewed_sessions: int
    at_risk: dict[str, int]  # category → reviewed sessions labelled at risk
    training_sessions: int
    chosen: dict[str, dict[str, object]]


def fit_from_reviews(ctx: Context, tenant_id: uuid.UUID, tenant_name: str, data_dir: Path | None = None,
                     inner: int = 3, seed: int = 0) -> FittedCandidate:
    """Fit, store as a candidate (not active), return what was stored. `data_dir`: ../shared/data, whose
    development part joins the training data when it is there."""
    with ctx.tenant_db(tenant_id) as db:
        cases = history_cases(ctx, db, tenant_id, EVERYTHING)
    if len(cases) < MIN_REVIEWED_SESSIONS:
        raise ValidationFailure(f"tenant {tenant_name!r} has no reviewed sessions to learn from")
    encoder = shipped_encoder()
    reviewed = [risk_fit.session_of(case.transcript, case.id, "reviews", [RiskCategory(c) for c in case.risk],
                                    encoder) for case in cases]
    shared, hashes = risk_fit.shared_sessions(data_dir, encoder) if data_dir else ([], {})
    sessions = reviewed + risk_fit.written_sessions(encoder) + shared
    model, chosen = risk_fit.fit_model(sessions, risk_fit.seed_set(), inner, seed)
    at_risk = {c.value: sum(c in s.labels for s in reviewed) for c in risk_fit.CATEGORIES}
    name = f"risk-sentences-{tenant_name}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
    meta = {"name": name, "encoder": encoder.name, "encoder_fingerprint": encoder.fingerprint,
            "fitted_from": {"tenant": tenant_name, "reviewed_sessions": len(reviewed), "at_risk": at_risk},
            "trained_on": {**hashes, **risk_fit.written_hashes()}, "split": "development part only",
            "chosen": chosen, "cv": {"inner": inner, "seed": seed}, "recall_target": risk_fit.RECALL_TARGET}
    content = SentenceRiskModel(model.heads, model.centroids, meta).payload()
    with ctx.tenant_db(tenant_id) as db:
        version = store_version(db, tenant_id, "risk_model", name, content, actor=None)
        db.commit()
    return FittedCandidate(version, name, len(reviewed), at_risk, len(sessions), chosen)
