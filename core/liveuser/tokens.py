"""Host tokens: how a host application vouches for its logged-in user.

A host application that authenticated its own user proves it to liveuser with
a short-lived JWT signed (HS256) with one of the tenant's host keys. The
contract, for both :func:`mint_token` and :func:`verify_token`:

* **One purpose per token.** The audience is ``liveuser:<purpose>`` for a
  :class:`Purpose`; a token minted for one purpose never verifies for another.
* **One tenant per token.** The ``tenant`` claim must equal the tenant the
  token is verified for.
* **Rotatable keys.** A :class:`KeyRing` holds the tenant's keys by key id;
  tokens are minted with the ring's *active* key and carry its id in the
  ``kid`` header; verification picks the key by that id, so two keys (old and
  new) can be valid at once. A key removed from the ring (retired) no longer
  verifies anything.
* **HS256 only.** Any other ``alg`` (``none`` included) is refused before a
  key is looked up; PyJWT is always called with ``algorithms=["HS256"]``.
* **Short-lived.** ``exp - iat`` is at most :data:`MAX_TTL` seconds; a token
  is refused once expired or when issued in the future (both beyond
  ``leeway`` seconds). Times are whole seconds.
* **Required claims.** ``sub`` (an email address, normalised), ``jti`` (a
  random id, for replay tracking by the caller), ``iat``, ``exp``, ``aud`` and
  ``tenant``; an ``attestation`` token also names the vendor conversation it
  binds to the user: ``channel`` and ``conversation_id``.
* **Canonical encoding.** Every segment must be unpadded, canonical base64url,
  so no two different strings verify as the same token.

Every failure is a :class:`~liveuser.errors.TokenError` with a one-line reason
a person can read; neither the token nor any secret is ever part of a message
or a ``repr``. Misuse by the caller (a bad ``ttl``, an attestation without a
conversation) is a ``ValueError``; a bad key ring is a
:class:`~liveuser.errors.ConfigError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr

from .errors import ConfigError, TokenError
from .identity import normalize_email
from .models import Channel, Email

__all__ = [
    "ALGORITHM",
    "MAX_TTL",
    "MIN_KEY_BYTES",
    "HostClaims",
    "KeyRing",
    "Purpose",
    "audience",
    "mint_token",
    "verify_attestation",
    "verify_token",
]

ALGORITHM: Final = "HS256"
"""The only signing algorithm liveuser mints or accepts."""

MAX_TTL: Final = 3600.0
"""The longest lifetime (``exp - iat``, seconds) a host token may have."""

MIN_KEY_BYTES: Final = 32
"""The shortest host key accepted, in bytes of its UTF-8 encoding."""

MAX_TOKEN_CHARS: Final = 8192
"""Longer strings are refused before any parsing."""

MAX_CONVERSATION_ID_CHARS: Final = 200
MAX_TOKEN_ID_CHARS: Final = 200
MAX_KEY_ID_CHARS: Final = 128

REQUIRED_CLAIMS: Final = ("sub", "jti", "iat", "exp", "aud", "tenant")

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


class Purpose(StrEnum):
    """What a host token is for; each purpose is its own audience."""

    identity = "identity"
    """The host says: this is my logged-in user."""
    attestation = "attestation"
    """The host says: vendor conversation (channel, conversation_id) is my logged-in user's."""
    mcp_session = "mcp_session"
    """The host opens an MCP session for its logged-in user."""


def audience(purpose: Purpose) -> str:
    """Return the JWT audience of ``purpose``: ``liveuser:<purpose>``."""
    return f"liveuser:{Purpose(purpose)}"


class KeyRing:
    """A tenant's host keys by key id; one of them (``active``) mints.

    ``keys`` maps key id (the JWT ``kid``) to secret; ``active`` defaults to
    the last key in the mapping, so appending a new key rotates to it while
    the previous one still verifies. Secrets are held as ``SecretStr`` and
    never appear in ``repr``, ``str`` or error messages.
    """

    __slots__ = ("_active", "_keys")

    _keys: dict[str, SecretStr]
    _active: str

    def __init__(self, keys: Mapping[str, SecretStr | str], active: str | None = None) -> None:
        if not isinstance(keys, Mapping):
            raise ConfigError("host keys must be a mapping of key id to secret")
        if not keys:
            raise ConfigError("host key ring is empty: at least one key is required")
        held: dict[str, SecretStr] = {}
        for kid, secret in keys.items():
            if not isinstance(kid, str) or not kid or len(kid) > MAX_KEY_ID_CHARS:
                raise ConfigError(
                    f"host key id must be a non-empty string of at most {MAX_KEY_ID_CHARS}"
                    " characters"
                )
            if not kid.isprintable() or kid != kid.strip():
                raise ConfigError(f"host key id {kid!r} has whitespace or unprintable characters")
            if isinstance(secret, SecretStr):
                raw = secret.get_secret_value()
            elif isinstance(secret, str):
                raw = secret
            else:
                raise ConfigError(f"host key {kid!r} must be a string")
            if len(raw.encode("utf-8")) < MIN_KEY_BYTES:
                raise ConfigError(f"host key {kid!r} is shorter than {MIN_KEY_BYTES} bytes")
            held[kid] = SecretStr(raw)
        if active is None:
            active = next(reversed(held))
        elif active not in held:
            raise ConfigError(f"active host key id {active!r} is not in the key ring")
        self._keys = held
        self._active = active

    @property
    def active(self) -> str:
        """The key id new tokens are minted with."""
        return self._active

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id in the ring, in the order given."""
        return tuple(self._keys)

    def secret(self, kid: str) -> bytes | None:
        """Return the secret of key ``kid`` as bytes, or ``None`` if not in the ring."""
        if not isinstance(kid, str):
            return None
        held = self._keys.get(kid)
        return None if held is None else held.get_secret_value().encode("utf-8")

    def __contains__(self, kid: object) -> bool:
        return isinstance(kid, str) and kid in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={self.key_ids!r}, active={self._active!r})"

    __str__ = __repr__


class HostClaims(BaseModel):
    """The verified content of a host token."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built by the first token

    tenant: str
    purpose: Purpose
    subject: Email
    token_id: str
    key_id: str
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    channel: Channel | None = None
    conversation_id: str | None = Field(
        default=None, min_length=1, max_length=MAX_CONVERSATION_ID_CHARS
    )


