"""HTTP models of the counselor's voice: a counselor's reviewed sessions, acknowledgements, disputes and their
resolution, and the admin's link from a counselor account to the name sessions carry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from vigil.schemas.enums import Role


class CounselorLinkIn(BaseModel):
    label: str | None = Field(max_length=200, description="The counselor's name as sessions carry it (given at "
                                                          "upload); null removes the link (the account sees nothing).")


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    counselor_label: str | None
    created_at: datetime


class ReviewedField(BaseModel):
    field: str = Field(description="risk_level | summary | action_items | mi_quality | rubric.<key> | "
                                   "flag.<category>")
    value: Any = Field(description="The reviewed value: the reviewer's, or the AI's that the reviewer left as it was.")
    source: Literal["reviewer", "accepted"] = Field(description="reviewer: set by a review; accepted: the AI's value, "
                                                                "left alone by the reviewer of the session.")
    comment: str | None = Field(None, description="The reviewer's reason, for a field set by a review.")
    reviewer_email: str | None = Field(None, description="Who made it canonical; a dispute goes to them.")
    reviewed_at: datetime | None = None


class DisputeOut(BaseModel):
    id: uuid.UUID
    session_id: uuid.UUID
    session_title: str | None
    counselor: str | None = Field(description="The session's counselor (the name given at upload).")
    field: str
    disputed_value: Any = Field(description="The reviewed value when the dispute was opened.")
    note: str
    status: Literal["open", "upheld", "changed"]
    opened_by_email: str
    assignee_email: str | None = Field(description="The supervisor whose queue it is in (null: their account is "
                                                   "gone; an admin resolves it).")
    created_at: datetime
    reason: str | None = Field(None, description="Why it was upheld or changed.")
    resolved_value: Any = Field(None, description="The value after the resolution (the new one when changed).")
    resolved_by_email: str | None = None
    resolved_at: datetime | None = None


class AcknowledgementOut(BaseModel):
    session_id: uuid.UUID
    acknowledged_at: datetime
    changed_since: bool = Field(description="A review changed a value after the acknowledgement.")


class CounselorSessionOut(BaseModel):
    id: uuid.UUID
    title: str | None
    counselor: str | None
    team: str | None
    created_at: datetime
    duration_seconds: float | None
    reviewed_at: datetime
    risk_level: str | None = Field(description="The reviewed risk level.")
    acknowledged_at: datetime | None
    open_disputes: int


class CounselorSessionDetail(CounselorSessionOut):
    fields: list[ReviewedField]
    acknowledgement: AcknowledgementOut | None
    disputes: list[DisputeOut] = Field(description="The caller's disputes of this session, newest first.")


class DisputeIn(BaseModel):
    field: str = Field(max_length=100, description="One of the session's reviewed fields.")
    note: str = Field(min_length=3, max_length=4000, description="Why the counselor disagrees.")


class DisputeResolutionIn(BaseModel):
    outcome: Literal["upheld", "changed"] = Field(description="upheld: the value stays; changed: `value` becomes "
                                                              "canonical through a new review of the field.")
    reason: str = Field(min_length=3, max_length=4000)
    value: Any = Field(None, description="The new value (outcome changed).")
