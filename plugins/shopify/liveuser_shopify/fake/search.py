"""The fake's reading of Shopify's search syntax: ``field:value`` and quoted values, ANDed."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_TERM = re.compile(r'\s*(?:(?P<field>[A-Za-z_]+):)?(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)')


def search_terms(query: str | None) -> list[tuple[str | None, str]]:
    """``title:"a \\"b\\"" status:active`` as ``[("title", 'a "b"'), ("status", "active")]``."""
    terms: list[tuple[str | None, str]] = []
    pos = 0
    text = query or ""
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TERM.match(text, pos)
        if match is None:
            terms.append((None, text[pos:].strip()))
            break
        value = match["value"]
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        terms.append((match["field"].lower() if match["field"] else None, value))
        pos = match.end()
    return terms


def matches(
    record: Mapping[str, Any],
    query: str | None,
    fields: Mapping[str, Callable[[Mapping[str, Any], str], bool]],
) -> bool:
    for field, value in search_terms(query):
        test = fields.get(field or "")
        if test is None or not test(record, value):
            return False
    return True


def _contains(key: str) -> Callable[[Mapping[str, Any], str], bool]:
    def test(record: Mapping[str, Any], value: str) -> bool:
        return value.replace("*", "").casefold() in str(record.get(key) or "").casefold()

    return test


def _equals(key: str) -> Callable[[Mapping[str, Any], str], bool]:
    def test(record: Mapping[str, Any], value: str) -> bool:
        return value.casefold() == str(record.get(key) or "").casefold()

    return test


ORDER_SEARCH = {"name": _equals("name"), "": _equals("name")}
PRODUCT_SEARCH = {"title": _contains("title"), "status": _equals("status"), "": _contains("title")}
VARIANT_SEARCH = {"sku": _equals("sku"), "": _equals("sku")}
CUSTOMER_SEARCH = {"email": _equals("email"), "": _equals("email")}
