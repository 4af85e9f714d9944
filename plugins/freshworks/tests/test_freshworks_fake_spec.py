"""The fake answers in the shapes of Freshworks' API references.

Freshworks publishes no machine-readable description of the Freshdesk or
Freshchat REST APIs, so the schemas below are written from the field tables
and examples of the Freshdesk API v2 reference (developers.freshdesk.com/api/)
and the Freshchat API reference (developers.freshchat.com/api/): the spec
check is against those.
"""

from __future__ import annotations

from typing import Any

import httpx2
import jsonschema  # type: ignore[import-untyped]
import pytest
from conftest import Fake

from liveuser_freshworks.fake import FAKE_API_KEY, FAKE_CHAT_TOKEN, seed

DESK_AUTH = (FAKE_API_KEY, "X")
CHAT_AUTH = {"Authorization": f"Bearer {FAKE_CHAT_TOKEN}"}

_EMAILS = {"type": ["array", "null"], "items": {"type": "string"}}
TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "subject",
        "description",
        "description_text",
        "source",
        "status",
        "priority",
        "spam",
        "requester_id",
        "responder_id",
        "group_id",
        "company_id",
        "product_id",
        "email_config_id",
        "to_emails",
        "cc_emails",
        "fwd_emails",
        "reply_cc_emails",
        "fr_escalated",
        "is_escalated",
        "due_by",
        "fr_due_by",
        "tags",
        "custom_fields",
        "attachments",
        "created_at",
        "updated_at",
        "requester",
    ],
    "properties": {
        "id": {"type": "integer"},
        "source": {"type": "integer"},
        "status": {"enum": [2, 3, 4, 5]},
        "priority": {"enum": [1, 2, 3, 4]},
        "spam": {"type": "boolean"},
        "deleted": {"type": "boolean"},
        "requester_id": {"type": "integer"},
        "to_emails": _EMAILS,
        "cc_emails": _EMAILS,
        "fwd_emails": _EMAILS,
        "reply_cc_emails": _EMAILS,
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "requester": {
            "type": "object",
            "required": ["id", "name", "email", "mobile", "phone"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "email": {"type": ["string", "null"]},
                "mobile": {"type": ["string", "null"]},
                "phone": {"type": ["string", "null"]},
            },
        },
    },
}
CONVERSATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["conversation_id", "app_id", "status", "channel_id", "created_time"],
    "properties": {
        "conversation_id": {"type": "string"},
        "status": {"enum": ["new", "assigned", "resolved", "reopened"]},
        "user_id": {"type": "string"},
        "users": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}},
            },
        },
    },
    "oneOf": [{"required": ["user_id"]}, {"required": ["users"]}],
}
USER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "created_time",
        "updated_time",
        "email",
        "first_name",
        "last_name",
        "phone",
        "reference_id",
        "avatar",
        "properties",
    ],
    "properties": {
        "id": {"type": "string"},
        "email": {"type": ["string", "null"]},
        "reference_id": {"type": ["string", "null"]},
        "avatar": {"type": "object", "properties": {"url": {"type": "string"}}},
        "properties": {
            "type": "array",
            "items": {"type": "object", "required": ["name", "value"]},
        },
    },
}
CHAT_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "status", "message"],
    "properties": {"code": {"type": "integer"}, "status": {"type": "string"}},
}


def check(schema: dict[str, Any], data: Any) -> None:
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)


CHECKED_TICKETS = sorted(set(seed.TICKETS) - {seed.SERVER_ERROR, seed.MALFORMED})


@pytest.mark.parametrize("tid", CHECKED_TICKETS)
def test_ticket_with_requester_matches_the_api_reference(fake: Fake, tid: int) -> None:
    answer = httpx2.get(
        f"{fake.url}/api/v2/tickets/{tid}", params={"include": "requester"}, auth=DESK_AUTH
    )
    assert answer.status_code == 200
    check(TICKET_SCHEMA, answer.json())
    assert answer.headers["X-RateLimit-Used-CurrentRequest"] == "2"
    assert int(answer.headers["X-RateLimit-Remaining"]) >= 0


