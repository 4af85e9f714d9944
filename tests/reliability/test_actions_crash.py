"""A process killed between an action's execution and its recording never executes it twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette

import liveuser
from liveuser import Ledger, Pipeline, Registry, Settings, TenantSettings
from liveuser.actions import stale_after
from liveuser.actions.example_endpoint import PAUSE, create_action_endpoint, pause_action_settings
from liveuser.sandbox import ANN_EMAIL, serve

from ..conftest import HOST_KEY, HOST_SECRET, host_conversation

pytestmark = pytest.mark.reliability

CORE = Path(__file__).resolve().parents[2] / "core"
KEY = bytes(range(32))

# The child proposes the action, prints the confirmation id, then confirms it with the
# store rigged to SIGKILL the process at the moment it would record the outcome: the
# vendor call has returned, nothing after it has been written.
CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from liveuser import Channel, Conversation, Ledger, Pipeline, Registry, Settings
    from liveuser import TenantSettings, confirm
    from liveuser.actions import State
    from liveuser.actions.example_endpoint import PAUSE, pause_action_settings
    from liveuser.tokens import KeyRing, Purpose, mint_token

    async def main() -> None:
        path, key, url, kid, secret, email = sys.argv[1:7]
        settings = Settings(ledger=path, tenants={"default": TenantSettings(
            host_keys={kid: secret},
            actions={"enabled": [PAUSE], "http": [pause_action_settings(url)]},
        )})
        registry = Registry(settings, discover=False)
        ledger = Ledger(path, bytes.fromhex(key))
        pipeline = Pipeline(registry, ledger)
        token = mint_token(KeyRing({kid: secret}), tenant="default", purpose=Purpose.identity,
                           subject=email)
        conversation = Conversation(channel=Channel.host, conversation_id="chat-crash",
                                    claims={"token": token})
        result = await pipeline.call_tool_result(
            conversation, "m1", "c1", PAUSE, {"subscription": "SUB-1", "weeks": 2})
        sys.stdout.write(result.pending.confirmation_id + "\\n")
        sys.stdout.flush()
        store = pipeline.action_store
        real_move = store.move

        async def move(cid, old, new, detail=None):
            if old is State.executing:
                os.kill(os.getpid(), signal.SIGKILL)
            return await real_move(cid, old, new, detail)

        store.move = move
        await confirm(conversation, result.pending.confirmation_id, pipeline=pipeline)

    asyncio.run(main())
    """
)


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Starlette]]:
    app = create_action_endpoint()
    with serve(app) as url:
        yield url, app


async def test_sigkill_after_the_vendor_call_is_recovered_by_reading_back(
    tmp_path: Path, endpoint: tuple[str, Starlette]
) -> None:
    url, app = endpoint
    db = tmp_path / "ledger.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEUSER_")}
    child = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            CHILD,
            str(db),
            KEY.hex(),
            url,
            HOST_KEY,
            HOST_SECRET,
            ANN_EMAIL,
        ],
        env={**env, "PYTHONPATH": str(CORE)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    cid = child.stdout.strip()
    assert app.state.applied == [("SUB-1", 2)]  # executed once, outcome never written
    with sqlite3.connect(db) as conn:
        (state,) = conn.execute(
            "SELECT state FROM action_confirmations WHERE confirmation_id = ?", (cid,)
        ).fetchone()
    conn.close()
    assert state == "executing"

    settings = Settings(
        ledger=db,
        tenants={
            "default": TenantSettings(
                host_keys={HOST_KEY: HOST_SECRET},
                actions={"enabled": [PAUSE], "http": [pause_action_settings(url)]},
            )
        },
    )
    registry = Registry(settings, discover=False)
    async with Ledger(db, KEY) as ledger:
        pipeline = Pipeline(registry, ledger)
        again = await liveuser.confirm(
            host_conversation(ANN_EMAIL, "chat-crash"), cid, pipeline=pipeline
        )
        assert again.status == "refused"
        # Just killed: as far as this process can tell, a live worker may still hold it.
        assert await liveuser.recover(pipeline) == []
        stale = datetime.now(UTC) + timedelta(seconds=stale_after(registry.tenant().settings))
        pipeline.action_store.clock = lambda: stale
        results = await liveuser.recover(pipeline)
        assert [(r.status, r.confirmation_id) for r in results] == [("executed", cid)]
        assert await liveuser.recover(pipeline, older_than=0) == []
    await registry.aclose()
    assert app.state.applied == [("SUB-1", 2)]
    assert app.state.stages.count("execute") == 1  # recovery read back, never sent it again
