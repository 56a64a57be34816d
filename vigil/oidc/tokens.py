"""Checking a bearer token that is a JWT from a trusted OpenID Connect provider: signed by one of the provider's
published keys (asymmetric algorithms only), issued by that provider, for one of the audiences this deployment
accepts from it, not expired. What comes out is the identity the token vouches for; who that is in Vigil (tenant,
role) is decided by vigil.services.idp_users."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from vigil.errors import Unauthenticated
from vigil.oidc.provider_keys import ProviderKeys

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 60  # clock skew between the provider and this server


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: str
    subject: str
    email: str | None
    issued_at: int
    claims: dict[str, Any] = field(repr=False)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class TokenVerifier:
    """The providers of `trusted` (issuer → audiences accepted from it), each with its keys kept."""

    def __init__(self, trusted: dict[str, list[str]], *, refetch_seconds: float = 10.0) -> None:
        self.audiences = trusted
        self.providers = {issuer: ProviderKeys(issuer, refetch_seconds=refetch_seconds) for issuer in trusted}

    def verify(self, token: str) -> VerifiedIdentity:
        issuer: list[str] = []  # the issuer the key was chosen for, out of the key callback

        def key_for(obj: Any) -> KeySet:
            claimed = _unverified_issuer(obj.payload)
            if claimed not in self.providers:
                raise Unauthenticated("the token's issuer is not a provider this deployment trusts",
                                      code="token_issuer_untrusted")
            issuer.append(claimed)
            return self.providers[claimed].for_key_id(obj.headers().get("kid"))

        try:
            decoded = jwt.decode(token, key_for, algorithms=ALGORITHMS)
        except InvalidKeyIdError as exc:
            raise Unauthenticated("the token is signed with a key its issuer does not publish",
                                  code="token_key_unknown") from exc
        except BadSignatureError as exc:
            raise Unauthenticated("the token's signature does not verify", code="token_signature_invalid") from exc
        except JoseError as exc:
            raise Unauthenticated(f"the token cannot be read ({exc.error})", code="token_malformed") from exc
        except ValueError as exc:  # a header or payload that is not base64 JSON
            raise Unauthenticated("the token cannot be read", code="token_malformed") from exc
        claims = decoded.claims
        _check_claims(claims, issuer[0], self.audiences[issuer[0]])
        email = claims.get("email") or _email_like(claims.get("preferred_username"))
        if email is not None and claims.get("email_verified") in (False, "false"):
            email = None  # an address the provider has not verified names nobody
        return VerifiedIdentity(issuer=issuer[0], subject=str(claims["sub"]),
                                email=str(email).lower() if email else None, issued_at=int(claims.get("iat") or 0),
                                claims=claims)


def _unverified_issuer(payload: bytes) -> str | None:
    """Only to choose whose keys to check the signature with; nothing else is read before it is checked."""
    try:
        issuer = json.loads(payload).get("iss")
    except (ValueError, AttributeError):
        return None
    return issuer if isinstance(issuer, str) else None


def _check_claims(claims: dict[str, Any], issuer: str, audiences: list[str]) -> None:
    registry = JWTClaimsRegistry(leeway=LEEWAY_SECONDS, iss={"essential": True, "value": issuer},
                                 aud={"essential": True, "values": audiences}, exp={"essential": True},
                                 sub={"essential": True})
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise Unauthenticated("the token has expired: sign in again", code="token_expired") from exc
    except ClaimError as exc:
        if getattr(exc, "claim", None) == "aud":
            raise Unauthenticated("the token is meant for another audience", code="token_audience_wrong") from exc
        raise Unauthenticated(f"the token's claims are not acceptable ({exc})", code="token_claims_invalid") from exc


def _email_like(value: Any) -> str | None:
    """Entra ID puts the sign-in name in `preferred_username` and often no `email`."""
    return value if isinstance(value, str) and "@" in value else None
