"""People sign in through an OpenID Connect provider (a stand-in on loopback serving discovery, keys and tokens):
the API checks each ID token against the provider's published keys, its issuer, audience and expiry; the tenant
whose sign-in mapping the token matches gets the person, with the role their provider groups map to, on first
sign-in; each newer token's groups change the role or take access away, audited."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from serve.app import configure, create_app
from tests.conftest import SAMPLES, Tenant, make_tenant, tenant_id_of
from tests.standins.oidc import IdpUser, OidcStandin, new_key, serve_oidc_standin
from vigil.context import Context
from vigil.db.models import AuditEntry, User

ROLES = {"vigil-supervisors": "supervisor", "vigil-leads": "lead"}


@dataclass
class World:
    api: TestClient
    ctx: Context
    idp: OidcStandin
    other_idp: OidcStandin  # trusted too, and mapped to no tenant unless a test maps it
    tenant: Tenant  # mapped to `idp`, for people of `domain`
    domain: str

    def person(self, *groups: str, name: str = "ana") -> IdpUser:
        return IdpUser(email=f"{name}@{self.domain}", groups=list(groups))

    def call(self, token: str, path: str = "/api/v1/me", method: str = "GET") -> tuple[int, dict]:
        answer = self.api.request(method, path, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code, answer.json()

    def audit(self, action: str) -> list[dict]:
        with self.ctx.system_db() as db:
            return list(db.scalars(sa.select(AuditEntry.detail).where(
                AuditEntry.tenant_id == tenant_id_of(self.ctx, self.tenant), AuditEntry.action == action)))


def map_tenant(api: TestClient, ctx: Context, tenant: Tenant, **mapping: object) -> dict:
    answer = api.put(f"/api/v1/tenants/{tenant_id_of(ctx, tenant)}/sign-in", headers=tenant.headers("admin"),
                     json=mapping)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def world(ctx: Context) -> Iterator[World]:
    with serve_oidc_standin(OidcStandin()) as idp, serve_oidc_standin(OidcStandin(client_id="other-app")) as other:
        settings = ctx.settings.model_copy(update={"oidc_issuer": idp.issuer, "oidc_client_id": idp.client_id,
                                                   "oidc_other_issuers": {other.issuer: other.client_id}})
        oidc_ctx = Context.build(settings, ctx.database_url)
        tenant = make_tenant(oidc_ctx)
        domain = f"{tenant.name}.test"
        with TestClient(configure(create_app(), oidc_ctx)) as api:
            map_tenant(api, oidc_ctx, tenant, issuer=idp.issuer, email_domains=[domain], group_roles=ROLES)
            yield World(api, oidc_ctx, idp, other, tenant, domain)


def test_first_sign_in_makes_the_user_with_the_role_their_group_maps_to(world: World) -> None:
    ana = world.person("vigil-supervisors", "unrelated-group")
    status, me = world.call(world.idp.id_token(ana), "/api/v1/sign-in?client=dashboard", "POST")
    assert status == 200, me
    assert (me["email"], me["role"], me["tenant"]) == (ana.email, "supervisor", world.tenant.name)
    with world.ctx.system_db() as db:
        user = db.scalar(sa.select(User).where(User.email == ana.email))
    assert user is not None and (user.role, user.oidc_issuer, user.oidc_subject) == (
        "supervisor", world.idp.issuer, ana.subject)
    made = [entry for entry in world.audit("user.created") if entry.get("source") == "identity_provider"]
    assert made == [{"email": ana.email, "role": "supervisor", "source": "identity_provider",
                     "issuer": world.idp.issuer}]
    assert [entry["client"] for entry in world.audit("user.sign_in")] == ["dashboard"]
    assert world.call(world.idp.id_token(ana), "/api/v1/sessions")[0] == 200


def test_someone_whose_groups_map_to_no_role_is_refused_and_not_made(world: World) -> None:
    bo = world.person("unrelated-group", name="bo")
    status, body = world.call(world.idp.id_token(bo))
    assert (status, body["code"]) == (403, "no_role")
    with world.ctx.system_db() as db:
        assert db.scalar(sa.select(User.id).where(User.email == bo.email)) is None


@pytest.mark.parametrize("kind", ["forged", "expired", "wrong_audience", "untrusted_issuer", "issuer_swapped"])
def test_a_token_that_proves_nothing_is_refused_with_401(world: World, kind: str) -> None:
    ana = world.person("vigil-supervisors")
    with serve_oidc_standin(OidcStandin(client_id=world.idp.client_id)) as stranger:
        token = {
            # signed with a key the provider never published, under the kid of one it did
            "forged": lambda: world.idp.id_token(ana, key=new_key(world.idp.signing_key.kid)),
            "expired": lambda: world.idp.id_token(ana, issued_at=int(time.time()) - 900, expires_in=300),
            "wrong_audience": lambda: world.idp.id_token(ana, audience="some-other-app"),
            # a provider this deployment does not trust, whatever it says about the person
            "untrusted_issuer": lambda: stranger.id_token(ana),
            # a trusted provider's token presented as another trusted provider's
            "issuer_swapped": lambda: world.idp.id_token(ana, issuer=world.other_idp.issuer,
                                                         audience=world.other_idp.client_id),
        }[kind]()
        status, body = world.call(token)
    expected = {"forged": "token_signature_invalid", "expired": "token_expired",
                "wrong_audience": "token_audience_wrong", "untrusted_issuer": "token_issuer_untrusted",
                "issuer_swapped": "token_key_unknown"}[kind]
    assert (status, body["code"]) == (401, expected), body
    with world.ctx.system_db() as db:
        assert db.scalar(sa.select(User.id).where(User.email == ana.email)) is None, "nobody was made"


def test_a_token_from_another_tenants_issuer_never_reads_this_tenants_data(world: World, ctx: Context) -> None:
    """Tenant B takes the other provider's people of the same email domain: they land in B, and see none of A's."""
    accepted = world.api.post("/api/v1/sessions", headers=world.tenant.headers("uploader"),
                              files={"file": ("a.mp3", io.BytesIO((SAMPLES / "checkin-risk.mp3").read_bytes()))})
    assert accepted.status_code == 202
    a_session = accepted.json()["session_id"]
    tenant_b = make_tenant(world.ctx)
    map_tenant(world.api, world.ctx, tenant_b, issuer=world.other_idp.issuer, email_domains=[world.domain],
               group_roles=ROLES)
    token = world.other_idp.id_token(world.person("vigil-supervisors"))

    status, me = world.call(token)
    assert (status, me["tenant"]) == (200, tenant_b.name)
    status, sessions = world.call(token, "/api/v1/sessions")
    assert status == 200 and a_session not in str(sessions)
    assert world.call(token, f"/api/v1/sessions/{a_session}")[0] == 404
    assert world.call(world.tenant.supervisor, f"/api/v1/sessions/{a_session}")[0] == 200, "A's own still can"


def test_a_provider_no_tenant_takes_gets_no_tenant(world: World) -> None:
    status, body = world.call(world.other_idp.id_token(world.person("vigil-supervisors")))
    assert (status, body["code"]) == (403, "no_tenant")


def test_removing_the_group_takes_access_away_on_the_next_request(world: World) -> None:
    ana = world.person("vigil-supervisors")
    before = world.idp.id_token(ana, issued_at=int(time.time()) - 5)
    assert world.call(before)[0] == 200
    ana.groups = []  # an administrator removes her from the group at the provider; her next token says so
    status, body = world.call(world.idp.id_token(ana))
    assert (status, body["code"]) == (403, "access_revoked"), body
    status, body = world.call(before)
    assert (status, body["code"]) == (403, "access_revoked"), "an older token cannot bring the access back"
    assert [entry["role"] for entry in world.audit("user.access_revoked")] == ["supervisor"]

    ana.groups = ["vigil-supervisors"]  # and put back
    assert world.call(world.idp.id_token(ana, issued_at=int(time.time()) + 1))[0] == 200
    assert len(world.audit("user.access_restored")) == 1


def test_a_changed_group_changes_the_role(world: World) -> None:
    ana = world.person("vigil-supervisors")
    assert world.call(world.idp.id_token(ana, issued_at=int(time.time()) - 5))[1]["role"] == "supervisor"
    ana.groups = ["vigil-leads"]
    status, me = world.call(world.idp.id_token(ana))
    assert (status, me["role"]) == (200, "lead")
    assert world.audit("user.role_changed") == [{"email": ana.email, "source": "identity_provider",
                                                 "before": "supervisor", "after": "lead"}]
    assert world.call(world.idp.id_token(ana), "/api/v1/sessions/00000000-0000-0000-0000-000000000000/reviews",
                      "POST")[0] in (403, 422), "a lead does not review"


def test_a_rotated_key_is_picked_up_and_a_retired_one_refused(world: World) -> None:
    ana = world.person("vigil-supervisors")
    old_token = world.idp.id_token(ana)
    assert world.call(old_token)[0] == 200
    fetched = world.idp.jwks_requests
    world.idp.rotate(keep_old=False)  # a new kid signs; the old key is no longer published
    assert world.call(world.idp.id_token(ana))[0] == 200
    assert world.idp.jwks_requests == fetched + 1, "the unknown kid made the API fetch the keys again, once"
    status, body = world.call(old_token)
    assert (status, body["code"]) == (401, "token_key_unknown")


def test_only_an_admin_sets_the_mapping_only_to_a_trusted_provider_and_it_is_audited(world: World) -> None:
    url = f"/api/v1/tenants/{tenant_id_of(world.ctx, world.tenant)}/sign-in"
    wanted = {"issuer": world.other_idp.issuer, "email_domains": ["Clinic.Example.org"],
              "group_roles": {"g": "admin"}}
    assert world.api.put(url, headers=world.tenant.headers("supervisor"), json=wanted).status_code == 403
    refused = world.api.put(url, headers=world.tenant.headers("admin"), json={**wanted, "issuer": "https://evil.test"})
    assert refused.status_code == 400 and "trusts" in refused.json()["detail"]
    saved = world.api.put(url, headers=world.tenant.headers("admin"), json=wanted).json()
    assert (saved["email_domains"], saved["enabled"]) == (["clinic.example.org"], True)
    assert world.api.get(url, headers=world.tenant.headers("admin")).json() == saved
    [entry] = [e for e in world.audit("tenant.sign_in") if e["after"]["issuer"] == world.other_idp.issuer]
    assert entry["before"]["issuer"] == world.idp.issuer


def test_without_oidc_settings_a_provider_token_is_an_invalid_token(client: TestClient) -> None:
    with serve_oidc_standin(OidcStandin()) as idp:
        answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {idp.id_token(IdpUser('a@b.test'))}"})
    assert (answer.status_code, answer.json()["detail"]) == (401, "invalid or revoked token")


def test_an_api_token_user_is_linked_on_first_sign_in_and_loses_the_token_with_the_group(world: World) -> None:
    from vigil.schemas.enums import Role
    from vigil.services.auth import issue_token

    ana = world.person("vigil-supervisors")
    with world.ctx.system_db() as db:
        api_token = issue_token(db, world.tenant.name, ana.email, Role.supervisor)
        db.commit()
    assert world.call(world.idp.id_token(ana, issued_at=int(time.time()) - 5))[0] == 200
    assert [entry["email"] for entry in world.audit("user.linked")] == [ana.email]
    ana.groups = []
    assert world.call(world.idp.id_token(ana))[0] == 403
    status, body = world.call(api_token)
    assert (status, body["detail"]) == (401, "invalid or revoked token"), "the person's API token stopped too"


def test_an_unreachable_provider_gets_503_and_makes_no_one(ctx: Context) -> None:
    with serve_oidc_standin(OidcStandin()) as idp:  # a token minted while the provider was up; then it goes away
        token = idp.id_token(IdpUser(email="ana@gone.test", groups=["vigil-supervisors"]))
    settings = ctx.settings.model_copy(update={"oidc_issuer": idp.issuer, "oidc_client_id": idp.client_id})
    gone_ctx = Context.build(settings, ctx.database_url)
    with gone_ctx.system_db() as db:
        users_before = db.scalar(sa.select(sa.func.count()).select_from(User))
    with TestClient(configure(create_app(), gone_ctx)) as api:
        answer = api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503 and answer.json()["code"] == "identity_provider_unreachable", answer.text
    with gone_ctx.system_db() as db:
        assert db.scalar(sa.select(sa.func.count()).select_from(User)) == users_before
        assert db.scalar(sa.select(User).where(User.email == "ana@gone.test")) is None
