"""The README's "Using it" example runs as written, against the sandbox."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from liveuser import Ledger, load_settings
from liveuser.sandbox import ANN_EMAIL, SANDBOX_API_KEY

from .conftest import HOST_KEY, HOST_SECRET, host_token

README = Path(__file__).resolve().parent.parent / "README.md"


def _using_it() -> str:
    """The first Python block under the README's "## Using it"."""
    section = README.read_text(encoding="utf-8").split("\n## Using it\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "no Python example under ## Using it"
    return found.group(1)


async def test_the_using_it_example_runs_and_the_cli_reads_its_ledger(
    sandbox: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = sandbox
    (tmp_path / "liveuser.toml").write_text(
        textwrap.dedent(
            f"""
            ledger = "liveuser-ledger.sqlite3"

            [tenants.default.host_keys]
            {HOST_KEY} = "{HOST_SECRET}"

            [tenants.default.plugins.user_data_api]
            url = "{url}"
            api_key = "{SANDBOX_API_KEY}"
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {
        "identity_token_from_your_app": host_token(ANN_EMAIL),
        "base_prompt": "You are the shop's support agent.",
    }
    body = textwrap.indent(_using_it() + "return locals()\n", "    ")
    exec(f"async def example():\n{body}", namespace)
    done = await namespace["example"]()

    context = done["context"]
    assert context.verified and context.sources == ("user_data_api",), context
    assert done["system_prompt"].startswith("You are the shop's support agent.\n\n")
    assert "Order" in done["system_prompt"] or "order" in done["system_prompt"]
    await done["pipeline"].registry.aclose()
    await done["pipeline"].ledger.aclose()

    # What `liveuser usage` and `audit` open: the same file, under the same key.
    ledger = Ledger.from_settings(load_settings())
    try:
        assert [row.deliveries for row in await ledger.usage()] == [1]
        assert [row.conversation_id for row in await ledger.audit(ANN_EMAIL)] == ["chat-42"]
    finally:
        await ledger.aclose()
    assert (tmp_path / "liveuser-ledger.sqlite3.key").exists()
