"""The demo tenant and bundled sample sessions that `vigil up` brings along."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session as DbSession

from vigil.db.models import ApiToken, Tenant, User
from vigil.schemas.enums import Role
from vigil.services.auth import hash_token, issue_token

DEMO_TENANT = "demo"
DEMO_USERS = {
    "supervisor": "supervisor@demo.local",
    "lead": "lead@demo.local",
    "uploader": "uploader@demo.local",
}
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_EXTENSIONS = {".mp3", ".m4a", ".webm", ".wav", ".mp4"}
# Who "held" each bundled sample, so the queue's counselor and team filters have something to filter.
SAMPLE_COUNSELORS = {
    "checkin-risk.mp3": ("Dana Ruiz", "North clinic"),
    "routine-coaching.m4a": ("Sam Okafor", "South clinic"),
    "support-video.webm": ("Dana Ruiz", "North clinic"),
}


def _token_valid(db: DbSession, token: str) -> bool:
    return db.scalar(sa.select(ApiToken.id).where(ApiToken.token_hash == hash_token(token),
                                                  ApiToken.revoked_at.is_(None))) is not None


def ensure_demo_tokens(db: DbSession, token_file: Path) -> dict[str, str]:
    """Demo users' tokens, kept in `token_file` (local demo only) so they survive restarts."""
    saved: dict[str, str] = json.loads(token_file.read_text()) if token_file.exists() else {}
    tokens: dict[str, str] = {}
    for role, email in DEMO_USERS.items():
        token = saved.get(role)
        if not token or not _token_valid(db, token):
            token = issue_token(db, DEMO_TENANT, email, Role(role), label="demo")
        tokens[role] = token
    db.commit()
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.write_text(json.dumps(tokens, indent=2))
    token_file.chmod(0o600)
    return tokens


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix in SAMPLE_EXTENSIONS)


def demo_tenant_id(db: DbSession) -> str | None:
    tenant = db.scalar(sa.select(Tenant.id).where(Tenant.name == DEMO_TENANT))
    return str(tenant) if tenant else None


def demo_user_count(db: DbSession) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(User).join(Tenant)
                     .where(Tenant.name == DEMO_TENANT)) or 0
