"""Four `liveuser serve` workers sharing PostgreSQL and Redis, under load from another process.

The workers are one `liveuser serve --workers 4` (uvicorn's worker processes);
the load comes from a second process over loopback, bounded in count and time.
Afterwards: exactly one ledger record per delivered turn (retried turns
included), no vendor fake saw more than its rate limit, each cached user's data
was fetched once across the workers, and no response held another user's data.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psycopg
import pytest

from liveuser.metering import Ledger
from liveuser.sandbox import SANDBOX_API_KEY, RateLimited, create_user_data_api, serve

from .conftest import ACME_KEYS, ACME_SECRET, HOST_KEY, HOST_SECRET, host_token
from .test_serve import start_service, stop_service

USERS = 8  # per tenant
TURNS = 4  # per user, each sent twice (a retried turn)
VENDOR_LIMIT = 10  # requests the vendor accepts in any 0.5 s window
BUDGET = "5/second"  # what the workers share: a burst of 5, then 5 a second
# The vendor counts requests as they reach it, and a loaded machine delays some and
# then hands them over together: the budget leaves it that margin. Four unshared
# budgets would burst 20 requests at once, past the vendor's 10.
LEDGER_KEY = "scale-test-ledger-key-0123456789abcdef"
DEFAULT_API_KEY = "default-tenant-api-key-scale-0123456789"
ACME_API_KEY = "acme-tenant-api-key-scale-0123456789ab"

# The second process: fires every planned request, 8 at a time, and records each answer.
LOAD = textwrap.dedent(
    """
    import asyncio, json, sys
    import httpx2

    async def main() -> None:
        url, plan_file, out_file = sys.argv[1], sys.argv[2], sys.argv[3]
        with open(plan_file) as f:
            plan = json.load(f)
        gate = asyncio.Semaphore(8)
        async with httpx2.AsyncClient(timeout=30) as client:
            async def one(item):
                async with gate:
                    answer = await client.post(
                        url + "/v1/context",
                        json=item["body"],
                        headers={"Authorization": "Bearer " + item["key"]},
                    )
                    return {**item, "status": answer.status_code, "answer": answer.json()}
            async with asyncio.timeout(120):
                results = await asyncio.gather(*(one(item) for item in plan))
        with open(out_file, "w") as f:
            json.dump(results, f)

    asyncio.run(main())
    """
)


def email(tenant: str, i: int) -> str:
    return f"{tenant}-user{i}@example.com"


def secret_of(tenant: str, i: int) -> str:
    return f"order #{tenant.upper()}-{1000 + i}"


@pytest.fixture
def vendor() -> Iterator[tuple[str, Any, RateLimited]]:
    users = {
        email(t, i): f"Orders: {secret_of(t, i)}" for t in ("default", "acme") for i in range(USERS)
    }
    app = create_user_data_api(users=users, latency=0.05)
    limited = RateLimited(app, limit=VENDOR_LIMIT, window=0.5)
    with serve(limited) as url:
        yield url, app, limited


def turn_of(result: dict[str, Any]) -> tuple[str, str, str]:
    body = result["body"]
    return result["tenant"], body["conversation_id"], body["message_id"]


def plan() -> list[dict[str, Any]]:
    items = []
    for tenant, key in (("default", DEFAULT_API_KEY), ("acme", ACME_API_KEY)):
        keys = ACME_KEYS if tenant == "acme" else None
        for i in range(USERS):
            token = host_token(email(tenant, i), tenant=tenant, **({"keys": keys} if keys else {}))
            for turn in range(TURNS):
                body = {
                    "channel": "host",
                    "conversation_id": f"{tenant}-conv-{i}",
                    "message_id": f"m{turn}",
                    "claims": {"token": token},
                }
                item = {"tenant": tenant, "user": i, "key": key, "body": body}
                items += [item, item]  # every turn is retried once
    return items


def test_four_workers_share_the_ledger_the_cache_and_the_vendor_budget(
    tmp_path: Path,
    postgres_schema: str,
    redis_url: str,
    vendor: tuple[str, Any, RateLimited],
) -> None:
    import redis

    url, app, limited = vendor
    shared_redis = redis_url.rsplit("/", 1)[0] + "/2"
    with redis.Redis.from_url(shared_redis) as client:
        client.flushdb()
    port = url.rsplit(":", 1)[1]
    config = tmp_path / "liveuser.toml"
    config.write_text(f"""
