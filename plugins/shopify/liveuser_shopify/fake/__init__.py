"""A faithful fake of Shopify's Admin GraphQL API, as a Starlette app.

``POST /admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``
and a JSON body ``{"query", "variables", "operationName"}``, executed by
graphql-core over the vendored schema subset (``shopify-admin.graphql``,
version 2026-07): queries ``customer``, ``customerByIdentifier``,
``customers``, ``order``, ``orders``, ``products``, ``productVariants``, ``job``, and
the order-action mutations ``orderCancel``, ``orderUpdate``, ``refundCreate``.

What it copies from Shopify: a wrong token is 401 ``{"errors": "[API] Invalid
API key or access token ..."}``; an unknown version 404; a body that is not
JSON 400; GraphQL errors come back with HTTP 200 and ``extensions.code``
(``PARSE_ERROR``, ``undefinedField``, ``INVALID_VARIABLE``,
``MAX_COST_EXCEEDED``); an unknown customer is ``null`` without error. Every
answer carries ``extensions.cost`` from a leaky bucket (``app.state.maximum``
points, refilled at ``app.state.restore_rate`` a second); a query whose
requested cost exceeds what is available is answered ``THROTTLED`` (HTTP
``app.state.throttle_status``, 200 by default) with no ``data``. Search
strings (``query:``) understand ``field:value`` and ``field:"quoted \\"value\\""``
terms, ANDed.

Test hooks: ``app.state.requests`` counts requests, ``app.state.log`` lists
operation names, ``app.state.faults`` is a list of faults for the next
requests (``"500"``, ``"503"``, ``"malformed"``, ``"throttled"``);
``app.state.mutation_faults`` the same for the next mutations only (``"500"``
before anything changes, ``"500-after"`` once the change took effect);
``app.state.shop.applied`` lists every change a mutation made, and
``app.state.shop.job_polls`` how many polls a cancellation Job takes.
Nothing here is secret: the token and client secret are demo strings.
"""

import functools
import json
import time
from typing import Any, Final

from graphql import DocumentNode, GraphQLError, execute_sync, parse, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..settings import DEFAULT_API_VERSION
from . import seed
from .cost import query_cost
from .schema import schema
from .search import search_terms
from .shop import Shop

FAKE_SHOP: Final = "liveuser-demo"
FAKE_ACCESS_TOKEN: Final = "shpat_fake_liveuser_demo_token_not_secret"
FAKE_CLIENT_SECRET: Final = "fake-shopify-client-secret-not-secret"
SUPPORTED_VERSIONS: Final = ("2025-10", "2026-01", "2026-04", "2026-07")
MAX_QUERY_COST: Final = 1000

__all__ = [
    "FAKE_ACCESS_TOKEN",
    "FAKE_CLIENT_SECRET",
    "FAKE_SHOP",
    "create_fake_shopify",
    "fake_settings",
    "query_cost",
    "reset",
    "schema",
    "search_terms",
    "seed",
]


def fake_settings(url: str, **overrides: Any) -> dict[str, Any]:
    """The plugin's settings pointing at a fake served at ``url``."""
    settings: dict[str, Any] = {
        "base_url": url,
        "api_version": DEFAULT_API_VERSION,
        "access_token": FAKE_ACCESS_TOKEN,
        "client_secret": FAKE_CLIENT_SECRET,
    }
    settings.update(overrides)
    return settings


def _error(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extra}}


def _located(error: GraphQLError, code: str) -> dict[str, Any]:
    out: dict[str, Any] = dict(error.formatted)
    out["extensions"] = {"code": code, **(error.extensions or {})}
    return out


@functools.lru_cache(maxsize=256)
def _parsed(query: str) -> tuple[DocumentNode, tuple[GraphQLError, ...]]:
    """Parse and validate once per query text: a client sends the same few documents."""
    document = parse(query)
    return document, tuple(validate(schema(), document))


