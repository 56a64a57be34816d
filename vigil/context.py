"""What a process needs to do Vigil's work: settings, the database, the object store and the audit key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy.orm import Session as DbSession

from vigil.audit_chain import SESSION_KEY, AuditKey
from vigil.db.engine import app_database_url, sessionmaker_for, tenant_sessionmaker_for
from vigil.oidc.tokens import TokenVerifier
from vigil.principal import Principal
from vigil.settings import Settings
from vigil.storage.base import ObjectStore
from vigil.storage.stores import open_store
from vigil.token_cache import TokenCache


@dataclass
class Context:
    settings: Settings
    database_url: str = field(repr=False)
    store: ObjectStore = field(repr=False)
    app_database_url: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self.app_database_url:
            self.app_database_url = app_database_url(self.database_url, self.settings.database_app_url)

    @classmethod
    def build(cls, settings: Settings, database_url: str) -> Context:
        return cls(settings=settings, database_url=database_url, store=open_store(settings))

    @cached_property
    def audit_key(self) -> AuditKey | None:
        """The key this process seals audit entries with (AUDIT_KEY), or None when it has none; read once, as every
        database session carries it."""
        return AuditKey.from_setting(self.settings.audit_key) if self.settings.audit_key else None

    @cached_property
    def token_verifier(self) -> TokenVerifier:
        """Checks tokens of the OpenID Connect providers this deployment trusts, keeping their keys for the process."""
        return TokenVerifier(self.settings.oidc_trusted_issuers)

    @cached_property
    def principals(self) -> TokenCache[Principal]:
        """Who tokens sign in as, remembered for AUTH_CACHE_SECONDS by this process (see vigil.token_cache)."""
        return TokenCache(self.settings.auth_cache_seconds)

    def tenant_db(self, tenant_id: uuid.UUID) -> DbSession:
        """A session for one tenant's work: it connects as the application role, and the database's row-level
        security shows and accepts only `tenant_id`'s rows, whatever the query says. Use this by default."""
        if tenant_id is None:
            raise ValueError("a tenant-scoped session needs a tenant")
        db = tenant_sessionmaker_for(self.app_database_url)()
        db.info["tenant_id"] = tenant_id
        db.info[SESSION_KEY] = self.audit_key
        return db

    def system_db(self) -> DbSession:
        """A session as the tables' owner, which row-level security does not restrict. Only for work that is
        not one tenant's by nature: migrations, resolving a token to its tenant, claiming jobs across tenants,
        the retention sweep, administration from the CLI, and tests' own setup and checks."""
        db = sessionmaker_for(self.database_url)()
        db.info[SESSION_KEY] = self.audit_key
        return db
