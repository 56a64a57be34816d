"""A person signs in to the dashboard through an OpenID Connect provider with Streamlit's real `st.login`, in headless
Chromium: the stand-in provider (tests/standins/oidc.py) approves them and sends them back with a code, Streamlit
trades it for an ID token, and the dashboard calls the real API on loopback with that token. They land on the review
queue with the role their provider group maps to, and sign out."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from cli.dashboard_auth import dashboard_options
from tests.browser import Dashboard, chromium_binaries, headless_chromium, streamlit_server
from tests.conftest import Tenant, api_on_loopback, isolated_context, make_tenant, tenant_id_of
from tests.standins.oidc import IdpUser, OidcStandin, serve_oidc_standin
from vigil.context import Context
from vigil.db.models import AuditEntry

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@dataclass
class Live:
    ctx: Context
    idp: OidcStandin
    tenant: Tenant
    dashboard: Dashboard


@pytest.fixture
def live(pg_admin_url: str, tmp_path: Path) -> Iterator[Live]:
    """The provider, the API trusting it, a tenant taking its people of one domain (group vigil-supervisors →
    supervisor), and the dashboard started with the [auth] secrets `vigil up` would write, in Chromium."""
    chromium = chromium_binaries()
    with serve_oidc_standin(OidcStandin()) as idp:
        ctx = isolated_context(pg_admin_url, tmp_path, oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
                               oidc_client_secret=idp.client_secret, oidc_cookie_secret="test-cookie-secret-5f1e9b7c",
                               oidc_redirect_uri="http://127.0.0.1:{port}/oauth2callback")  # Streamlit fills {port}
        tenant = make_tenant(ctx)
        args, env = dashboard_options(ctx.settings, tmp_path / "dashboard")
        shots = Path(os.environ.get("VIGIL_SCREENSHOT_DIR") or tmp_path / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        with api_on_loopback(ctx) as api_url, \
                streamlit_server(APP, api_url, tmp_path / "streamlit.log", args=args, env=env) as url, \
                headless_chromium(*chromium) as driver:
            mapped = httpx.put(f"{api_url}/api/v1/tenants/{tenant_id_of(ctx, tenant)}/sign-in",
                               headers=tenant.headers("admin"),
                               json={"issuer": idp.issuer, "email_domains": [f"{tenant.name}.test"],
                                     "group_roles": {"vigil-supervisors": "supervisor"}})
            assert mapped.status_code == 200, mapped.text
            idp.redirect_uris = [f"{url}/oauth2callback"]
            yield Live(ctx, idp, tenant, Dashboard(driver, url, shots))


def test_a_person_signs_in_through_the_provider_lands_on_the_queue_with_the_mapped_role_and_signs_out(
        live: Live) -> None:
    ana = IdpUser(email=f"ana@{live.tenant.name}.test", groups=["vigil-supervisors"])
    live.idp.user = ana  # the provider approves her without asking
    dashboard = live.dashboard

    dashboard.sign_in_through_provider()
    dashboard.wait_for_title("Review queue")
    assert live.idp.token_requests == 1, "Streamlit traded a code for her tokens at the provider"
    assert ana.email in dashboard.sidebar_text()
    assert f"supervisor · {live.tenant.name}" in dashboard.sidebar_text()
    dashboard.screenshot("sign-in-1-queue")
    with live.ctx.system_db() as db:
        actions = list(db.execute(sa.select(AuditEntry.action, AuditEntry.detail).where(
            AuditEntry.tenant_id == tenant_id_of(live.ctx, live.tenant)).order_by(AuditEntry.seq)))
    assert ("user.created", {"email": ana.email, "role": "supervisor", "source": "identity_provider",
                             "issuer": live.idp.issuer}) in [(a, d) for a, d in actions]
    assert ("user.sign_in", {"client": "dashboard"}) in [(a, d) for a, d in actions]

    dashboard.press("Sign out")
    dashboard.wait_for_title("Vigil — sign in")
    assert "organisation's account" in dashboard.driver.find_element("css selector", "[data-testid='stMain']").text
    dashboard.driver.get(dashboard.url)  # a new page load: the sign-in cookie is gone, not just this session's state
    dashboard.wait_for_title("Vigil — sign in")
    dashboard.screenshot("sign-in-2-signed-out")
