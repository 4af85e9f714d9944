"""Webhook checks that vendor connector plugins build on.

A vendor (Zendesk, Intercom, HubSpot, Shopify, Freshdesk...) proves that a
delivery is its own by signing the raw request body with a shared secret.
A connector checks three things, and this module provides one helper for each.
Every failure is a :class:`~liveuser.errors.WebhookError`:

* **Signature** (:func:`verify_hmac`): the HMAC-SHA1 or HMAC-SHA256 of the
  exact body bytes, sent as hex or standard base64, optionally behind a fixed
  prefix such as ``"sha256="``. The signature must be present, carry the
  prefix when one is required, be well formed (the exact length for the
  digest; hex digits, or canonical padded base64) and match. Bytes are
  compared in constant time with :func:`hmac.compare_digest`. Hex is
  case-insensitive, since it is decoded before the comparison. Base64 is
  compared as its decoded bytes, and only the canonical encoding of those
  bytes is accepted, so a changed signature string never verifies.
  :func:`hmac_signature` computes what the vendor sends.
* **Freshness** (:func:`check_timestamp`): a signed timestamp (seconds or
  milliseconds since the epoch) more than ``tolerance`` seconds older or
  newer than now is refused as a replay or as clock skew.
* **Replay** (:class:`SeenDeliveries`): for vendors that sign without a
  timestamp, a bounded, thread-safe store of delivery ids refuses any id
  already seen within its ``ttl``, within the same namespace.

Error messages are one line. They never contain the secret or the expected
signature, and they don't echo the signature that was received. A mistake by
the caller, such as an empty secret, an unknown algorithm or a bad
``tolerance``, raises ``ValueError`` or ``TypeError``, not ``WebhookError``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final, Literal

from .errors import WebhookError

__all__ = [
    "MAX_DELIVERY_ID_CHARS",
    "SeenDeliveries",
    "check_timestamp",
    "hmac_signature",
    "verify_hmac",
]

Algorithm = Literal["sha1", "sha256"]
Encoding = Literal["hex", "base64"]

MAX_DELIVERY_ID_CHARS: Final = 512
"""The longest delivery id or namespace :class:`SeenDeliveries` accepts."""

_DIGEST_SIZES: Final[dict[str, int]] = {"sha1": 20, "sha256": 32}
_ENCODINGS: Final = ("hex", "base64")
_HEX: Final = re.compile(r"[0-9a-fA-F]*")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")
# Plain decimal seconds (or milliseconds): no sign, exponent, blanks or "nan".
_TIMESTAMP: Final = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?")


def hmac_signature(
    secret: str | bytes,
    message: bytes,
    *,
    algorithm: Algorithm = "sha256",
    encoding: Encoding = "hex",
) -> str:
    """Return the signature a vendor sends for ``message``: lowercase hex or
    padded standard base64 of ``HMAC(secret, message)``. A ``str`` secret is
    encoded as UTF-8."""
    digest = _digest(secret, message, algorithm)
    _check_encoding(encoding)
    if encoding == "hex":
        return digest.hex()
    return base64.b64encode(digest).decode("ascii")


def verify_hmac(
    secret: str | bytes,
    message: bytes,
    signature: str | None,
    *,
    algorithm: Algorithm = "sha256",
    encoding: Encoding = "hex",
    prefix: str = "",
) -> None:
    """Raise :class:`WebhookError` unless ``signature`` (a header value) is
    the genuine signature of ``message``, written after ``prefix``."""
    expected = _digest(secret, message, algorithm)
    _check_encoding(encoding)
    if not isinstance(prefix, str):
        raise TypeError("prefix must be a str")
    if signature is None or signature == "":
        raise WebhookError("missing webhook signature")
    if not isinstance(signature, str):
        raise TypeError("signature must be a str or None")
    if prefix:
        if not signature.startswith(prefix):
            raise WebhookError(f"webhook signature lacks the required {prefix!r} prefix")
        signature = signature[len(prefix) :]
    received = _decode_signature(signature, algorithm, encoding)
    if not hmac.compare_digest(received, expected):
        raise WebhookError("webhook signature does not match the body")


def check_timestamp(
    timestamp: str | int | float,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
    unit: Literal["s", "ms"] = "s",
) -> None:
    """Raise :class:`WebhookError` unless ``timestamp`` (since the epoch, in
    ``unit``) is a number within ``tolerance`` seconds of ``now`` (default:
    :func:`time.time`). A difference of exactly ``tolerance`` is accepted.
    A string must be plain decimal digits with an optional fraction."""
    if not isinstance(tolerance, int | float) or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError("tolerance must be a finite number of seconds >= 0")
    if unit not in ("s", "ms"):
        raise ValueError(f"unsupported timestamp unit {unit!r}; expected 's' or 'ms'")
    current = time.time() if now is None else now
    if not math.isfinite(current):
        raise ValueError("now must be a finite number of seconds")
    seconds = _parse_timestamp(timestamp)
    if unit == "ms":
        seconds /= 1000.0
    age = current - seconds
    if age > tolerance:
        raise WebhookError(
            f"webhook timestamp is {age:g}s old, beyond the {tolerance:g}s tolerance"
            " (possible replay)"
        )
    if -age > tolerance:
        raise WebhookError(
            f"webhook timestamp is {-age:g}s in the future, beyond the {tolerance:g}s"
            " tolerance (clock skew)"
        )


class SeenDeliveries:
    """Delivery ids seen within the last ``ttl`` seconds, per namespace.

    :meth:`first_time` checks an id and records it as one atomic step, under
    a lock, so one store can be shared by a threaded server. A replay does not
    extend the window: an id may be delivered again once ``ttl`` seconds have
    passed since it was first recorded. Memory is bounded. Expired ids are
    purged on every call, and when ``max_entries`` ids are held the oldest
    are evicted, which means an evicted id would be accepted again. Size
    ``max_entries`` for the delivery rate times ``ttl``. ``clock`` must never
    go backwards (the default is :func:`time.monotonic`).
    """

    def __init__(
        self,
        ttl: float = 86400.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(ttl, int | float) or not math.isfinite(ttl) or ttl <= 0:
            raise ValueError("ttl must be a finite number of seconds > 0")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError("max_entries must be an int >= 1")
        self._ttl = float(ttl)
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        # (namespace, delivery id) -> when first recorded, oldest first.
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def first_time(self, delivery_id: str, namespace: str = "") -> bool:
        """Record ``delivery_id`` in ``namespace``. Return False if it was
        already recorded within ``ttl`` (a replay), otherwise True.

        A missing or oversized id raises :class:`WebhookError`.
        """
        _check_id(delivery_id, "delivery id", WebhookError)
        _check_id(namespace, "namespace", ValueError, allow_empty=True)
        key = (namespace, delivery_id)
        with self._lock:
            now = self._clock()
            self._purge(now)
            recorded = self._seen.get(key)
            if recorded is not None:
                if now - recorded < self._ttl:
                    return False
                del self._seen[key]  # stale entry left by a clock that went backwards
            while len(self._seen) >= self._max_entries:
                self._seen.popitem(last=False)
            self._seen[key] = now
            return True

    def check(self, delivery_id: str, namespace: str = "", *, quote: bool = True) -> None:
        """Like :meth:`first_time`, but raise :class:`WebhookError` on a replay.

        The error quotes ``delivery_id`` unless ``quote`` is False: pass False
        when the id is a signature, since the reason may be answered to the caller.
        """
        if not self.first_time(delivery_id, namespace):
            where = f" in namespace {namespace!r}" if namespace else ""
            named = f" {delivery_id!r}" if quote else ""
            raise WebhookError(
                f"replayed delivery{named}{where}: already seen within {self._ttl:g}s"
            )

    def __len__(self) -> int:
        """The number of ids held and not yet expired."""
        with self._lock:
            self._purge(self._clock())
            return len(self._seen)

    def _purge(self, now: float) -> None:
        # Entries are in the order they were recorded, so the expired ones
        # are at the front. The caller holds the lock.
        while self._seen:
            key, recorded = next(iter(self._seen.items()))
            if now - recorded < self._ttl:
                break
            del self._seen[key]


def _digest(secret: str | bytes, message: bytes, algorithm: str) -> bytes:
    if algorithm not in _DIGEST_SIZES:
        raise ValueError(f"unsupported HMAC algorithm {algorithm!r}; expected 'sha1' or 'sha256'")
    if isinstance(secret, str):
        key = secret.encode("utf-8")
    elif isinstance(secret, bytes):
        key = secret
    else:
        raise TypeError("secret must be str or bytes")
    if not key:
        raise ValueError("webhook secret must not be empty")
    if not isinstance(message, bytes):
        raise TypeError("message must be the raw body as bytes")
    return hmac.digest(key, message, algorithm)


def _check_encoding(encoding: str) -> None:
    if encoding not in _ENCODINGS:
        raise ValueError(f"unsupported signature encoding {encoding!r}; expected 'hex' or 'base64'")


def _decode_signature(signature: str, algorithm: str, encoding: str) -> bytes:
    size = _DIGEST_SIZES[algorithm]
    if encoding == "hex":
        if len(signature) != 2 * size or not _HEX.fullmatch(signature):
            raise WebhookError(f"malformed webhook signature: expected {2 * size} hex digits")
        return bytes.fromhex(signature)
    length = 4 * math.ceil(size / 3)
    if len(signature) != length or not _BASE64.fullmatch(signature):
        raise WebhookError(f"malformed webhook signature: expected {length} base64 characters")
    try:
        decoded = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError("malformed webhook signature: invalid base64") from None
    # Only the canonical spelling of these bytes is accepted (this compares the
    # received string with itself re-encoded; no secret is involved).
    if len(decoded) != size or base64.b64encode(decoded).decode("ascii") != signature:
        raise WebhookError("malformed webhook signature: non-canonical base64")
    return decoded


def _parse_timestamp(timestamp: str | int | float) -> float:
    if isinstance(timestamp, bool):
        raise WebhookError("webhook timestamp is not a number")
    if isinstance(timestamp, str):
        if not _TIMESTAMP.fullmatch(timestamp):
            raise WebhookError("webhook timestamp is not a number")
        return float(timestamp)
    if isinstance(timestamp, int):
        try:
            return float(timestamp)
        except OverflowError:
            raise WebhookError("webhook timestamp is out of range") from None
    if isinstance(timestamp, float):
        if not math.isfinite(timestamp):
            raise WebhookError("webhook timestamp is not a number")
        return timestamp
    raise WebhookError("webhook timestamp is not a number")


def _check_id(
    value: str,
    what: str,
    error: type[Exception],
    *,
    allow_empty: bool = False,
) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str")
    if not value and not allow_empty:
        raise error(f"missing webhook {what}")
    if len(value) > MAX_DELIVERY_ID_CHARS:
        raise error(f"webhook {what} is longer than {MAX_DELIVERY_ID_CHARS} characters")
