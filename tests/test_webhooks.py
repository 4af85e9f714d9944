"""Tests for liveuser.webhooks: signatures, timestamps and replay protection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from liveuser.errors import LiveuserError, WebhookError
from liveuser.models import Channel, Conversation
from liveuser.webhook_routes import named_conversations
from liveuser.webhooks import (
    MAX_DELIVERY_ID_CHARS,
    SeenDeliveries,
    check_timestamp,
    hmac_signature,
    verify_hmac,
)

Algorithm = Literal["sha1", "sha256"]
Encoding = Literal["hex", "base64"]

ALGORITHMS: tuple[Algorithm, ...] = ("sha1", "sha256")
ENCODINGS: tuple[Encoding, ...] = ("hex", "base64")
HEX_ALPHABET = "0123456789abcdefABCDEF"
BASE64_ALPHABET = string.ascii_letters + string.digits + "+/="

secrets_ = st.one_of(st.binary(min_size=1, max_size=100), st.text(min_size=1, max_size=50))
bodies = st.binary(max_size=2000)
algorithms = st.sampled_from(ALGORITHMS)
encodings = st.sampled_from(ENCODINGS)

SECRET = "whsec-distinctive-Secret-7f3a9c"
BODY = b'{"event":"ticket.updated","id":42}'


def _reference(secret: str | bytes, body: bytes, algorithm: str, encoding: str) -> str:
    """The signature computed independently, straight from hashlib."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, body, getattr(hashlib, algorithm)).digest()
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- known answers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data", "algorithm", "expected"),
    [
        # RFC 4231, test cases 1 and 2 (HMAC-SHA-256).
        (
            b"\x0b" * 20,
            b"Hi There",
            "sha256",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "sha256",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        # RFC 2202, test cases 1 and 2 (HMAC-SHA-1).
        (b"\x0b" * 20, b"Hi There", "sha1", "b617318655057264e28bc0b6fb378c8ef146be00"),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "sha1",
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        ),
    ],
)
def test_rfc_test_vectors_are_reproduced_and_verify(
    key: bytes, data: bytes, algorithm: Algorithm, expected: str
) -> None:
    assert hmac_signature(key, data, algorithm=algorithm) == expected
    verify_hmac(key, data, expected, algorithm=algorithm)
    b64 = base64.b64encode(bytes.fromhex(expected)).decode()
    assert hmac_signature(key, data, algorithm=algorithm, encoding="base64") == b64
    verify_hmac(key, data, b64, algorithm=algorithm, encoding="base64")


def test_github_documented_example_verifies_with_prefix() -> None:
    # The example in GitHub's "Validating webhook deliveries" documentation.
    secret = "It's a Secret to Everybody"
    body = b"Hello, World!"
    header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert "sha256=" + hmac_signature(secret, body) == header
    verify_hmac(secret, body, header, prefix="sha256=")


def test_shopify_style_base64_signature_matches_hashlib() -> None:
    secret = "hush"
    body = b'{"id":820982911946154508,"email":"jon@example.com"}'
    expected = base64.b64encode(hmac.new(b"hush", body, hashlib.sha256).digest()).decode()
    assert hmac_signature(secret, body, encoding="base64") == expected
    verify_hmac(secret, body, expected, encoding="base64")


def test_str_secret_is_its_utf8_bytes() -> None:
    assert hmac_signature("clé", BODY) == hmac_signature("clé".encode(), BODY)
    assert hmac_signature("clé", BODY) != hmac_signature("clé".encode("latin-1"), BODY)


# --- genuine signatures ----------------------------------------------------


@given(secret=secrets_, body=bodies, algorithm=algorithms, encoding=encodings)
def test_genuine_signature_always_verifies(
    secret: str | bytes, body: bytes, algorithm: Algorithm, encoding: Encoding
) -> None:
    signature = hmac_signature(secret, body, algorithm=algorithm, encoding=encoding)
    assert signature == _reference(secret, body, algorithm, encoding)
    verify_hmac(secret, body, signature, algorithm=algorithm, encoding=encoding)


@given(
    secret=secrets_, body=bodies, algorithm=algorithms, prefix=st.sampled_from(["sha256=", "v1,"])
)
def test_genuine_signature_with_prefix_verifies(
    secret: str | bytes, body: bytes, algorithm: Algorithm, prefix: str
) -> None:
    signature = prefix + hmac_signature(secret, body, algorithm=algorithm)
    verify_hmac(secret, body, signature, algorithm=algorithm, prefix=prefix)