def create_fake_shopify() -> Starlette:
    """A fresh fake shop (its own records, counters and bucket)."""
    shop = Shop()

    async def graphql_endpoint(request: Request) -> Response:
        state = request.app.state
        state.requests += 1
        if request.path_params["version"] not in SUPPORTED_VERSIONS:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        token = request.headers.get("x-shopify-access-token", "")
        if token != FAKE_ACCESS_TOKEN:
            return JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or "
                    "wrong password)"
                },
                status_code=401,
            )
        fault = state.faults.pop(0) if state.faults else None
        if fault in ("500", "502", "503"):
            return Response(
                "<html>Internal error</html>", status_code=int(fault), media_type="text/html"
            )
        if fault == "malformed":
            return Response('{"data": {"customer": ', media_type="application/json")
        if "application/json" not in request.headers.get("content-type", ""):
            return JSONResponse(
                {"errors": "Content-Type must be application/json"}, status_code=400
            )
        try:
            body = json.loads(await request.body())
            query = body["query"]
            variables = body.get("variables") or {}
            operation = body.get("operationName")
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"errors": "Bad Request"}, status_code=400)
        state.log.append(operation)
        try:
            document, problems = _parsed(query)
        except GraphQLError as exc:
            return JSONResponse({"errors": [_located(exc, "PARSE_ERROR")]})
        if problems:
            return JSONResponse(
                {
                    "errors": [
                        _located(
                            p,
                            "undefinedField"
                            if "Cannot query field" in p.message
                            else "GRAPHQL_VALIDATION_FAILED",
                        )
                        for p in problems
                    ]
                }
            )
        requested = query_cost(document, operation, variables)
        if requested > MAX_QUERY_COST:
            return JSONResponse(
                {
                    "errors": [
                        _error(
                            f"Query cost is {requested}, which exceeds the single query max cost "
                            f"limit ({MAX_QUERY_COST}).",
                            "MAX_COST_EXCEEDED",
                        )
                    ]
                }
            )
        now = time.monotonic()
        state.available = min(
            state.maximum, state.available + (now - state.refilled) * state.restore_rate
        )
        state.refilled = now
        if fault == "throttled" or requested > state.available:
            cost = {
                "requestedQueryCost": requested,
                "actualQueryCost": None,
                "throttleStatus": _bucket(state),
            }
            return JSONResponse(
                {
                    "errors": [
                        _error(
                            "Throttled",
                            "THROTTLED",
                            documentation="https://shopify.dev/api/usage/rate-limits",
                        )
                    ],
                    "extensions": {"cost": cost},
                },
                status_code=state.throttle_status,
            )
        is_mutation = "mutation" in query.split("{", 1)[0]
        mutation_fault = (
            state.mutation_faults.pop(0) if is_mutation and state.mutation_faults else None
        )
        if mutation_fault in ("500", "502", "503"):
            return Response(
                "<html>Internal error</html>",
                status_code=int(mutation_fault),
                media_type="text/html",
            )
        result = execute_sync(
            schema(),
            document,
            root_value=shop.mutation_root() if is_mutation else shop.query_root(),
            variable_values=variables,
            operation_name=operation,
        )
        actual = max(1, requested // 3)
        state.available -= actual
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [
                _located(
                    e,
                    (e.extensions or {}).get(
                        "code", "INVALID_VARIABLE" if e.path is None else "INTERNAL_SERVER_ERROR"
                    ),
                )
                for e in result.errors
            ]
        if result.data is not None or not result.errors:
            out["data"] = result.data
        out["extensions"] = {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": _bucket(state),
            }
        }
        if mutation_fault == "500-after":  # applied, but the answer is lost
            return Response("<html>Internal error</html>", status_code=500, media_type="text/html")
        return JSONResponse(out)

    app = Starlette(
        routes=[Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"])]
    )
    app.state.shop = shop
    app.state.requests = 0
    app.state.log = []
    app.state.faults = []
    app.state.mutation_faults = []
    app.state.maximum = 2000.0
    app.state.restore_rate = 100.0
    app.state.available = 2000.0
    app.state.refilled = time.monotonic()
    app.state.throttle_status = 200
    return app


def _bucket(state: Any) -> dict[str, Any]:
    return {
        "maximumAvailable": state.maximum,
        "currentlyAvailable": int(state.available),
        "restoreRate": state.restore_rate,
    }


def reset(app: Starlette) -> None:
    """Fresh records, a full bucket and no pending faults (between tests)."""
    app.state.shop.__init__()
    app.state.faults = []
    app.state.mutation_faults = []
    app.state.available = app.state.maximum = 2000.0
    app.state.restore_rate = 100.0
    app.state.refilled = time.monotonic()
    app.state.throttle_status = 200
