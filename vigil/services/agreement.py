"""How far a tenant's reviewers agree, from the double reviews both of whose sheets are in (calibration reviews are
not counted): per judged field, the number of sessions, percent agreement, Cohen's kappa (nominal fields: flags,
MI quality) or Krippendorff's ordinal alpha (risk level, rubric items), each with a 95 % bootstrap interval, and the
same for reviewers against the AI on those sessions; for one field, a reviewer-by-reviewer matrix and the trend by
week. Open sheets never count, so nothing here reveals an answer before both are in."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import ReviewAssignment, User
from vigil.evaluation.agreement import Pair, agreement, percent_agreement
from vigil.schemas.api import AgreementFieldOut, AgreementMatrixOut, AgreementOut, AgreementWeekOut
from vigil.services.access import Action, Principal
from vigil.services.review_sheets import DOUBLE

LEVELS = ["none", "low", "medium", "high"]


def order_of(field: str, values: Sequence[Any]) -> list[Hashable] | None:
    """The ranks of an ordinal field's values; None for a nominal field."""
    if field == "risk_level":
        return list(LEVELS)
    if field.startswith("rubric."):
        return sorted({v for v in values if v is not None})
    return None


def _settled(db: DbSession, tenant_id: uuid.UUID, since: datetime | None) -> list[list[ReviewAssignment]]:
    """Both sheets of every double review that is in, oldest first (by its second submission)."""
    rows = db.scalars(sa.select(ReviewAssignment).where(ReviewAssignment.tenant_id == tenant_id,
                                                        ReviewAssignment.purpose == DOUBLE)
                      .order_by(ReviewAssignment.session_id, ReviewAssignment.slot)).all()
    by_session: dict[uuid.UUID, list[ReviewAssignment]] = {}
    for row in rows:
        by_session.setdefault(row.session_id, []).append(row)
    done = [pair for pair in by_session.values() if len(pair) == 2 and all(a.status == "submitted" for a in pair)]
    if since is not None:
        done = [pair for pair in done if max(a.submitted_at for a in pair) >= since]  # type: ignore[type-var]
    return sorted(done, key=lambda pair: max(a.submitted_at for a in pair))  # type: ignore[type-var,return-value]


def _field_out(field: str, sheets: list[list[ReviewAssignment]]) -> AgreementFieldOut:
    pairs: list[Pair] = [((a.answers or {}).get(field), (b.answers or {}).get(field)) for a, b in sheets]
    with_ai: list[Pair] = [((s.answers or {}).get(field), s.ai_answers.get(field)) for pair in sheets for s in pair]
    order = order_of(field, [v for p in pairs + with_ai for v in p])
    between, versus_ai = agreement(pairs, order), agreement(with_ai, order)
    return AgreementFieldOut(
        field=field, kind="ordinal" if order is not None else "nominal", sessions=between.pairs,
        percent_agreement=between.percent, statistic=between.statistic, value=between.value,
        ci_low=between.ci_low, ci_high=between.ci_high, ai_pairs=versus_ai.pairs,
        ai_percent_agreement=versus_ai.percent, ai_value=versus_ai.value, ai_ci_low=versus_ai.ci_low,
        ai_ci_high=versus_ai.ci_high)


def _matrix(db: DbSession, field: str, sheets: list[list[ReviewAssignment]]) -> AgreementMatrixOut:
    """Percent agreement on `field` for every two reviewers who judged the same sessions."""
    reviewers = sorted({s.reviewer_id for pair in sheets for s in pair}, key=str)
    emails = dict(db.execute(sa.select(User.id, User.email).where(User.id.in_(reviewers))).all()) if reviewers else {}
    reviewers.sort(key=lambda r: emails.get(r, ""))
    index = {r: i for i, r in enumerate(reviewers)}
    shared: dict[tuple[int, int], list[Pair]] = {}
    for a, b in sheets:
        i, j = index[a.reviewer_id], index[b.reviewer_id]
        pair = ((a.answers or {}).get(field), (b.answers or {}).get(field))
        shared.setdefault((i, j), []).append(pair)
        shared.setdefault((j, i), []).append(pair[::-1])
    size = range(len(reviewers))
    return AgreementMatrixOut(field=field, reviewers=[emails.get(r, str(r)) for r in reviewers],
                              percent=[[percent_agreement(shared[(i, j)]) if (i, j) in shared else None
                                        for j in size] for i in size],
                              sessions=[[len(shared.get((i, j), [])) for j in size] for i in size])


def _trend(field: str, sheets: list[list[ReviewAssignment]]) -> list[AgreementWeekOut]:
    weeks: dict[str, list[list[ReviewAssignment]]] = {}
    for pair in sheets:
        year, week, _ = max(a.submitted_at for a in pair).isocalendar()  # type: ignore[type-var,union-attr]
        weeks.setdefault(f"{year}-W{week:02d}", []).append(pair)
    out = []
    for week, in_week in sorted(weeks.items()):
        stats = _field_out(field, in_week)
        out.append(AgreementWeekOut(week=week, sessions=stats.sessions, percent_agreement=stats.percent_agreement,
                                    statistic=stats.statistic, value=stats.value))
    return out


def reviewer_agreement(db: DbSession, principal: Principal, since: datetime | None = None,
                       field: str | None = None) -> AgreementOut:
    principal.require(Action.read_content)
    sheets = _settled(db, principal.tenant_id, since)
    fields = sorted({f for pair in sheets for s in pair for f in (s.answers or {})},
                    key=lambda f: (f != "risk_level", not f.startswith("flag."), f))
    if field is not None:
        fields = [f for f in fields if f == field]
    focus = field or "risk_level"
    return AgreementOut(since=since, sessions=len(sheets), fields=[_field_out(f, sheets) for f in fields],
                        matrix=_matrix(db, focus, sheets), trend=_trend(focus, sheets))