@given(secret=secrets_, body=bodies, algorithm=algorithms)
def test_hex_signature_is_case_insensitive(
    secret: str | bytes, body: bytes, algorithm: Algorithm
) -> None:
    signature = hmac_signature(secret, body, algorithm=algorithm)
    assert signature == signature.lower()
    verify_hmac(secret, body, signature.upper(), algorithm=algorithm)


# --- forged or altered -----------------------------------------------------


@given(
    secret=secrets_,
    body=st.binary(min_size=1, max_size=500),
    algorithm=algorithms,
    encoding=encodings,
    data=st.data(),
)
def test_altered_body_is_rejected(
    secret: str | bytes, body: bytes, algorithm: Algorithm, encoding: Encoding, data: Any
) -> None:
    signature = hmac_signature(secret, body, algorithm=algorithm, encoding=encoding)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    flip = data.draw(st.integers(1, 255), label="flip")
    altered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
    with pytest.raises(WebhookError, match="does not match"):
        verify_hmac(secret, altered, signature, algorithm=algorithm, encoding=encoding)


@given(secret=secrets_, body=bodies, extra=st.binary(min_size=1, max_size=20))
def test_extended_or_truncated_body_is_rejected(
    secret: str | bytes, body: bytes, extra: bytes
) -> None:
    signature = hmac_signature(secret, body + extra)
    with pytest.raises(WebhookError):
        verify_hmac(secret, body, signature)
    signature = hmac_signature(secret, body)
    with pytest.raises(WebhookError):
        verify_hmac(secret, body + extra, signature)


@given(secret=secrets_, body=bodies, algorithm=algorithms, encoding=encodings, data=st.data())
def test_any_changed_signature_character_is_rejected(
    secret: str | bytes, body: bytes, algorithm: Algorithm, encoding: Encoding, data: Any
) -> None:
    signature = hmac_signature(secret, body, algorithm=algorithm, encoding=encoding)
    index = data.draw(st.integers(0, len(signature) - 1), label="index")
    alphabet = HEX_ALPHABET if encoding == "hex" else BASE64_ALPHABET
    replacement = data.draw(st.sampled_from(alphabet), label="replacement")
    if encoding == "hex":
        assume(replacement.lower() != signature[index])
    else:
        assume(replacement != signature[index])
    forged = signature[:index] + replacement + signature[index + 1 :]
    with pytest.raises(WebhookError):
        verify_hmac(secret, body, forged, algorithm=algorithm, encoding=encoding)


@given(
    body=bodies,
    algorithm=algorithms,
    encoding=encodings,
    forged=st.binary(min_size=32, max_size=32),
)
def test_forged_signature_is_rejected(
    body: bytes, algorithm: Algorithm, encoding: Encoding, forged: bytes
) -> None:
    # A well-formed signature of the right length that was not made with the secret.
    size = 20 if algorithm == "sha1" else 32
    raw = forged[:size]
    assume(raw != hmac.new(SECRET.encode(), body, algorithm).digest())
    signature = raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()
    with pytest.raises(WebhookError, match="does not match"):
        verify_hmac(SECRET, body, signature, algorithm=algorithm, encoding=encoding)


@given(secret=secrets_, other=secrets_, body=bodies, encoding=encodings)
def test_signature_made_with_another_secret_is_rejected(
    secret: str | bytes, other: str | bytes, body: bytes, encoding: Encoding
) -> None:
    key = secret.encode() if isinstance(secret, str) else secret
    other_key = other.encode() if isinstance(other, str) else other
    assume(key != other_key)
    signature = hmac_signature(other, body, encoding=encoding)
    with pytest.raises(WebhookError, match="does not match"):
        verify_hmac(secret, body, signature, encoding=encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_signature_for_the_other_algorithm_is_rejected(encoding: Encoding) -> None:
    sha1 = hmac_signature(SECRET, BODY, algorithm="sha1", encoding=encoding)
    sha256 = hmac_signature(SECRET, BODY, algorithm="sha256", encoding=encoding)
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, sha1, algorithm="sha256", encoding=encoding)
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, sha256, algorithm="sha1", encoding=encoding)


