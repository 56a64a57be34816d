"""An API process remembers who a token signs in as for AUTH_CACHE_SECONDS, and no longer: a revoked token, a changed
role, a person whose provider groups took their access away are refused (or seen) within that bound, on every
replica; the replica that itself saw the provider's word stops the person's other tokens at once. Entries are per
process and per whole token, so tenants never mix."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import Tenant, make_tenant, tenant_id_of
from tests.standins.oidc import IdpUser, OidcStandin, serve_oidc_standin
from vigil.context import Context
from vigil.db.models import ApiToken
from vigil.schemas.enums import Role
from vigil.services.auth import ensure_user, hash_token, issue_token

TTL = 5.0
ROLES = {"vigil-supervisors": "supervisor"}


class Clock:
    """The cache's clock, moved by hand: the bound is checked to the second, not to a sleeping machine's mercy."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(ctx: Context, seconds: float = TTL) -> tuple[TestClient, Context, Clock]:
    """One API process: a context (and so a cache) of its own on the shared database."""
    own = Context.build(ctx.settings.model_copy(update={"auth_cache_seconds": seconds}), ctx.database_url)
    clock = Clock()
    own.principals.clock = clock
    return TestClient(configure(create_app(), own)), own, clock


def me(api: TestClient, token: str) -> tuple[int, dict]:
    answer = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code, answer.json()


def revoke(ctx: Context, token: str) -> None:
    with ctx.system_db() as db:
        db.execute(sa.update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(revoked_at=sa.func.now()))
        db.commit()


def test_a_revoked_token_is_refused_once_the_bound_has_passed_and_not_before(ctx: Context, tenant_a: Tenant) -> None:
    api, _, clock = replica(ctx)
    with api:
        assert me(api, tenant_a.lead)[0] == 200
        revoke(ctx, tenant_a.lead)
        clock.now += TTL - 0.1
        assert me(api, tenant_a.lead)[0] == 200, "remembered: the cache is in play, up to its bound"
        clock.now += 0.2
        assert me(api, tenant_a.lead) == (401, {"detail": "invalid or revoked token"})


def test_a_revoked_token_is_refused_within_the_bound_in_real_time(ctx: Context, tenant_a: Tenant) -> None:
    own = Context.build(ctx.settings.model_copy(update={"auth_cache_seconds": 0.5}), ctx.database_url)
    with TestClient(configure(create_app(), own)) as api:
        assert me(api, tenant_a.uploader)[0] == 200
        revoke(ctx, tenant_a.uploader)
        revoked = time.monotonic()
        while me(api, tenant_a.uploader)[0] == 200:
            assert time.monotonic() - revoked < 0.5 + 0.5, "still served past the bound (0.5 s) and a margin"
            time.sleep(0.05)


def test_a_role_change_is_seen_within_the_bound(ctx: Context, tenant_a: Tenant) -> None:
    email = f"moved@{tenant_a.name}.test"
    with ctx.system_db() as db:
        token = issue_token(db, tenant_a.name, email, Role.lead)
        db.commit()
    api, _, clock = replica(ctx)
    with api:
        assert me(api, token)[1]["role"] == "lead"
        with ctx.system_db() as db:  # e.g. `vigil token create` with another role, from another process
            ensure_user(db, tenant_a.name, email, Role.supervisor)
            db.commit()
        clock.now += TTL + 0.1
        assert me(api, token)[1]["role"] == "supervisor"


def test_nothing_is_kept_for_a_token_that_signs_in_as_nobody(ctx: Context, tenant_a: Tenant) -> None:
    api, own, _ = replica(ctx)
    with api:
        assert me(api, tenant_a.admin + "x")[0] == 401
        assert own.principals.get(hash_token(tenant_a.admin + "x")) is None