def _check_conversation_id(conversation_id: object) -> bool:
    return (
        isinstance(conversation_id, str) and 0 < len(conversation_id) <= MAX_CONVERSATION_ID_CHARS
    )


def mint_token(
    keys: KeyRing,
    *,
    tenant: str,
    purpose: Purpose,
    subject: str,
    ttl: float = 300,
    channel: Channel | None = None,
    conversation_id: str | None = None,
    now: float | None = None,
) -> str:
    """Return a host token for ``subject`` signed with the ring's active key.

    ``iat`` is ``now`` rounded down to a whole second and ``exp`` is ``iat``
    plus ``ttl`` rounded up, so the lifetime never exceeds ``MAX_TTL``.
    Raises ``ValueError`` for a ``ttl`` outside ``(0, MAX_TTL]``, an empty
    tenant, a subject that is not an email address, an unknown channel, or an
    attestation without ``channel`` and ``conversation_id``.
    """
    purpose = Purpose(purpose)
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("tenant must be a non-empty string")
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be more than 0 and at most {MAX_TTL:g} seconds")
    issued = time.time() if now is None else now
    if isinstance(issued, bool) or not isinstance(issued, int | float) or not math.isfinite(issued):
        raise ValueError("now must be a finite number of seconds")
    email = normalize_email(subject)
    if channel is not None:
        channel = Channel(channel)
    if conversation_id is not None and not _check_conversation_id(conversation_id):
        raise ValueError(f"conversation_id must be 1 to {MAX_CONVERSATION_ID_CHARS} characters")
    if purpose is Purpose.attestation and (channel is None or conversation_id is None):
        raise ValueError("an attestation token needs both channel and conversation_id")

    iat = math.floor(issued)
    claims: dict[str, Any] = {
        "aud": audience(purpose),
        "tenant": tenant,
        "sub": email,
        "jti": secrets.token_urlsafe(18),
        "iat": iat,
        "exp": iat + math.ceil(ttl),
    }
    if channel is not None:
        claims["channel"] = str(channel)
    if conversation_id is not None:
        claims["conversation_id"] = conversation_id
    secret = keys.secret(keys.active)
    if secret is None:  # pragma: no cover - KeyRing guarantees the active key exists
        raise ConfigError("the active host key is missing from the key ring")
    import jwt  # PyJWT imports cryptography: paid by the first token, not by ``import liveuser``

    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": keys.active})


def _quote(value: str) -> str:
    """Return a short, one-line rendering of an untrusted string for a message."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _check_structure(token: object) -> bytes:
    """Check the token's shape and return its decoded header (PyJWT checks it again)."""
    if not isinstance(token, str):
        raise TokenError("token is not a string")
    if not token:
        raise TokenError("token is empty")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError(f"token is longer than {MAX_TOKEN_CHARS} characters")
    segments = token.split(".")
    if len(segments) != 3:
        raise TokenError("token is not a JWT: it must have three dot-separated segments")
    header = b""
    for name, segment in zip(("header", "payload", "signature"), segments, strict=True):
        if not _SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
            raise TokenError(f"token {name} is not valid base64url")
        try:
            decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (binascii.Error, ValueError):
            raise TokenError(f"token {name} is not valid base64url") from None
        if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode("ascii") != segment:
            raise TokenError(f"token {name} is not canonical base64url")
        if name == "header":
            header = decoded
    return header


def _number(payload: Mapping[str, Any], claim: str) -> float:
    value = payload[claim]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"token claim {claim!r} is not a number")
    if not math.isfinite(value):
        raise TokenError(f"token claim {claim!r} is not a finite number")
    return value


def _timestamp(value: float) -> datetime:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise TokenError("token times are out of range") from None


