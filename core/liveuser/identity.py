"""The one way liveuser normalises an email address.

Two spellings of one mailbox must meet, and two people must never merge:

* the domain is lowercased through IDNA (UTS #46), so ``Bücher.EXAMPLE`` and
  ``xn--bcher-kva.example`` are one domain, stored as its ASCII A-label;
* the local part is lowercased only when it is plain ASCII; a non-ASCII local
  part is kept exactly as given (no Unicode case folding or normalisation,
  which could merge two distinct mailboxes);
* one trailing dot on the domain (``example.com.``) is dropped;
* ``+tags`` are kept: ``ann+shop@x.com`` and ``ann@x.com`` are different
  people as far as liveuser knows.
"""

from __future__ import annotations

import functools

import idna

_FORBIDDEN = frozenset(' \t\r\n"<>(),;:[]\\')


def normalize_email(value: str) -> str:
    """Return the canonical form of ``value``; raise ``ValueError`` if it is not an address."""
    if not isinstance(value, str):
        raise ValueError("an email address must be a string")
    return _normalize(value)


def forget_normalized() -> None:
    """Empty the cache of normalised addresses (a person is being forgotten)."""
    _normalize.cache_clear()


@functools.lru_cache(maxsize=65_536)
def _normalize(value: str) -> str:
    # Pure and called on every hop of a context (token, user, ledger): cached.
    text = value.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an email address: {value!r}")
    if len(text) > 320:
        raise ValueError("email address is longer than 320 characters")
    if any(ch in _FORBIDDEN or not ch.isprintable() for ch in local) or "@" in local:
        raise ValueError(f"email address has a character not allowed here: {value!r}")
    if domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]  # the fully qualified spelling of the same domain
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"email domain is not a valid domain name: {domain!r}") from exc
    if "." not in ascii_domain.strip("."):
        raise ValueError(f"email domain has no dot: {domain!r}")
    if local.isascii():
        local = local.lower()
    return f"{local}@{ascii_domain.lower()}"
