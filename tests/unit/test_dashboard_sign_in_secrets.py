"""The `[auth]` secrets `vigil up` writes for the dashboard's st.login, from Vigil's settings: nothing without a
provider (people paste API tokens, as before), a complete and readable-by-owner-only file with one."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from cli.dashboard_auth import IncompleteSignIn, dashboard_options
from vigil.settings import Settings

PROVIDER = {"oidc_issuer": "https://login.example.org/tenant/v2.0", "oidc_client_id": "vigil-dash",
            "oidc_client_secret": "s3cret \"quoted\" \\ value", "oidc_cookie_secret": "cookie-secret-0123456789"}


def test_without_a_provider_the_dashboard_starts_as_before(tmp_path: Path) -> None:
    assert dashboard_options(Settings(_env_file=None), tmp_path) == ([], {})
    assert list(tmp_path.iterdir()) == []


def test_with_a_provider_streamlit_gets_a_private_auth_section_made_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, dashboard_port=8600, **PROVIDER)
    args, env = dashboard_options(settings, tmp_path / "dashboard")
    assert args[0] == "--secrets.files" and env == {"DASHBOARD_SIGN_IN": "oidc"}
    secrets = Path(args[1])
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert tomllib.loads(secrets.read_text())["auth"] == {
        "redirect_uri": "http://127.0.0.1:8600/oauth2callback", "cookie_secret": PROVIDER["oidc_cookie_secret"],
        "client_id": "vigil-dash", "client_secret": PROVIDER["oidc_client_secret"],
        "server_metadata_url": "https://login.example.org/tenant/v2.0/.well-known/openid-configuration",
        "expose_tokens": "id", "client_kwargs": {"scope": "openid email profile"}}


def test_a_provider_without_its_client_secret_is_refused_before_anything_starts(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, **{**PROVIDER, "oidc_client_secret": None})
    with pytest.raises(IncompleteSignIn, match="OIDC_CLIENT_SECRET"):
        dashboard_options(settings, tmp_path)
