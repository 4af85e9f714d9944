"""Email normalisation: one way everywhere; two people never merge, one never splits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liveuser import normalize_email

from .strategies import emails


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ann@Example.COM", "ann@example.com"),
        ("  ann@example.com ", "ann@example.com"),
        ("Ann+Shop@example.com", "ann+shop@example.com"),
        ("ann@Bücher.example", "ann@xn--bcher-kva.example"),
        ("ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example"),
        ("Ünïcode@example.com", "Ünïcode@example.com"),
        ("ann@example.com.", "ann@example.com"),
    ],
)
def test_normal_forms(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


def test_plus_tags_and_unicode_local_parts_never_merge() -> None:
    assert normalize_email("ann+a@example.com") != normalize_email("ann@example.com")
    assert normalize_email("Ünïcode@example.com") != normalize_email("ünïcode@example.com")
    # NFC and NFD spellings stay distinct: no Unicode folding of the local part.
    assert normalize_email("e\u0301@example.com") != normalize_email("\u00e9@example.com")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ann",
        "@example.com",
        "ann@",
        "a b@example.com",
        "ann@localhost",
        "ann@exa mple.com",
        "a\n@example.com",
    ],
)
def test_not_an_address_is_a_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_email(bad)


@given(emails, st.sampled_from([str.upper, str.lower, str.title, lambda s: s]))
def test_ascii_case_never_splits_one_person(email: str, case: object) -> None:
    assert normalize_email(case(email)) == normalize_email(email)  # type: ignore[operator]


@given(emails)
def test_normalising_is_idempotent(email: str) -> None:
    once = normalize_email(email)
    assert normalize_email(once) == once
