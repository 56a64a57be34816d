"""Re-wrapping the smaller sealed values after `vigil keys rotate`: double-review and calibration sheet notes, gold
notes, and alert channel secrets (in the tenant's rules and in each pending delivery). Reviews and disputes have
their own (vigil.services.analysis_content, vigil.services.disputes)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from vigil.context import Context
from vigil.crypto import DecryptionError
from vigil.db.models import Alert, GoldStandard, ReviewAssignment, Tenant
from vigil.services.alerts import secret_place
from vigil.services.calibration import gold_note_place
from vigil.services.double_review import note_place
from vigil.storage.encrypted import rewrap_value


def rewrap_sealed_notes(ctx: Context, tenant_id: uuid.UUID) -> tuple[int, int]:
    """Returns (re-wrapped, sealed under a key the keyring does not hold)."""
    counts = [0, 0]

    def rewrap(blob: bytes, place: str, keep: Callable[[bytes], None]) -> None:
        try:
            keep(rewrap_value(ctx.store, blob, place))
            counts[0] += 1
        except DecryptionError:
            counts[1] += 1

    with ctx.tenant_db(tenant_id) as db:
        for sheet in db.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.tenant_id == tenant_id,
                                                                  ReviewAssignment.note_sealed.is_not(None))):
            rewrap(sheet.note_sealed, note_place(sheet.id), lambda b, s=sheet: setattr(s, "note_sealed", b))
        for gold in db.scalars(sa.select(GoldStandard).where(GoldStandard.tenant_id == tenant_id,
                                                             GoldStandard.note_sealed.is_not(None))):
            rewrap(gold.note_sealed, gold_note_place(gold.session_id), lambda b, g=gold: setattr(g, "note_sealed", b))
        for alert in db.scalars(sa.select(Alert).where(Alert.tenant_id == tenant_id, Alert.status == "pending",
                                                       Alert.channel_secret.is_not(None))):
            rewrap(alert.channel_secret, secret_place(tenant_id, alert.channel_url),
                   lambda b, a=alert: setattr(a, "channel_secret", b))
        tenant = db.get(Tenant, tenant_id)
        if tenant is not None and tenant.alert_config:
            config: dict[str, Any] = {**tenant.alert_config, "rules": [dict(r) for r in tenant.alert_config["rules"]]}
            for rule in config["rules"]:
                rule["channels"] = [dict(c) for c in rule["channels"]]
                for channel in rule["channels"]:
                    if channel.get("secret_sealed"):
                        rewrap(base64.b64decode(channel["secret_sealed"]), secret_place(tenant_id, channel["url"]),
                               lambda b, c=channel: c.__setitem__("secret_sealed", base64.b64encode(b).decode()))
            tenant.alert_config = config
        db.commit()
    return counts[0], counts[1]