ledger = "{tmp_path / "unused.sqlite3"}"
ledger_key = "{LEDGER_KEY}"
rate_limits = {{ "127.0.0.1:{port}" = "{BUDGET}" }}

[tenants.default]
cache_ttl_seconds = 300
[tenants.default.host_keys]
{HOST_KEY} = "{HOST_SECRET}"
[tenants.default.api_keys]
platform = "{DEFAULT_API_KEY}"
[tenants.default.plugins.user_data_api]
url = "{url}"
api_key = "{SANDBOX_API_KEY}"

[tenants.acme]
cache_ttl_seconds = 0    # every turn asks the vendor: the budget is what keeps it under
[tenants.acme.host_keys]
{HOST_KEY} = "{ACME_SECRET}"
[tenants.acme.api_keys]
platform = "{ACME_API_KEY}"
[tenants.acme.plugins.user_data_api]
url = "{url}"
api_key = "{SANDBOX_API_KEY}"
""")
    env = {"LIVEUSER_DATABASE_URL": postgres_schema, "LIVEUSER_REDIS_URL": shared_redis}
    process, service = start_service(config, "--workers", "4", env=env)
    try:
        plan_file, out_file = tmp_path / "plan.json", tmp_path / "results.json"
        plan_file.write_text(json.dumps(plan()))
        subprocess.run(
            [sys.executable, "-W", "error", "-c", LOAD, service, str(plan_file), str(out_file)],
            check=True,
            timeout=180,
        )
        results = json.loads(out_file.read_text())
        metrics = httpx2.get(f"{service}/metrics", timeout=30).text
    finally:
        stderr = stop_service(process)
    assert "Traceback" not in stderr, stderr[-3000:]

    # Every turn was delivered, verified, with its own person's data and no one else's.
    assert [r["status"] for r in results] == [200] * len(results)
    everyone = [(t, j) for t in ("default", "acme") for j in range(USERS)]
    for r in results:
        answer, tenant, i = r["answer"], r["tenant"], r["user"]
        assert answer["verified"] and answer["tenant"] == tenant, answer
        assert secret_of(tenant, i) in answer["text"] and email(tenant, i) in answer["text"]
        for t, j in everyone:
            if (t, j) != (tenant, i):
                assert secret_of(t, j) not in answer["text"]
                assert email(t, j) not in answer["text"]

    # /metrics counts every worker's contexts, whichever worker answers the scrape.
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("liveuser_contexts_total{")
    )
    assert served == len(results)

    # Exactly one ledger record per delivered turn, for that turn's person.
    with psycopg.connect(postgres_schema) as conn:
        rows = conn.execute(
            "SELECT tenant, conversation_id, message_id, tool_call_id, identity_hash"
            " FROM deliveries"
        ).fetchall()
    turns = {turn_of(r) for r in results}
    assert len(rows) == len(turns) == 2 * USERS * TURNS
    assert {(t, c, m) for t, c, m, _, _ in rows} == turns
    hasher = Ledger(":memory:", LEDGER_KEY.encode())
    try:
        for tenant, conversation, _, tool_call, identity_hash in rows:
            i = int(conversation.rsplit("-", 1)[1])
            assert tool_call == "" and identity_hash == hasher.identity_hash(email(tenant, i))
    finally:
        hasher.close()

    # The vendor never saw more than its limit; cached users were fetched once across workers.
    assert limited.throttled == 0 and limited.busiest <= VENDOR_LIMIT
    for i in range(USERS):
        assert app.state.identifiers.count(email("default", i)) == 1
        assert app.state.identifiers.count(email("acme", i)) == 2 * TURNS