def test_entries_are_per_process_and_per_token_so_tenants_never_mix(ctx: Context) -> None:
    a, b = make_tenant(ctx), make_tenant(ctx)
    first, first_ctx, _ = replica(ctx)
    second, second_ctx, _ = replica(ctx)
    with first, second:
        for token, tenant in [(a.supervisor, a), (b.supervisor, b), (a.lead, a), (b.supervisor, b)]:
            assert me(first, token)[1]["tenant"] == tenant.name
        assert first_ctx.principals.get(hash_token(a.supervisor)).tenant_id == tenant_id_of(ctx, a)
        assert first_ctx.principals.get(hash_token(b.supervisor)).tenant_id == tenant_id_of(ctx, b)
        assert second_ctx.principals.get(hash_token(a.supervisor)) is None, "another process looked nothing up"
        assert me(second, b.supervisor)[1]["tenant"] == b.name


def test_no_cache_looks_every_request_up(ctx: Context, tenant_a: Tenant) -> None:
    api, own, _ = replica(ctx, seconds=0)
    with api:
        assert me(api, tenant_a.counselor)[0] == 200
        revoke(ctx, tenant_a.counselor)
        assert me(api, tenant_a.counselor)[0] == 401


@dataclass
class People:
    idp: OidcStandin
    tenant: Tenant
    domain: str
    ctx: Context

    def person(self, *groups: str) -> IdpUser:
        return IdpUser(email=f"ana@{self.domain}", groups=list(groups))


@pytest.fixture
def people(ctx: Context) -> Iterator[People]:
    with serve_oidc_standin(OidcStandin()) as idp:
        settings = ctx.settings.model_copy(update={"oidc_issuer": idp.issuer, "oidc_client_id": idp.client_id})
        oidc_ctx = Context.build(settings, ctx.database_url)
        tenant = make_tenant(oidc_ctx)
        domain = f"{tenant.name}.test"
        with TestClient(configure(create_app(), oidc_ctx)) as api:
            url = f"/api/v1/tenants/{tenant_id_of(oidc_ctx, tenant)}/sign-in"
            mapping = {"issuer": idp.issuer, "email_domains": [domain], "group_roles": ROLES}
            mapped = api.put(url, headers=tenant.headers("admin"), json=mapping)
            assert mapped.status_code == 200, mapped.text
        yield People(idp, tenant, domain, oidc_ctx)


def test_access_taken_away_on_another_replica_is_refused_here_within_the_bound(people: People) -> None:
    here, _, clock = replica(people.ctx)
    there, _, _ = replica(people.ctx)
    ana = people.person("vigil-supervisors")
    older = people.idp.id_token(ana, issued_at=int(time.time()) - 5)
    with here, there:
        assert me(here, older)[0] == 200
        ana.groups = []
        assert me(there, people.idp.id_token(ana))[1]["code"] == "access_revoked"
        assert me(there, older)[1]["code"] == "access_revoked", "the replica that saw it: at once"
        clock.now += TTL - 0.1
        assert me(here, older)[0] == 200, "remembered here, up to the bound"
        clock.now += 0.2
        assert me(here, older)[1]["code"] == "access_revoked"


def test_the_replica_that_sees_access_taken_away_stops_the_persons_api_token_at_once(people: People) -> None:
    ana = people.person("vigil-supervisors")
    with people.ctx.system_db() as db:
        api_token = issue_token(db, people.tenant.name, ana.email, Role.supervisor)
        db.commit()
    api, _, _ = replica(people.ctx)
    with api:
        assert me(api, api_token)[0] == 200
        assert me(api, people.idp.id_token(ana, issued_at=int(time.time()) - 5))[0] == 200  # links the user
        ana.groups = []
        assert me(api, people.idp.id_token(ana))[1]["code"] == "access_revoked"
        assert me(api, api_token) == (401, {"detail": "invalid or revoked token"})


def test_a_provider_token_is_checked_on_every_request_even_when_its_person_is_remembered(people: People) -> None:
    api, _, _ = replica(people.ctx)
    ana = people.person("vigil-supervisors")
    token = people.idp.id_token(ana)
    with api:
        assert me(api, token)[0] == 200
        people.idp.rotate(keep_old=False)  # the provider retires the key that signed it
        assert me(api, people.idp.id_token(ana, issued_at=int(time.time()) + 1))[0] == 200  # the API learns so
        assert me(api, token)[1]["code"] == "token_key_unknown"
