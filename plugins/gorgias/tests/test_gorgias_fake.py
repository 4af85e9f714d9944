"""The fake answers like Gorgias: paths, auth, error bodies and the rate-limit bucket.

No machine-readable Gorgias spec is kept (see the README); these tests pin the
shapes of recorded real answers of the API instead.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx2
import pytest
from conftest import Fake
from starlette.testclient import TestClient

from liveuser_gorgias.client import Ticket
from liveuser_gorgias.fake import FAKE_API_KEY, FAKE_EMAIL, create_fake_gorgias, seed

AUTH = {
    "Authorization": "Basic " + base64.b64encode(f"{FAKE_EMAIL}:{FAKE_API_KEY}".encode()).decode()
}
# Keys of a recorded real GET /api/tickets/{id} answer.
RECORDED_TICKET_KEYS = {
    "id", "uri", "external_id", "status", "priority", "channel", "via", "from_agent", "spam",
    "customer", "subject", "messages", "created_datetime", "updated_datetime", "deleted_datetime",
}  # fmt: skip
RECORDED_MESSAGE_KEYS = {
    "id", "uri", "ticket_id", "public", "channel", "via", "from_agent", "source", "sender",
    "receiver", "integration_id", "subject", "body_text", "created_datetime",
}  # fmt: skip
RECORDED_CUSTOMER_KEYS = {
    "id", "external_id", "active", "email", "name", "firstname", "lastname", "channels",
    "created_datetime", "updated_datetime", "meta", "data",
}  # fmt: skip


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_fake_gorgias(capacity=3, window=60.0)) as test_client:
        yield test_client


async def _get(fake: Fake, path: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    async with httpx2.AsyncClient(base_url=fake.url) as http:
        return await http.get(path, headers=AUTH if headers is None else headers)


@pytest.mark.parametrize("tid", sorted(set(seed.TICKETS) - {seed.SERVER_ERROR, seed.MALFORMED}))
async def test_tickets_have_the_recorded_shape(fake: Fake, tid: int) -> None:
    answer = await _get(fake, f"/api/tickets/{tid}")
    assert answer.status_code == 200
    body = answer.json()
    assert body.keys() >= RECORDED_TICKET_KEYS
    assert body["uri"] == f"/api/tickets/{tid}/"
    for message in body["messages"]:
        assert message.keys() >= RECORDED_MESSAGE_KEYS
        assert {"type", "from", "to"} <= message["source"].keys()
    if body["customer"] is not None:
        assert body["customer"].keys() >= RECORDED_CUSTOMER_KEYS
    Ticket.model_validate(body)
    assert "X-Gorgias-Account-Api-Call-Limit" in answer.headers


async def test_trailing_slash_and_customers(fake: Fake) -> None:
    slash = await _get(fake, f"/api/tickets/{seed.EMAIL_VERIFIED}/")
    assert slash.status_code == 200 and slash.json()["id"] == seed.EMAIL_VERIFIED
    customer = await _get(fake, f"/api/customers/{seed.ANN}")
    assert customer.json()["email"] == "ann@example.com"
    assert customer.json().keys() >= RECORDED_CUSTOMER_KEYS


async def test_error_bodies(fake: Fake) -> None:
    missing = await _get(fake, f"/api/tickets/{seed.UNKNOWN}")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"msg": "Resource not found."}}
    assert (await _get(fake, "/api/nothing-here")).status_code == 404
    unauthorized = await _get(fake, f"/api/tickets/{seed.EMAIL_VERIFIED}", headers={})
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"error": {"msg": "Unauthorized."}}
    wrong = base64.b64encode(f"{FAKE_EMAIL}:nope".encode()).decode()
    bad = await _get(fake, "/api/tickets/1", headers={"Authorization": f"Basic {wrong}"})
    assert bad.status_code == 401
    async with httpx2.AsyncClient(base_url=fake.url) as http:
        post = await http.post(f"/api/tickets/{seed.EMAIL_VERIFIED}", headers=AUTH)
    assert post.status_code == 405


def test_leaky_bucket_answers_429_with_retry_after(client: TestClient) -> None:
    path = f"/api/tickets/{seed.EMAIL_VERIFIED}"
    limits = [client.get(path, headers=AUTH).headers["X-Gorgias-Account-Api-Call-Limit"]]
    limits += [client.get(path, headers=AUTH).headers["X-Gorgias-Account-Api-Call-Limit"]]
    assert limits == ["1/3", "2/3"]
    assert client.get(path, headers=AUTH).status_code == 200
    throttled = client.get(path, headers=AUTH)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-after"]) >= 1
    assert throttled.headers["X-Gorgias-Account-Api-Call-Limit"] == "3/3"