def test_signature_in_the_other_encoding_is_rejected() -> None:
    as_hex = hmac_signature(SECRET, BODY, encoding="hex")
    as_b64 = hmac_signature(SECRET, BODY, encoding="base64")
    with pytest.raises(WebhookError):
        verify_hmac(SECRET, BODY, as_hex, encoding="base64")
    with pytest.raises(WebhookError):
        verify_hmac(SECRET, BODY, as_b64, encoding="hex")


# --- missing, malformed, prefix --------------------------------------------


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_signature_is_rejected(signature: str | None) -> None:
    with pytest.raises(WebhookError, match="missing webhook signature"):
        verify_hmac(SECRET, BODY, signature)


def _malformed_hex() -> Iterator[str]:
    good = hmac_signature(SECRET, BODY)
    yield good[:-1]  # too short
    yield good + "0"  # too long
    yield good[:-1] + "g"  # not a hex digit
    yield " " + good[1:]  # blank instead of a digit (bytes.fromhex would skip it)
    yield good[:-2] + " 0"
    yield "0x" + good[2:]
    yield good[:-1] + "\u0661"  # ARABIC-INDIC DIGIT ONE
    yield good + "\n"
    yield good * 100


@pytest.mark.parametrize("signature", list(_malformed_hex()))
def test_malformed_hex_signature_is_rejected(signature: str) -> None:
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, signature)


@pytest.mark.parametrize(
    ("algorithm", "encoding", "expected"),
    [
        ("sha256", "hex", "64 hex digits"),
        ("sha1", "hex", "40 hex digits"),
        ("sha256", "base64", "44 base64 characters"),
        ("sha1", "base64", "28 base64 characters"),
    ],
)
def test_wrong_length_signature_message_names_the_expected_length(
    algorithm: Algorithm, encoding: Encoding, expected: str
) -> None:
    for signature in ("A", "A" * 45, "A" * 10_000):
        with pytest.raises(WebhookError, match=f"malformed webhook signature: expected {expected}"):
            verify_hmac(SECRET, BODY, signature, algorithm=algorithm, encoding=encoding)


def _malformed_base64() -> Iterator[str]:
    good = hmac_signature(SECRET, BODY, encoding="base64")  # 44 chars, one "="
    assert good.endswith("=") and not good.endswith("==")
    yield good.rstrip("=")  # padding dropped
    yield good + "="  # excess padding
    yield good[:-2] + "=="  # a data character replaced by padding
    yield good[:10] + "-" + good[11:]  # url-safe alphabet
    yield good[:10] + "_" + good[11:]
    yield good[:10] + " " + good[11:]
    yield good[:10] + "é" + good[11:]
    yield "=" + good[1:]


@pytest.mark.parametrize("signature", list(_malformed_base64()))
def test_malformed_base64_signature_is_rejected(signature: str) -> None:
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, signature, encoding="base64")


def test_non_canonical_base64_of_the_right_bytes_is_rejected() -> None:
    good = hmac_signature(SECRET, BODY, encoding="base64")
    # The last data character of a 32-byte digest carries 2 unused bits; set them.
    last = good[-2]
    value = BASE64_ALPHABET.index(last)
    assert value & 0b11 == 0
    twin = good[:-2] + BASE64_ALPHABET[value | 0b01] + "="
    assert base64.b64decode(twin) == base64.b64decode(good)  # same bytes...
    with pytest.raises(WebhookError, match="non-canonical"):  # ...different string
        verify_hmac(SECRET, BODY, twin, encoding="base64")


def test_base64_is_compared_exactly_not_case_insensitively() -> None:
    good = hmac_signature(SECRET, BODY, encoding="base64")
    swapped = good.swapcase()
    assert swapped != good
    with pytest.raises(WebhookError):
        verify_hmac(SECRET, BODY, swapped, encoding="base64")


def test_missing_prefix_is_rejected() -> None:
    bare = hmac_signature(SECRET, BODY)
    with pytest.raises(WebhookError, match="lacks the required 'sha256=' prefix"):
        verify_hmac(SECRET, BODY, bare, prefix="sha256=")
    with pytest.raises(WebhookError, match="prefix"):
        verify_hmac(SECRET, BODY, "SHA256=" + bare, prefix="sha256=")
    with pytest.raises(WebhookError, match="prefix"):
        verify_hmac(SECRET, BODY, "sha1=" + bare, prefix="sha256=")


def test_prefix_is_stripped_only_once() -> None:
    bare = hmac_signature(SECRET, BODY)
    verify_hmac(SECRET, BODY, "sha256=" + bare, prefix="sha256=")
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, "sha256=sha256=" + bare, prefix="sha256=")


