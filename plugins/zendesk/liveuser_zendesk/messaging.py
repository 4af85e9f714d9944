"""The Messaging login JWT a host may pass on: checked by liveuser itself.

A business that enables messaging authentication signs a JWT for its
logged-in user (HS256, header ``kid`` = the signing key's id ``app_…``,
claims ``scope: "user"``, ``external_id``, ``email``, ``email_verified``) and
hands it to the Web Widget or SDK. When the host also passes that token to
liveuser (``claims["messaging_jwt"]``), this module checks it with PyJWT and
the same key: the algorithm is pinned to HS256 before any key is looked up,
the key id must be configured, and ``exp``, ``scope``, ``external_id``,
``email`` and ``email_verified: true`` are required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr

from liveuser import normalize_email

ALGORITHM = "HS256"
MAX_TOKEN_CHARS = 8192


class LoginTokenError(Exception):
    """The login JWT was refused; the message says why (never the token)."""


@dataclass(frozen=True)
class LoginClaims:
    key_id: str
    external_id: str
    email: str
    expires_at: datetime


def check_login_jwt(token: str, keys: Mapping[str, SecretStr], *, leeway: int = 30) -> LoginClaims:
    """Return the checked claims of ``token`` or raise :class:`LoginTokenError`."""
    import jwt  # PyJWT imports cryptography: paid by the first token, not by loading the plugin

    if not keys:
        raise LoginTokenError("no messaging authentication keys are configured")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise LoginTokenError("the messaging login token is missing or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise LoginTokenError("the messaging login token is malformed") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise LoginTokenError(f"the messaging login token uses {alg!r}; only HS256 is accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise LoginTokenError("the messaging login token's key id is not a configured key")
    try:
        claims = jwt.decode(
            token,
            keys[kid].get_secret_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "scope", "external_id"], "verify_aud": False},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise LoginTokenError("the messaging login token has expired") from None
    except jwt.ImmatureSignatureError:
        raise LoginTokenError("the messaging login token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise LoginTokenError("the messaging login token's signature does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise LoginTokenError(f"the messaging login token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidTokenError as exc:
        raise LoginTokenError(
            f"the messaging login token is invalid ({type(exc).__name__})"
        ) from None
    if claims.get("scope") != "user":
        raise LoginTokenError("the messaging login token's scope is not 'user'")
    external_id = claims.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip():
        raise LoginTokenError("the messaging login token has no external_id")
    email = claims.get("email")
    if not isinstance(email, str):
        raise LoginTokenError("the messaging login token carries no email")
    if claims.get("email_verified") is not True:
        raise LoginTokenError("the messaging login token does not mark its email as verified")
    try:
        normalized = normalize_email(email)
    except ValueError:
        raise LoginTokenError("the messaging login token's email is not an address") from None
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise LoginTokenError("the messaging login token's exp is not a number")
    try:
        expires_at = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        # Signed, unexpired, but past what a datetime holds (e.g. exp in milliseconds).
        raise LoginTokenError("the messaging login token's exp is out of range") from None
    return LoginClaims(key_id=kid, external_id=external_id, email=normalized, expires_at=expires_at)
