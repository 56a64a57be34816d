"""Who is asking and what their role lets them do. Below the services and the process context, so both can name a
Principal (the context keeps a cache of them) without the context importing a service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from vigil.errors import Forbidden
from vigil.schemas.enums import Role


class Action(StrEnum):
    upload = "upload"
    read_status = "read_status"
    read_content = "read_content"
    review = "review"
    reprocess = "reprocess"
    administer = "administer"
    adjudicate = "adjudicate"  # settle two reviewers' disagreement (vigil.services.double_review)
    counsel = "counsel"  # one's own reviewed sessions: read them, acknowledge a review, dispute a field
    calibrate = "calibrate"  # mark gold answers and run calibration rounds (vigil.services.calibration)


# A counselor may do nothing else: no session list, status, transcript, audio or analysis (those endpoints answer
# 403), only their own reviewed results through /me/sessions. Nobody else counsels: it needs a counselor link.
PERMISSIONS: dict[Role, set[Action]] = {
    Role.admin: set(Action) - {Action.counsel},
    Role.supervisor: set(Action) - {Action.administer, Action.adjudicate, Action.counsel, Action.calibrate},
    Role.lead: {Action.read_status, Action.read_content, Action.adjudicate, Action.calibrate},
    Role.uploader: {Action.upload, Action.read_status},
    Role.counselor: {Action.counsel},
}


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: Role

    def require(self, action: Action) -> None:
        if action not in PERMISSIONS[self.role]:
            raise Forbidden(f"role {self.role.value!r} may not {action.value.replace('_', ' ')}")

    def can(self, action: Action) -> bool:
        return action in PERMISSIONS[self.role]