def test_unexpected_prefix_is_rejected() -> None:
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, "sha256=" + hmac_signature(SECRET, BODY))


def test_prefix_alone_is_rejected() -> None:
    with pytest.raises(WebhookError, match="malformed"):
        verify_hmac(SECRET, BODY, "sha256=", prefix="sha256=")


# --- messages ---------------------------------------------------------------


def _failures() -> Iterator[tuple[str | None, Encoding, str]]:
    genuine_hex = hmac_signature(SECRET, BODY)
    genuine_b64 = hmac_signature(SECRET, BODY, encoding="base64")
    yield None, "hex", ""
    yield "zz", "hex", ""
    yield "0" * 64, "hex", ""
    yield genuine_hex, "hex", "sha256="
    yield "A" * 43 + "=", "base64", ""
    yield genuine_b64[:-1], "base64", ""


@pytest.mark.parametrize(("signature", "encoding", "prefix"), list(_failures()))
def test_error_message_is_one_line_and_hides_secret_and_expected_signature(
    signature: str | None, encoding: Encoding, prefix: str
) -> None:
    with pytest.raises(WebhookError) as caught:
        verify_hmac(SECRET, BODY.replace(b"42", b"43"), signature, encoding=encoding, prefix=prefix)
    message = str(caught.value)
    assert message and "\n" not in message
    expected_hex = hmac_signature(SECRET, BODY.replace(b"42", b"43"))
    expected_b64 = hmac_signature(SECRET, BODY.replace(b"42", b"43"), encoding="base64")
    for secret_thing in (SECRET, SECRET.lower(), expected_hex, expected_hex.upper(), expected_b64):
        assert secret_thing not in message
    for fragment in (expected_hex[:16], expected_b64[:16]):  # not even part of it
        assert fragment not in message


def test_webhook_error_is_a_liveuser_error() -> None:
    with pytest.raises(LiveuserError):
        verify_hmac(SECRET, BODY, "0" * 64)


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()
    verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY).upper())
    with pytest.raises(WebhookError):
        verify_hmac(SECRET, BODY, "0" * 64)
    verify_hmac(SECRET, BODY, hmac_signature(SECRET, BODY, encoding="base64"), encoding="base64")
    assert len(calls) == 3
    assert all(expected in pair for pair in calls)
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)


# --- caller mistakes ----------------------------------------------------------


@pytest.mark.parametrize("secret", ["", b""])
def test_empty_secret_is_a_caller_error(secret: str | bytes) -> None:
    with pytest.raises(ValueError, match="secret"):
        hmac_signature(secret, BODY)
    with pytest.raises(ValueError, match="secret"):
        verify_hmac(secret, BODY, None)


def test_unknown_algorithm_or_encoding_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="algorithm"):
        hmac_signature(SECRET, BODY, algorithm="md5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoding"):
        hmac_signature(SECRET, BODY, encoding="base32")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="algorithm"):
        verify_hmac(SECRET, BODY, "0" * 64, algorithm="sha512")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="encoding"):
        verify_hmac(SECRET, BODY, "0" * 64, encoding="b64")  # type: ignore[arg-type]


def test_text_body_is_a_caller_error() -> None:
    with pytest.raises(TypeError, match="bytes"):
        hmac_signature(SECRET, "text")  # type: ignore[arg-type]


# --- timestamps ---------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    "timestamp", [NOW, int(NOW), str(int(NOW)), "1700000000.25", NOW - 299.5, NOW + 299.5]
)
def test_fresh_timestamp_is_accepted(timestamp: str | int | float) -> None:
    check_timestamp(timestamp, now=NOW)


@pytest.mark.parametrize("timestamp", [NOW - 301, str(int(NOW) - 3600), 0, -5, "0"])
def test_stale_timestamp_is_rejected(timestamp: str | int | float) -> None:
    with pytest.raises(WebhookError, match=r"old.*possible replay"):
        check_timestamp(timestamp, now=NOW)


@pytest.mark.parametrize("timestamp", [NOW + 301, str(int(NOW) + 3600)])
def test_future_timestamp_is_rejected(timestamp: str | int | float) -> None:
    with pytest.raises(WebhookError, match=r"in the future.*clock skew"):
        check_timestamp(timestamp, now=NOW)


