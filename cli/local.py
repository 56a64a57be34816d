"""The local deployment's settings and database: secrets made on first use under DATA_DIR, migrations applied,
reviews written before sealing sealed. Every command starts here."""

from __future__ import annotations

import uuid
from pathlib import Path

import typer

from vigil.secrets import load_settings


def database_url() -> str:
    from vigil.db.engine import resolve_database_url, run_migrations

    settings = load_settings()
    url = resolve_database_url(settings)
    run_migrations(url)
    return url


def local_settings(make_keys: bool = True):  # type: ignore[no-untyped-def]
    """Settings for a process of this machine's deployment: secrets the environment (or secrets backend) does not
    give are kept in files under DATA_DIR, made on first use: the local store's signing key, the keyring that
    seals transcripts (a file, so `vigil keys rotate` can add a key that running processes pick up), the audit
    key, and with OIDC_ISSUER set, the secret that signs the dashboard's sign-in cookie. With `make_keys=False`
    nothing is made: only an audit key file already there is read (for checking)."""
    import secrets

    from vigil.crypto import Keyring

    settings = load_settings()
    updates: dict[str, object] = {}
    audit_key_file = settings.data_dir / "audit-key"
    if not make_keys:
        if not settings.audit_key and audit_key_file.exists():
            updates["audit_key"] = audit_key_file.read_text().strip()
        return settings.model_copy(update=updates) if updates else settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not settings.audit_key:
        updates["audit_key"] = _local_secret(audit_key_file, lambda: secrets.token_urlsafe(32))
    if not settings.signing_key:
        updates["signing_key"] = _local_secret(settings.data_dir / "signing-key", lambda: secrets.token_urlsafe(32))
    if settings.oidc_enabled and not settings.oidc_cookie_secret:  # signs the dashboard's sign-in cookie
        updates["oidc_cookie_secret"] = _local_secret(settings.data_dir / "dashboard-cookie-secret",
                                                      lambda: secrets.token_urlsafe(32))
    if not settings.encryption_keys and not settings.encryption_keys_file:
        keys_file = settings.data_dir / "encryption-keys"
        _local_secret(keys_file, lambda: f"k1:{Keyring.generate_key()}")
        updates["encryption_keys_file"] = keys_file.resolve()
    return settings.model_copy(update=updates) if updates else settings


def _local_secret(path: Path, make) -> str:  # type: ignore[no-untyped-def]
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


def seal_legacy_reviews(settings, url: str) -> int:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from vigil.context import Context
    from vigil.db.engine import sessionmaker_for
    from vigil.db.models import Review
    from vigil.services.analysis_content import seal_existing_reviews

    with sessionmaker_for(url)() as db:
        tenants = db.scalars(sa.select(Review.tenant_id).where(Review.sealed.is_(None)).distinct()).all()
    ctx = Context.build(settings, url)
    return sum(seal_existing_reviews(ctx, tenant_id) for tenant_id in tenants)


def tenants_named(db, names: list[str] | None) -> list[tuple[uuid.UUID, str]]:  # type: ignore[no-untyped-def]
    """(id, name) of the named tenants, or of every tenant; exits 2 naming any that does not exist."""
    import sqlalchemy as sa

    from vigil.db.models import Tenant

    query = sa.select(Tenant.id, Tenant.name).order_by(Tenant.name)
    if names:
        query = query.where(Tenant.name.in_(names))
    tenants = [(tenant_id, name) for tenant_id, name in db.execute(query)]
    if names and len(tenants) < len(set(names)):
        typer.secho(f"unknown tenant(s): {', '.join(sorted(set(names) - {name for _, name in tenants}))}", fg="red")
        raise typer.Exit(2)
    return tenants
