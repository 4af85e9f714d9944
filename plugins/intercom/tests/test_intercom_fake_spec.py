"""The fake answers in the shape of Intercom's published OpenAPI description (2.15)."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx2
import jsonschema  # type: ignore[import-untyped]
import pytest
from conftest import Fake

from liveuser_intercom.fake import FAKE_ACCESS_TOKEN, seed

SPEC_PATH = Path(__file__).resolve().parents[4] / "shared/vendor-specs/intercom.openapi.json"
HEADERS = {"Authorization": f"Bearer {FAKE_ACCESS_TOKEN}", "Intercom-Version": "2.15"}


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` becomes a JSON Schema union with ``null``."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        if os.environ.get("CI"):  # CI always has shared/ beside the clone: never skip there
            pytest.fail(f"vendor spec not found at {SPEC_PATH}")
        pytest.skip(f"vendor spec not found at {SPEC_PATH}")
    return _nullable_to_jsonschema(json.loads(SPEC_PATH.read_text()))  # type: ignore[no-any-return]


def validator(
    spec: dict[str, Any], path: str, status: str = "200"
) -> jsonschema.Draft202012Validator:
    schema = spec["paths"][path]["get"]["responses"][status]["content"]["application/json"][
        "schema"
    ]
    return jsonschema.Draft202012Validator(
        {**schema, "components": spec["components"]},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def get(fake: Fake, path: str, status: int = 200, **params: str) -> Any:
    answer = httpx2.get(f"{fake.url}{path}", params=params, headers=HEADERS)
    assert answer.status_code == status, answer.text
    return answer.json()


CHECKED = sorted(set(seed.CONVERSATIONS) - {seed.SERVER_ERROR, seed.MALFORMED})


@pytest.mark.parametrize("cid", CHECKED)
def test_conversation_matches_the_spec(fake: Fake, spec: dict[str, Any], cid: str) -> None:
    body = get(fake, f"/conversations/{cid}", display_as="plaintext")
    validator(spec, "/conversations/{conversation_id}").validate(body)


@pytest.mark.parametrize("contact_id", sorted(seed.CONTACTS))
def test_contact_matches_the_spec(fake: Fake, spec: dict[str, Any], contact_id: str) -> None:
    validator(spec, "/contacts/{contact_id}").validate(get(fake, f"/contacts/{contact_id}"))


def test_find_by_external_id_and_me_match_the_spec(fake: Fake, spec: dict[str, Any]) -> None:
    found = get(fake, "/contacts/find_by_external_id/cust-bob")
    validator(spec, "/contacts/find_by_external_id/{external_id}").validate(found)
    assert found["id"] == seed.BOB
    me = get(fake, "/me")
    validator(spec, "/me").validate(me)
    assert me["app"]["identity_verification"] is True


def test_error_bodies_match_the_spec(fake: Fake, spec: dict[str, Any]) -> None:
    missing = get(fake, f"/conversations/{seed.UNKNOWN}", status=404)
    validator(spec, "/conversations/{conversation_id}", "404").validate(missing)
    assert missing["errors"] == [{"code": "not_found", "message": "Resource Not Found"}]
    denied = httpx2.get(f"{fake.url}/conversations/201", headers={"Authorization": "Bearer x"})
    assert denied.status_code == 401
    validator(spec, "/conversations/{conversation_id}", "401").validate(denied.json())
    assert denied.json()["errors"][0]["code"] == "unauthorized"
    assert "X-RateLimit-Limit" not in denied.headers


def test_spec_check_catches_a_wrong_shape(fake: Fake, spec: dict[str, Any]) -> None:
    body = copy.deepcopy(get(fake, f"/conversations/{seed.EMAIL_VERIFIED}"))
    body["source"]["type"] = "messenger"  # not in the spec's enum
    with pytest.raises(jsonschema.ValidationError):
        validator(spec, "/conversations/{conversation_id}").validate(body)
    contact = copy.deepcopy(get(fake, f"/contacts/{seed.ANN}"))
    contact["created_at"] = "2026-11-02T09:14:03Z"  # Intercom sends unix seconds
    with pytest.raises(jsonschema.ValidationError):
        validator(spec, "/contacts/{contact_id}").validate(contact)


def test_fake_sends_rate_limit_headers_and_429_without_retry_after(fake: Fake) -> None:
    ok = httpx2.get(f"{fake.url}/me", headers=HEADERS)
    assert ok.headers["X-RateLimit-Limit"] == "167"
    assert int(ok.headers["X-RateLimit-Reset"]) >= int(time.time())
    fake.app.state.throttle = 1
    fake.app.state.reset_in = 7
    limited = httpx2.get(f"{fake.url}/me", headers=HEADERS)
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time()) + 6
    assert limited.json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert httpx2.get(f"{fake.url}/me", headers=HEADERS).status_code == 200


def test_fake_rejects_an_unknown_api_version(fake: Fake) -> None:
    answer = httpx2.get(f"{fake.url}/me", headers={**HEADERS, "Intercom-Version": "9.9"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "intercom_version_invalid"