def test_tolerance_boundary_is_inclusive() -> None:
    check_timestamp(NOW - 300, now=NOW)
    check_timestamp(NOW + 300, now=NOW)
    with pytest.raises(WebhookError):
        check_timestamp(NOW - 300.001, now=NOW)
    with pytest.raises(WebhookError):
        check_timestamp(NOW + 300.001, now=NOW)
    check_timestamp(NOW - 10, now=NOW, tolerance=10)
    with pytest.raises(WebhookError):
        check_timestamp(NOW - 11, now=NOW, tolerance=10)
    check_timestamp(NOW, now=NOW, tolerance=0)
    with pytest.raises(WebhookError):
        check_timestamp(NOW - 1, now=NOW, tolerance=0)


@given(
    now=st.floats(1e8, 4e9),
    tolerance=st.floats(0, 86400),
    offset=st.floats(-1, 1),
)
def test_timestamp_within_tolerance_is_accepted(
    now: float, tolerance: float, offset: float
) -> None:
    timestamp = now + offset * tolerance
    assume(abs(now - timestamp) <= tolerance)  # float rounding at the edge
    check_timestamp(timestamp, now=now, tolerance=tolerance)


@given(
    now=st.floats(1e8, 4e9),
    tolerance=st.floats(0, 86400),
    beyond=st.floats(0.01, 1e7),
    sign=st.sampled_from([-1, 1]),
)
def test_timestamp_beyond_tolerance_is_rejected(
    now: float, tolerance: float, beyond: float, sign: int
) -> None:
    timestamp = now + sign * (tolerance + beyond)
    with pytest.raises(WebhookError):
        check_timestamp(timestamp, now=now, tolerance=tolerance)


def test_millisecond_timestamps() -> None:
    ms = int(NOW * 1000)
    check_timestamp(ms, now=NOW, unit="ms")
    check_timestamp(str(ms), now=NOW, unit="ms")
    with pytest.raises(WebhookError, match="old"):
        check_timestamp(ms - 301_000, now=NOW, unit="ms")
    with pytest.raises(WebhookError, match="future"):
        check_timestamp(ms, now=NOW)  # milliseconds read as seconds
    with pytest.raises(WebhookError, match="old"):
        check_timestamp(int(NOW), now=NOW, unit="ms")  # seconds read as milliseconds


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        "abc",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e9",
        "1_700_000_000",
        " 1700000000",
        "1700000000 ",
        "+1700000000",
        "-1700000000",
        "0x6553f100",
        "1700000000.",
        ".5",
        "\u0661\u0667" + "\u0660" * 8,  # Arabic-Indic digits: float() accepts them
        "1" * 21,
        float("nan"),
        float("inf"),
        float("-inf"),
        True,
        None,
        b"1700000000",
    ],
)
def test_timestamp_that_is_not_a_number_is_rejected(timestamp: Any) -> None:
    with pytest.raises(WebhookError, match="not a number"):
        check_timestamp(timestamp, now=NOW)


def test_huge_integer_timestamp_is_rejected() -> None:
    with pytest.raises(WebhookError, match="out of range"):
        check_timestamp(10**400, now=NOW)


def test_default_now_is_the_wall_clock() -> None:
    check_timestamp(int(time.time()))
    with pytest.raises(WebhookError):
        check_timestamp(int(time.time()) - 3600)


@pytest.mark.parametrize("tolerance", [-1.0, float("nan"), float("inf")])
def test_bad_tolerance_is_a_caller_error(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance"):
        check_timestamp(NOW, now=NOW, tolerance=tolerance)


def test_bad_unit_or_now_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="unit"):
        check_timestamp(NOW, now=NOW, unit="us")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="now"):
        check_timestamp(NOW, now=float("nan"))


# --- replayed deliveries --------------------------------------------------------


def test_first_delivery_is_accepted_and_replay_is_refused() -> None:
    seen = SeenDeliveries(clock=FakeClock())
    assert seen.first_time("d-1") is True
    assert seen.first_time("d-1") is False
    assert seen.first_time("d-2") is True
    assert seen.first_time("d-1") is False


def test_replayed_delivery_is_rejected() -> None:
    seen = SeenDeliveries(clock=FakeClock())
    seen.check("evt_123")
    with pytest.raises(WebhookError, match="replayed delivery 'evt_123'") as caught:
        seen.check("evt_123")
    assert "\n" not in str(caught.value)
    seen.check("x", namespace="shopify")
    with pytest.raises(WebhookError, match="replayed delivery 'x' in namespace 'shopify'"):
        seen.check("x", namespace="shopify")