def verify_token(
    keys: KeyRing,
    token: str,
    *,
    tenant: str,
    purpose: Purpose,
    now: float | None = None,
    leeway: float = 5,
) -> HostClaims:
    """Verify ``token`` for ``tenant`` and ``purpose`` and return its claims.

    Raises :class:`~liveuser.errors.TokenError`, with a one-line reason, for a
    malformed token, a missing or unknown key id, an algorithm other than
    HS256, a bad signature, a missing or invalid claim, another audience or
    tenant, an expired token, one issued in the future, or one whose lifetime
    exceeds ``MAX_TTL``. ``leeway`` (seconds) absorbs clock skew.
    """
    purpose = Purpose(purpose)
    if isinstance(leeway, bool) or not isinstance(leeway, int | float) or not leeway >= 0:
        raise ValueError("leeway must be a non-negative number of seconds")
    current = time.time() if now is None else now
    if not math.isfinite(current):
        raise ValueError("now must be a finite number of seconds")

    raw_header = _check_structure(token)
    try:
        header = json.loads(raw_header)
    except (ValueError, RecursionError):
        raise TokenError("token is not a JWT: its header is malformed") from None
    if not isinstance(header, dict):
        raise TokenError("token is not a JWT: its header is malformed")
    if header.get("alg") != ALGORITHM:
        raise TokenError(f"token is not signed with {ALGORITHM}; no other algorithm is accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("token has no key id ('kid' header)")
    secret = keys.secret(kid)
    if secret is None:
        raise TokenError(f"token key id {_quote(kid)} is not one of the tenant's host keys")
    import jwt

    try:
        decoded = jwt.decode_complete(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "verify_signature": True,
                "enforce_minimum_key_length": True,
                # Claims are checked below, against the injectable ``now``.
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise TokenError(
            "token signature does not match: it was altered or signed with another key"
        ) from None
    except (jwt.PyJWTError, ValueError, RecursionError):
        raise TokenError("token is not a JWT: it is malformed") from None
    payload: dict[str, Any] = decoded["payload"]

    for claim in REQUIRED_CLAIMS:
        if payload.get(claim) is None:
            raise TokenError(f"token is missing the required claim {claim!r}")

    expected_audience = audience(purpose)
    if payload["aud"] != expected_audience:
        raise TokenError(f"token is for another purpose: its audience is not {expected_audience!r}")
    if payload["tenant"] != tenant:
        raise TokenError(f"token is for another tenant, not {tenant!r}")

    iat = _number(payload, "iat")
    exp = _number(payload, "exp")
    if iat > current + leeway:
        raise TokenError("token was issued in the future")
    if exp <= iat:
        raise TokenError("token expires before it was issued")
    if exp - iat > MAX_TTL:
        raise TokenError(f"token lifetime is longer than {MAX_TTL:g} seconds")
    if exp <= current - leeway:
        raise TokenError("token has expired")
    if "nbf" in payload and _number(payload, "nbf") > current + leeway:
        raise TokenError("token is not valid yet")

    token_id = payload["jti"]
    if not isinstance(token_id, str) or not 0 < len(token_id) <= MAX_TOKEN_ID_CHARS:
        raise TokenError(f"token id ('jti') must be 1 to {MAX_TOKEN_ID_CHARS} characters")
    subject = payload["sub"]
    if not isinstance(subject, str):
        raise TokenError("token subject is not an email address")
    try:
        email = normalize_email(subject)
    except ValueError:
        raise TokenError("token subject is not an email address") from None

    channel: Channel | None = None
    raw_channel = payload.get("channel")
    if raw_channel is not None:
        try:
            channel = Channel(raw_channel)
        except ValueError:
            raise TokenError("token channel is not a known channel") from None
    conversation_id = payload.get("conversation_id")
    if conversation_id is not None and not _check_conversation_id(conversation_id):
        raise TokenError(
            f"token conversation_id must be 1 to {MAX_CONVERSATION_ID_CHARS} characters"
        )
    if purpose is Purpose.attestation and (channel is None or conversation_id is None):
        raise TokenError("attestation token does not name a channel and conversation_id")

    return HostClaims(
        tenant=tenant,
        purpose=purpose,
        subject=email,
        token_id=token_id,
        key_id=kid,
        issued_at=_timestamp(iat),
        expires_at=_timestamp(exp),
        channel=channel,
        conversation_id=conversation_id,
    )


def verify_attestation(
    keys: KeyRing,
    token: str,
    *,
    tenant: str,
    channel: Channel,
    conversation_id: str,
    now: float | None = None,
) -> HostClaims:
    """Verify an attestation token and that it binds exactly this conversation.

    Everything :func:`verify_token` checks for ``Purpose.attestation``, plus:
    the token's channel and conversation id must equal ``channel`` and
    ``conversation_id``, or :class:`~liveuser.errors.TokenError` is raised.
    """
    claims = verify_token(keys, token, tenant=tenant, purpose=Purpose.attestation, now=now)
    if claims.channel != Channel(channel) or claims.conversation_id != conversation_id:
        raise TokenError("attestation is for another conversation")
    return claims