def test_ticket_without_include_has_no_requester(fake: Fake) -> None:
    answer = httpx2.get(f"{fake.url}/api/v2/tickets/{seed.EMAIL_VERIFIED}", auth=DESK_AUTH)
    assert "requester" not in answer.json()
    assert answer.headers["X-RateLimit-Used-CurrentRequest"] == "1"


def test_freshdesk_errors_match_the_api_reference(fake: Fake) -> None:
    missing = httpx2.get(f"{fake.url}/api/v2/tickets/{seed.UNKNOWN}", auth=DESK_AUTH)
    assert missing.status_code == 404 and missing.content == b""
    denied = httpx2.get(f"{fake.url}/api/v2/tickets/{seed.EMAIL_VERIFIED}", auth=("bad", "X"))
    assert denied.status_code == 401
    assert denied.json()["code"] == "invalid_credentials"
    invalid = httpx2.get(
        f"{fake.url}/api/v2/tickets/{seed.EMAIL_VERIFIED}",
        params={"include": "users"},
        auth=DESK_AUTH,
    )
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["code"] == "invalid_value"


@pytest.mark.parametrize(
    "cid", sorted(set(seed.CONVERSATIONS) - {seed.CONV_MALFORMED, seed.CONV_SERVER_ERROR})
)
def test_conversation_matches_the_api_reference(fake: Fake, cid: str) -> None:
    answer = httpx2.get(f"{fake.url}/v2/conversations/{cid}", headers=CHAT_AUTH)
    assert answer.status_code == 200
    check(CONVERSATION_SCHEMA, answer.json())


@pytest.mark.parametrize("uid", sorted(seed.CHAT_USERS))
def test_user_matches_the_api_reference(fake: Fake, uid: str) -> None:
    answer = httpx2.get(f"{fake.url}/v2/users/{uid}", headers=CHAT_AUTH)
    assert answer.status_code == 200
    check(USER_SCHEMA, answer.json())


def test_freshchat_errors_match_the_api_reference(fake: Fake) -> None:
    missing = httpx2.get(f"{fake.url}/v2/users/nobody", headers=CHAT_AUTH)
    assert missing.status_code == 404
    check(CHAT_ERROR_SCHEMA, missing.json())
    denied = httpx2.get(f"{fake.url}/v2/users/{seed.USER_CHLOE}")
    assert denied.status_code == 401
    check(CHAT_ERROR_SCHEMA, denied.json())


@pytest.mark.parametrize(
    ("path", "auth", "headers"),
    [
        (f"/api/v2/tickets/{seed.EMAIL_VERIFIED}", DESK_AUTH, {}),
        (f"/v2/users/{seed.USER_CHLOE}", None, CHAT_AUTH),
    ],
)
def test_throttled_answers_carry_retry_after(
    fake: Fake, path: str, auth: Any, headers: dict[str, str]
) -> None:
    fake.app.state.throttle = 1
    fake.app.state.retry_after = 7
    answer = httpx2.get(f"{fake.url}{path}", auth=auth, headers=headers)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert "message" in answer.json()


CONTACT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "active",
        "name",
        "email",
        "other_emails",
        "phone",
        "mobile",
        "twitter_id",
        "unique_external_id",
        "company_id",
        "view_all_tickets",
        "language",
        "time_zone",
        "tags",
        "custom_fields",
        "created_at",
        "updated_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "active": {"type": "boolean"},
        "email": {"type": ["string", "null"]},
        "other_emails": {"type": "array", "items": {"type": "string"}},
        "deleted": {"const": True},
        "blocked": {"const": True},
    },
}


@pytest.mark.parametrize("cid", sorted(seed.CONTACTS))
def test_contact_matches_the_api_reference(fake: Fake, cid: int) -> None:
    answer = httpx2.get(f"{fake.url}/api/v2/contacts/{cid}", auth=DESK_AUTH)
    assert answer.status_code == 200
    check(CONTACT_SCHEMA, answer.json())