def test_replay_of_a_signature_is_rejected_without_quoting_it() -> None:
    seen = SeenDeliveries(clock=FakeClock())
    seen.check("c2lnbmF0dXJl", "zendesk:signature", quote=False)
    with pytest.raises(WebhookError, match="replayed delivery in namespace") as caught:
        seen.check("c2lnbmF0dXJl", "zendesk:signature", quote=False)
    assert "c2lnbmF0dXJl" not in str(caught.value)


def test_delivery_is_accepted_again_once_ttl_has_passed() -> None:
    clock = FakeClock()
    seen = SeenDeliveries(ttl=60.0, clock=clock)
    assert seen.first_time("d")
    clock.now = 1059.999
    assert not seen.first_time("d")
    assert len(seen) == 1
    clock.now = 1060.0  # exactly ttl since first recorded
    assert len(seen) == 0
    assert seen.first_time("d")
    assert not seen.first_time("d")


def test_expired_id_is_not_a_replay_even_if_the_clock_stepped_back() -> None:
    # Out-of-order records (a wall clock stepped back) must not keep an
    # expired id alive behind a newer one.
    clock = FakeClock(100.0)
    seen = SeenDeliveries(ttl=100.0, clock=clock)
    assert seen.first_time("a")
    clock.now = 50.0
    assert seen.first_time("b")
    clock.now = 150.0  # "b" is exactly ttl old, "a" only 50s
    assert seen.first_time("b")
    assert not seen.first_time("a")


def test_replay_does_not_extend_the_window() -> None:
    clock = FakeClock()
    seen = SeenDeliveries(ttl=60.0, clock=clock)
    assert seen.first_time("d")
    clock.advance(50)
    assert not seen.first_time("d")
    clock.advance(10)
    assert seen.first_time("d")


def test_expired_entries_are_purged() -> None:
    clock = FakeClock()
    seen = SeenDeliveries(ttl=60.0, clock=clock)
    for i in range(10):
        seen.first_time(f"old-{i}")
    clock.advance(30)
    for i in range(5):
        seen.first_time(f"new-{i}")
    assert len(seen) == 15
    clock.advance(30)
    assert len(seen) == 5
    clock.advance(30)
    assert len(seen) == 0


def test_oldest_deliveries_are_evicted_when_full() -> None:
    clock = FakeClock()
    seen = SeenDeliveries(ttl=3600.0, max_entries=3, clock=clock)
    for name in ("a", "b", "c", "d"):
        assert seen.first_time(name)
        clock.advance(1)
    assert len(seen) == 3
    # "b", "c", "d" are still held; "a" (the oldest) was evicted.
    assert not seen.first_time("d")
    assert not seen.first_time("c")
    assert not seen.first_time("b")
    assert seen.first_time("a")  # evicts "b"
    assert seen.first_time("b")
    assert len(seen) == 3


def test_expired_entries_are_purged_before_evicting_live_ones() -> None:
    clock = FakeClock()
    seen = SeenDeliveries(ttl=10.0, max_entries=2, clock=clock)
    seen.first_time("a")
    clock.advance(5)
    seen.first_time("b")
    clock.advance(6)  # "a" expired, "b" live
    assert seen.first_time("c")
    assert not seen.first_time("b")


@given(
    max_entries=st.integers(1, 20),
    steps=st.lists(st.tuples(st.integers(0, 30), st.floats(0, 5)), max_size=200),
)
def test_store_never_exceeds_its_bound(max_entries: int, steps: list[tuple[int, float]]) -> None:
    clock = FakeClock()
    seen = SeenDeliveries(ttl=10.0, max_entries=max_entries, clock=clock)
    for number, pause in steps:
        clock.advance(pause)
        seen.first_time(str(number))
        assert len(seen) <= max_entries


@given(
    steps=st.lists(
        st.tuples(st.sampled_from("abcde"), st.sampled_from(["", "z", "i"]), st.floats(0, 40)),
        max_size=100,
    )
)
def test_store_agrees_with_a_simple_model(steps: list[tuple[str, str, float]]) -> None:
    # With room for every id, the store answers exactly as "first seen less
    # than ttl ago" computed from the full history.
    clock = FakeClock()
    seen = SeenDeliveries(ttl=25.0, clock=clock)
    recorded: dict[tuple[str, str], float] = {}
    for delivery_id, namespace, pause in steps:
        clock.advance(pause)
        key = (namespace, delivery_id)
        replay = key in recorded and clock.now - recorded[key] < 25.0
        assert seen.first_time(delivery_id, namespace=namespace) is (not replay)
        if not replay:
            recorded[key] = clock.now


