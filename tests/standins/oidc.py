"""A stand-in OpenID Connect provider on 127.0.0.1, speaking what Streamlit's `st.login` (Authlib) and Vigil's API
need of a real one: discovery (`/.well-known/openid-configuration`), the key set (`/jwks`), and the authorization-code
flow with PKCE: `/authorize` approves the configured test user at once (no login page) and redirects back with a
code; `/token` trades the code (client secret, redirect URI and PKCE verifier checked) for an RS256-signed ID token
carrying email, groups and the nonce. Keys are made with joserfc and can be rotated (a new `kid` signs from then on).

Tests also mint tokens directly (`id_token`), e.g. expired or for another audience, and change a user's groups
between sign-ins, as an administrator would at a real provider."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Header, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.conftest import free_port
from tests.standins.loopback import serve_on_loopback


def new_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid or secrets.token_hex(4), "use": "sig", "alg": "RS256"})


@dataclass
class IdpUser:
    email: str
    groups: list[str] = field(default_factory=list)
    subject: str = field(default_factory=lambda: secrets.token_hex(8))
    name: str = "Test Person"


@dataclass
class _Grant:
    user: IdpUser
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None


@dataclass
class OidcStandin:
    client_id: str = "vigil-dashboard"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    redirect_uris: list[str] = field(default_factory=list)
    user: IdpUser | None = None  # the person /authorize signs in, without asking
    token_seconds: int = 300
    issuer: str = ""
    keys: list[RSAKey] = field(default_factory=lambda: [new_key()])
    token_requests: int = 0
    jwks_requests: int = 0
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def signing_key(self) -> RSAKey:
        return self.keys[-1]

    def rotate(self, keep_old: bool = True) -> RSAKey:
        """A new key signs from now on and is published; the old one stays published unless `keep_old` is false."""
        key = new_key()
        self.keys = [*self.keys, key] if keep_old else [key]
        return key

    def id_token(self, user: IdpUser, *, audience: str | None = None, issuer: str | None = None,
                 expires_in: int | None = None, issued_at: int | None = None, nonce: str | None = None,
                 key: RSAKey | None = None, **extra: Any) -> str:
        now = issued_at if issued_at is not None else int(time.time())
        claims = {"iss": issuer or self.issuer, "sub": user.subject, "aud": audience or self.client_id, "iat": now,
                  "exp": now + (self.token_seconds if expires_in is None else expires_in), "email": user.email,
                  "email_verified": True, "name": user.name, "groups": list(user.groups), **extra}
        if nonce is not None:
            claims["nonce"] = nonce
        signer = key or self.signing_key
        return jwt.encode({"alg": "RS256", "kid": signer.kid, "typ": "JWT"}, claims, signer)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict[str, Any]:
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"], "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                    "scopes_supported": ["openid", "email", "profile", "groups"],
                    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

        @app.get("/jwks")
        def jwks() -> dict[str, Any]:
            self.jwks_requests += 1
            return dict(KeySet(list(self.keys)).as_dict(private=False))

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            query = request.query_params
            if query.get("client_id") != self.client_id or query.get("redirect_uri") not in self.redirect_uris:
                raise HTTPException(400, "unknown client or redirect_uri")
            if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
                raise HTTPException(400, "only the authorization-code flow of OpenID Connect")
            back = {"state": query.get("state", "")}
            if self.user is None:
                return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'error': 'access_denied', **back})}")
            code = secrets.token_urlsafe(16)
            with self._lock:
                self._codes[code] = _Grant(self.user, self.client_id, query["redirect_uri"], query.get("nonce"),
                                           query.get("code_challenge"))
            return RedirectResponse(f"{query['redirect_uri']}?{urlencode({'code': code, **back})}", status_code=302)

        @app.post("/token")
        def token(grant_type: Annotated[str, Form()], code: Annotated[str, Form()],
                  redirect_uri: Annotated[str, Form()], code_verifier: Annotated[str | None, Form()] = None,
                  client_id: Annotated[str | None, Form()] = None, client_secret: Annotated[str | None, Form()] = None,
                  authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
            self.token_requests += 1
            if authorization and authorization.lower().startswith("basic "):
                client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
            if client_id != self.client_id or client_secret != self.client_secret:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            with self._lock:
                grant = self._codes.pop(code, None)
            if grant_type != "authorization_code" or grant is None or grant.redirect_uri != redirect_uri:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            if grant.challenge is not None and _s256(code_verifier or "") != grant.challenge:
                return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, status_code=400)
            return JSONResponse({"access_token": secrets.token_urlsafe(24), "token_type": "Bearer",
                                 "expires_in": self.token_seconds,
                                 "id_token": self.id_token(grant.user, nonce=grant.nonce)},
                                headers={"Cache-Control": "no-store"})

        return app


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@contextmanager
def serve_oidc_standin(standin: OidcStandin) -> Iterator[OidcStandin]:
    """The provider on a free loopback port; its issuer is its base URL (set before it serves)."""
    port = free_port()
    standin.issuer = f"http://127.0.0.1:{port}"
    with serve_on_loopback(standin.app(), port=port):
        yield standin
