"""Messenger credentials a host may pass on: checked by liveuser itself.

**Messenger JWT** (``claims["intercom_user_jwt"]``): the business signs one per
logged-in user with the Messenger API secret, HS256, claims ``user_id``
(required by Intercom), ``email`` and ``exp``. liveuser pins HS256 before
anything else and requires ``exp``, ``user_id`` and ``email``.

**Legacy user_hash** (``claims["intercom_user_hash"]`` with
``claims["intercom_user_id"]``): hex HMAC-SHA256 of the user id keyed with the
identity verification secret. It never expires, so it only corroborates.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from liveuser import WebhookError, normalize_email
from liveuser.webhooks import verify_hmac

ALGORITHM = "HS256"
MAX_TOKEN_CHARS = 8192


class MessengerTokenError(Exception):
    """A Messenger credential was refused; the message says why (never the token)."""


@dataclass(frozen=True)
class MessengerClaims:
    user_id: str
    email: str
    expires_at: datetime


def check_messenger_jwt(token: str, secret: str, *, leeway: int = 30) -> MessengerClaims:
    """Return the checked claims of ``token`` or raise :class:`MessengerTokenError`."""
    import jwt  # PyJWT imports cryptography: paid by the first token, not by loading the plugin

    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise MessengerTokenError("the Messenger JWT is missing or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise MessengerTokenError("the Messenger JWT is malformed") from None
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise MessengerTokenError(f"the Messenger JWT uses {alg!r}; only HS256 is accepted")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "user_id"], "verify_aud": False},
            leeway=leeway,
        )
    except jwt.ExpiredSignatureError:
        raise MessengerTokenError("the Messenger JWT has expired") from None
    except jwt.ImmatureSignatureError:
        raise MessengerTokenError("the Messenger JWT is not valid yet") from None
    except jwt.InvalidSignatureError:
        raise MessengerTokenError("the Messenger JWT's signature does not match") from None
    except jwt.MissingRequiredClaimError as exc:
        raise MessengerTokenError(f"the Messenger JWT lacks the {exc.claim!r} claim") from None
    except jwt.InvalidTokenError as exc:
        raise MessengerTokenError(f"the Messenger JWT is invalid ({type(exc).__name__})") from None
    user_id = claims.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id.strip():
        raise MessengerTokenError("the Messenger JWT has no user_id")
    email = claims.get("email")
    if not isinstance(email, str):
        raise MessengerTokenError("the Messenger JWT carries no email")
    try:
        normalized = normalize_email(email)
    except ValueError:
        raise MessengerTokenError("the Messenger JWT's email is not an address") from None
    exp = claims["exp"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise MessengerTokenError("the Messenger JWT's exp is not a number")
    try:
        expires_at = datetime.fromtimestamp(exp, UTC)
    except (OverflowError, OSError, ValueError):
        # Signed, unexpired, but past what a datetime holds (e.g. exp in milliseconds).
        raise MessengerTokenError("the Messenger JWT's exp is out of range") from None
    return MessengerClaims(user_id=user_id, email=normalized, expires_at=expires_at)


def user_hash(secret: str, user_id: str) -> str:
    """The legacy identity verification hash the business's server computes."""
    return hmac.new(secret.encode("utf-8"), user_id.encode("utf-8"), "sha256").hexdigest()


def check_user_hash(secret: str, user_id: str, value: str) -> None:
    """Raise :class:`MessengerTokenError` unless ``value`` is ``user_id``'s hash."""
    if not user_id or len(user_id) > 512:
        raise MessengerTokenError("the user_hash comes without a user id")
    try:
        verify_hmac(secret, user_id.encode("utf-8"), value, algorithm="sha256", encoding="hex")
    except (WebhookError, TypeError):
        raise MessengerTokenError("the user_hash does not match its user id") from None