def test_namespaces_keep_vendors_apart() -> None:
    seen = SeenDeliveries(clock=FakeClock())
    assert seen.first_time("123", namespace="zendesk")
    assert seen.first_time("123", namespace="intercom")
    assert seen.first_time("123")
    assert not seen.first_time("123", namespace="zendesk")
    assert not seen.first_time("123", "intercom")
    assert not seen.first_time("123", namespace="")


def test_namespace_and_id_cannot_be_spliced_into_a_collision() -> None:
    seen = SeenDeliveries(clock=FakeClock())
    assert seen.first_time("b:c", namespace="a")
    assert seen.first_time("c", namespace="a:b")
    assert seen.first_time("a:b:c")
    assert seen.first_time("ab", namespace="")
    assert seen.first_time("b", namespace="a")


@pytest.mark.parametrize("delivery_id", ["", "x" * (MAX_DELIVERY_ID_CHARS + 1)])
def test_missing_or_oversized_delivery_id_is_rejected(delivery_id: str) -> None:
    seen = SeenDeliveries(clock=FakeClock())
    with pytest.raises(WebhookError, match="delivery id"):
        seen.first_time(delivery_id)
    with pytest.raises(WebhookError, match="delivery id"):
        seen.check(delivery_id)
    assert len(seen) == 0
    assert seen.first_time("x" * MAX_DELIVERY_ID_CHARS)


@pytest.mark.parametrize(
    ("ttl", "max_entries"),
    [(0, 10), (-1, 10), (float("nan"), 10), (float("inf"), 10), (60, 0), (60, -1), (60, True)],
)
def test_bad_store_settings_are_a_caller_error(ttl: float, max_entries: int) -> None:
    with pytest.raises(ValueError):
        SeenDeliveries(ttl=ttl, max_entries=max_entries)


def test_default_clock_is_monotonic() -> None:
    seen = SeenDeliveries(ttl=3600.0)
    assert seen.first_time("d")
    assert not seen.first_time("d")


def test_concurrent_first_sightings_are_atomic() -> None:
    # Thread A is paused inside first_time() between looking its id up and
    # recording it (the id's second hash), while thread B asks about the same
    # id. Exactly one of them may be told "first time"; without a lock both are.
    inside = threading.Event()
    release = threading.Event()

    class PausingId(str):
        hashes = 0

        def __hash__(self) -> int:
            PausingId.hashes += 1
            if PausingId.hashes == 2:
                inside.set()
                assert release.wait(5)
            return str.__hash__(self)

    seen = SeenDeliveries(clock=FakeClock())
    results: dict[str, bool] = {}

    def ask(name: str, delivery_id: str) -> None:
        results[name] = seen.first_time(delivery_id)

    a = threading.Thread(target=ask, args=("a", PausingId("x")))
    a.start()
    assert inside.wait(5)
    b = threading.Thread(target=ask, args=("b", "x"))
    b.start()
    b.join(0.2)  # without a lock B finishes here, also seeing "x" for the first time
    release.set()
    a.join(5)
    b.join(5)
    assert results == {"a": True, "b": False}


conversations_ = st.lists(
    st.one_of(
        st.none(),
        st.builds(
            Conversation,
            channel=st.sampled_from(list(Channel)),
            conversation_id=st.text(
                alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=30
            ),
            payload=st.dictionaries(st.just("raw_body"), st.just("payload~5e2b")),
            claims=st.dictionaries(st.just("token"), st.just("claim~9d41")),
        ),
    ),
    max_size=5,
)


@given(conversations=conversations_)
def test_a_route_answer_names_each_conversation_and_nothing_else(
    conversations: list[Conversation | None],
) -> None:
    answer = named_conversations(conversations)
    named = [c for c in conversations if c is not None]
    if not named:
        assert answer == {}
        return
    assert answer == {
        "conversations": [
            {"channel": c.channel.value, "conversation_id": c.conversation_id} for c in named
        ]
    }
    assert "~" not in json.dumps(answer)  # neither the payload nor the claims
