"""The fake's fidelity, checked with HubSpot's official client (hubspot-api-client).

HubSpot's OpenAPI descriptions are not licensed for reuse, so instead of
validating against them, the official client (Apache-2.0, generated from the
same descriptions) is pointed at the fake and must deserialize its answers
into its own models. hubspot-api-client 12 ships CRM contacts and visitor
identification but no Conversations inbox API: threads and messages are
checked against the required fields of HubSpot's published Conversations
Inbox & Messages v3 description instead (below).
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from conftest import Fake
from hubspot import HubSpot
from hubspot.conversations.visitor_identification import IdentificationTokenGenerationRequest
from hubspot.crm.contacts import ApiException, SimplePublicObjectWithAssociations

from liveuser_hubspot.fake import FAKE_ACCESS_TOKEN, seed


def official(fake: Fake, token: str = FAKE_ACCESS_TOKEN) -> HubSpot:
    return HubSpot(access_token=token, host=fake.url, retry=None)


def test_official_client_reads_a_contact_from_the_fake(fake: Fake) -> None:
    contact = official(fake).crm.contacts.basic_api.get_by_id(
        seed.DANA, properties=["email", "firstname"]
    )
    assert isinstance(contact, SimplePublicObjectWithAssociations)
    assert contact.id == seed.DANA
    assert contact.properties["email"] == "dana.reyes@example.com"
    assert contact.archived is False and contact.created_at is not None


def test_official_client_reads_the_fakes_404_error_body(fake: Fake) -> None:
    with pytest.raises(ApiException) as info:
        official(fake).crm.contacts.basic_api.get_by_id("1")
    assert info.value.status == 404
    body = json.loads(info.value.body)
    assert body["category"] == "OBJECT_NOT_FOUND" and body["correlationId"]


def test_official_client_is_refused_with_a_wrong_token(fake: Fake) -> None:
    with pytest.raises(ApiException) as info:
        official(fake, "pat-na1-wrong").crm.contacts.basic_api.get_by_id(seed.DANA)
    assert info.value.status == 401
    assert json.loads(info.value.body)["category"] == "INVALID_AUTHENTICATION"


def test_official_client_mints_an_identification_token_from_the_fake(fake: Fake) -> None:
    api = official(fake).conversations.visitor_identification.generate_api
    answer = api.generate_token(
        IdentificationTokenGenerationRequest(
            email="dana.reyes@example.com", first_name="Dana", last_name="Reyes"
        )
    )
    assert answer.token


def _get(fake: Fake, path: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        fake.url + path, headers={"Authorization": f"Bearer {FAKE_ACCESS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), json.loads(response.read())


THREAD_REQUIRED = {
    "id",
    "inboxId",
    "status",
    "associatedContactId",
    "originalChannelId",
    "originalChannelAccountId",
    "spam",
    "archived",
    "createdAt",
}
MESSAGE_REQUIRED = {
    "id",
    "conversationsThreadId",
    "type",
    "createdAt",
    "createdBy",
    "direction",
    "channelId",
    "channelAccountId",
    "senders",
    "recipients",
    "client",
    "text",
    "truncationStatus",
    "attachments",
    "archived",
}


@pytest.mark.parametrize("thread_id", [seed.EMAIL_VERIFIED, seed.CHAT_DANA])
def test_threads_and_messages_carry_the_required_fields(fake: Fake, thread_id: str) -> None:
    base = f"/conversations/v3/conversations/threads/{thread_id}"
    status, headers, thread = _get(fake, base)
    assert status == 200 and set(thread) >= THREAD_REQUIRED
    assert all(isinstance(thread[k], str) for k in ("id", "inboxId", "associatedContactId"))
    assert "X-HubSpot-RateLimit-Remaining".lower() in {k.lower() for k in headers}
    _, _, page = _get(fake, f"{base}/messages?limit=1")
    assert page["paging"]["next"]["after"]
    _, _, full = _get(fake, f"{base}/messages")
    assert "paging" not in full
    for msg in full["results"]:
        if msg["type"] == "MESSAGE":
            assert set(msg) >= MESSAGE_REQUIRED
            for party in msg["recipients"]:
                assert "deliveryIdentifier" in party or "actorId" in party
    one = full["results"][-1]
    _, _, same = _get(fake, f"{base}/messages/{one['id']}")
    assert same == one


def test_visitor_actor_has_hubspots_shape(fake: Fake) -> None:
    _, _, actor = _get(fake, f"/conversations/v3/conversations/actors/V-{seed.DANA}")
    assert actor == {
        "type": "VISITOR",
        "id": f"V-{seed.DANA}",
        "name": "Dana Reyes",
        "email": "dana.reyes@example.com",
    }
