"""The dashboard's sign-in through an OpenID Connect provider. Streamlit's `st.login` reads its provider from the
`[auth]` section of a secrets file; this writes that file from Vigil's settings (OIDC_*), mode 600, for the dashboard
process `vigil up` starts, so nobody writes secrets.toml by hand. Without OIDC_ISSUER nothing is written and people
paste API tokens, as before."""

from __future__ import annotations

import json
from pathlib import Path

from vigil.settings import Settings

DISCOVERY_PATH = "/.well-known/openid-configuration"


class IncompleteSignIn(ValueError):
    """OIDC_ISSUER is set but the dashboard cannot sign anyone in with what else is set."""


def auth_section(settings: Settings) -> dict[str, object]:
    missing = [name for name, value in (("OIDC_CLIENT_ID", settings.oidc_client_id),
                                        ("OIDC_CLIENT_SECRET", settings.oidc_client_secret),
                                        ("OIDC_COOKIE_SECRET", settings.oidc_cookie_secret)) if not value]
    if missing:
        raise IncompleteSignIn(f"OIDC_ISSUER is set, so the dashboard signs people in through it; it also needs "
                               f"{', '.join(missing)}")
    return {"redirect_uri": redirect_uri(settings), "cookie_secret": settings.oidc_cookie_secret,
            "client_id": settings.oidc_client_id, "client_secret": settings.oidc_client_secret,
            "server_metadata_url": str(settings.oidc_issuer).rstrip("/") + DISCOVERY_PATH,
            "expose_tokens": "id",  # the dashboard calls the API with the person's ID token (st.user.tokens)
            "client_kwargs": {"scope": settings.oidc_scopes}}


def redirect_uri(settings: Settings) -> str:
    """What to register at the provider: where Streamlit receives the person back."""
    return settings.oidc_redirect_uri or f"{settings.dashboard_base_url}/oauth2callback"


def write_auth_secrets(settings: Settings, path: Path) -> Path:
    """The secrets file st.login reads, readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(_toml(auth_section(settings)))
    return path


def dashboard_options(settings: Settings, secrets_dir: Path) -> tuple[list[str], dict[str, str]]:
    """Extra `streamlit run` arguments and environment for signing in through the provider (none without one)."""
    if not settings.oidc_enabled:
        return [], {}
    secrets = write_auth_secrets(settings, secrets_dir / "secrets.toml")
    return ["--secrets.files", str(secrets)], {"DASHBOARD_SIGN_IN": "oidc"}


def _toml(auth: dict[str, object]) -> str:
    """TOML of the [auth] section: strings as JSON strings (a subset of TOML's basic strings), one table deep."""
    plain = [f"{key} = {json.dumps(value)}" for key, value in auth.items() if not isinstance(value, dict)]
    tables = [f"\n[auth.{key}]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
              for key, value in auth.items() if isinstance(value, dict)]
    return "[auth]\n" + "\n".join(plain) + "\n" + "".join(tables) + "\n"
