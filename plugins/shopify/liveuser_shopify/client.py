"""Shopify's Admin GraphQL API, as the plugin reads it: one POST per lookup.

Every call goes through the core's :class:`liveuser.HttpClient` as a read
(``read=True``, a lookup even over POST), within the assembly deadline and
size cap. Shopify meters GraphQL by query cost (a leaky bucket reported in
``extensions.cost.throttleStatus``); a throttled answer, whether HTTP 429 or
HTTP 200 with ``errors[].extensions.code == "THROTTLED"``, is waited out for
``(requestedQueryCost - currentlyAvailable) / restoreRate`` seconds when the
deadline allows, and otherwise fails with that reason. Every failure is a
:class:`ShopifyError` (a :class:`liveuser.BackendError`) whose ``reason`` a
person can read: the pipeline lists the source as missing with it.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, Final

from liveuser import BackendError, BackendStatusError, BackendTimeout, HttpAnswer, HttpClient
from liveuser.http import remaining, retry_after

from .queries import DOCUMENTS
from .settings import ShopifySettings

SOURCE: Final = "shopify"
MAX_THROTTLE_WAITS: Final = 2
"""How many throttled answers (HTTP 200 ``THROTTLED``) one lookup waits out."""
_MAX_WAIT: Final = 60.0

_STATUS_REASONS: Final = {
    400: "Shopify could not read the request (HTTP 400)",
    401: "Shopify rejected the access token (HTTP 401)",
    402: "the Shopify shop is frozen for an unpaid balance (HTTP 402)",
    403: "the Shopify app lacks an access scope it needs (HTTP 403)",
    404: "Shopify does not know this shop or API version (HTTP 404)",
    423: "the Shopify shop is locked (HTTP 423)",
}


class ShopifyError(BackendError):
    """A Shopify lookup that gave no usable answer; ``reason`` says why, for a person."""

    def __init__(self, reason: str) -> None:
        super().__init__(SOURCE, reason)


def throttle_wait(body: Any) -> float | None:
    """Seconds until the bucket holds the query's cost again, from ``extensions.cost``."""
    if not isinstance(body, dict):
        return None
    cost = (
        (body.get("extensions") or {}).get("cost")
        if isinstance(body.get("extensions"), dict)
        else None
    )
    if not isinstance(cost, dict):
        return None
    status = cost.get("throttleStatus")
    requested = cost.get("requestedQueryCost")
    if not isinstance(status, dict):
        return None
    numbers = (requested, status.get("currentlyAvailable"), status.get("restoreRate"))
    values: list[float] = []
    for n in numbers:
        if not isinstance(n, int | float) or isinstance(n, bool) or not math.isfinite(n):
            return None
        values.append(float(n))
    needed, available, rate = values
    if not rate > 0:
        return None
    return min(max((needed - available) / rate, 0.0), _MAX_WAIT)


def _answer_wait(answer: HttpAnswer) -> float | None:
    """The wait hint for a 429 or 5xx: Shopify's bucket if it says, else Retry-After."""
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = None
    wait = throttle_wait(body)
    return wait if wait is not None else retry_after(answer)


def is_throttled(body: dict[str, Any]) -> bool:
    errors = body.get("errors")
    if not isinstance(errors, list):
        return False
    return any(
        isinstance(e, dict)
        and isinstance(e.get("extensions"), dict)
        and e["extensions"].get("code") == "THROTTLED"
        for e in errors
    )


def _first_error(errors: Any) -> str:
    if isinstance(errors, str):
        return errors[:200]
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        message = str(first.get("message", "unknown error"))[:200]
        ext = first.get("extensions")
        code = ext.get("code") if isinstance(ext, dict) else None
        return f"{message} ({code})" if isinstance(code, str) else message
    return "unknown error"


class ShopifyClient:
    """Sends the plugin's GraphQL documents to one shop."""

    def __init__(self, http: HttpClient, settings: ShopifySettings, max_bytes: int) -> None:
        self._http = http
        self._settings = settings
        self._max_bytes = max_bytes
        self.last_cost: dict[str, Any] | None = None
        """``extensions.cost`` of the last answer (query cost and bucket)."""

    async def query(
        self, operation: str, variables: dict[str, Any], *, read: bool = True
    ) -> dict[str, Any]:
        """Run the named document; return its ``data`` or raise :class:`ShopifyError`.

        ``read=False`` marks a mutation: never retried on a 5xx or a transport
        error (a throttled answer ran nothing, so it is still waited out).
        """
        payload = {
            "query": DOCUMENTS[operation],
            "operationName": operation,
            "variables": variables,
        }
        headers = {
            "X-Shopify-Access-Token": self._settings.access_token.get_secret_value(),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        for _ in range(MAX_THROTTLE_WAITS + 1):
            body = await self._post(payload, headers, read=read)
            cost = (
                (body.get("extensions") or {}) if isinstance(body.get("extensions"), dict) else {}
            )
            if isinstance(cost.get("cost"), dict):
                self.last_cost = cost["cost"]
            if not is_throttled(body):
                return self._data(body)
            await self._wait_out(body)
        raise ShopifyError("Shopify kept throttling the query")

    async def _post(
        self, payload: dict[str, Any], headers: dict[str, str], *, read: bool
    ) -> dict[str, Any]:
        try:
            answer = await self._http.request(
                SOURCE,
                "POST",
                self._settings.graphql_url,
                json=payload,
                headers=headers,
                read=read,
                max_bytes=self._max_bytes,
                wait_hint=_answer_wait,
            )
        except BackendStatusError as exc:
            if exc.status == 429:
                raise ShopifyError(
                    "Shopify throttled the query and its bucket would not refill before the "
                    "deadline (HTTP 429)"
                ) from None
            raise ShopifyError(f"Shopify answered HTTP {exc.status}") from None
        except BackendTimeout:
            raise ShopifyError("Shopify did not answer before the deadline") from None
        except BackendError as exc:
            raise ShopifyError(exc.reason) from None
        if answer.status != 200:
            reason = _STATUS_REASONS.get(answer.status, f"Shopify answered HTTP {answer.status}")
            raise ShopifyError(reason)
        try:
            body = answer.json()
        except BackendError:
            raise ShopifyError("Shopify answered malformed JSON") from None
        if not isinstance(body, dict):
            raise ShopifyError("Shopify answered JSON that is not a GraphQL response")
        return body

    async def _wait_out(self, body: dict[str, Any]) -> None:
        wait = throttle_wait(body)
        if wait is None:
            wait = 1.0
        if wait >= remaining():
            raise ShopifyError(
                f"Shopify throttled the query and its bucket needs {wait:.1f} s to refill, "
                "past the deadline"
            )
        await asyncio.sleep(wait)

    @staticmethod
    def _data(body: dict[str, Any]) -> dict[str, Any]:
        errors = body.get("errors")
        if errors:
            raise ShopifyError(f"Shopify refused the query: {_first_error(errors)}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise ShopifyError("Shopify answered without data")
        return data
