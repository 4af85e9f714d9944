"""Freshchat's user-authentication JWT, checked by liveuser itself.

A business that enables Freshchat's JWT user authentication signs a token for
its logged-in user and hands it to the widget (HS256 with the web chat's
user-authentication key; RS256 with its own key pair for the older widget and
the SDKs). When the host also passes that token to liveuser
(``claims["freshchat_jwt"]``), this module checks it with PyJWT: the algorithm
is pinned to the configured one before anything else is read, and the
signature, ``exp`` (required), ``iat`` (if present, not in the future), and
the ``reference_id`` and ``email`` claims are required.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liveuser import normalize_email

MAX_TOKEN_CHARS = 8192


class ChatTokenError(Exception):
    """The token was refused; the message says why (never the token)."""


@dataclass(frozen=True)
class ChatClaims:
    reference_id: str
    email: str
    expires_at: datetime
    freshchat_uuid: str | None


def check_chat_jwt(token: str, algorithm: str, key: Any, *, leeway: int = 30) -> ChatClaims:
    """Return the checked claims of ``token`` or raise :class:`ChatTokenError`."""
    import jwt  # PyJWT imports cryptography: paid by the first token, not by loading the plugin

    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise ChatTokenError("the Freshchat user token is missing or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise ChatTokenError("the Freshchat user token is malformed") from None
    alg = header.get("alg")
    if alg != algorithm:
        raise ChatTokenError(f"the Freshchat user token uses {alg!r}; only {algorithm} is accepted")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={"require": ["exp"], "verify_aud": False},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise ChatTokenError("the Freshchat user token has expired") from None
    except jwt.ImmatureSignatureError:
        raise ChatTokenError("the Freshchat user token is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise ChatTokenError("the Freshchat user token's signature does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise ChatTokenError(f"the Freshchat user token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidTokenError as exc:
        raise ChatTokenError(
            f"the Freshchat user token is invalid ({type(exc).__name__})"
        ) from None
    reference_id = claims.get("reference_id")
    if not isinstance(reference_id, str) or not reference_id.strip():
        raise ChatTokenError("the Freshchat user token has no reference_id")
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise ChatTokenError("the Freshchat user token carries no email")
    try:
        normalized = normalize_email(email)
    except ValueError:
        raise ChatTokenError("the Freshchat user token's email is not an address") from None
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise ChatTokenError("the Freshchat user token's exp is not a number")
    try:
        expires_at = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        # Signed, unexpired, but past what a datetime holds (e.g. exp in milliseconds).
        raise ChatTokenError("the Freshchat user token's exp is out of range") from None
    uuid = claims.get("freshchat_uuid")
    return ChatClaims(
        reference_id=reference_id,
        email=normalized,
        expires_at=expires_at,
        freshchat_uuid=uuid if isinstance(uuid, str) else None,
    )
