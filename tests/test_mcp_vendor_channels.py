"""MCP sessions on a vendor live chat: the token becomes an attestation its connector checks.

A cross-plugin test: it needs liveuser-hubspot, which scripts/test installs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from liveuser import Channel, Refusal, VerifiedUser
from liveuser.mcp_server import conversation_for_token
from liveuser.testing import PluginHarness, ServedFake
from liveuser.tokens import KeyRing, Purpose, mint_token

hubspot = pytest.importorskip("liveuser_hubspot")
from liveuser_hubspot.fake import create_fake_hubspot, fake_settings, seed  # noqa: E402

SECRET = "mcp-vendor-channel-secret-0123456789abcdef"
DANA = "dana.reyes@example.com"


def session(email: str, thread: str, keys: KeyRing) -> str:
    return mint_token(
        keys,
        tenant="default",
        purpose=Purpose.mcp_session,
        subject=email,
        channel=Channel.hubspot_chat,
        conversation_id=thread,
        ttl=600,
    )


async def test_mcp_session_on_a_hubspot_chat_verifies_only_its_own_thread(
    tmp_path: Path,
) -> None:
    with ServedFake.serve(create_fake_hubspot()) as fake:
        async with PluginHarness(tmp_path, [hubspot.HubSpotPlugin]) as harness:
            built = harness.build(
                host_keys={"k1": SECRET}, plugins={"hubspot": fake_settings(fake.url)}
            )
            keys = built.tenant.host_keys
            assert keys is not None
            own, _ = conversation_for_token(keys, session(DANA, seed.CHAT_DANA, keys), "default")
            assert "attestation" in own.claims and own.channel is Channel.hubspot_chat
            verdict = await built.pipeline.verify(own)
            assert isinstance(verdict, VerifiedUser) and verdict.email == DANA
            assert verdict.record.mechanism.value == "host_attestation"
            # Dana's session token naming Ann's chat proves nothing about Ann's chat.
            other, _ = conversation_for_token(
                keys, session(DANA, seed.CHAT_TYPED_EMAIL, keys), "default"
            )
            refused = await built.pipeline.verify(other)
            assert isinstance(refused, Refusal)
