"""An agent loop with the official ``anthropic`` SDK and liveuser's tools.

Run it against Anthropic (``ANTHROPIC_API_KEY``) or any Anthropic-compatible
server (``ANTHROPIC_BASE_URL``), for a host conversation whose identity token
the host minted::

    python examples/anthropic_agent.py \\
        --token "$(liveuser token --subject ann@example.com)" "Where is my order?"

The model sees the verified customer's context in its system prompt and may
call ``get_user_data`` and the plugins' tools; every call runs for that
customer only, whatever arguments the model sends.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from anthropic import AsyncAnthropic

from liveuser import (
    Binding,
    Channel,
    Conversation,
    Ledger,
    Pipeline,
    Registry,
    bind,
    load_settings,
)

INSTRUCTIONS = (
    "You are a customer-support agent. Answer from the verified customer data below and the "
    "tools; never share or guess anything about anyone else."
)
MAX_ROUNDS = 5


async def messages_turn(
    client: AsyncAnthropic, binding: Binding, user_text: str, *, model: str
) -> str:
    """One user message through the Messages API, running tool calls until the answer."""
    messages: list[Any] = [{"role": "user", "content": user_text}]
    for _ in range(MAX_ROUNDS):
        reply = await client.messages.create(
            model=model,
            max_tokens=1024,
            system=f"{INSTRUCTIONS}\n\n{binding.system_prompt}",
            messages=messages,
            tools=binding.anthropic_tools(),
        )
        uses = [block for block in reply.content if block.type == "tool_use"]
        if not uses:
            return "".join(block.text for block in reply.content if block.type == "text")
        messages.append({"role": "assistant", "content": reply.content})
        messages.append(
            {"role": "user", "content": [await binding.handle_anthropic(use) for use in uses]}
        )
    return "Sorry, I could not finish looking that up."


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", help="The customer's message.")
    parser.add_argument("--token", required=True, help="Host identity token (liveuser token).")
    parser.add_argument("--conversation-id", default=f"example-{uuid.uuid4()}")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--model", default="claude-sonnet-4-5")
    args = parser.parse_args()

    settings = load_settings()
    registry, ledger = Registry(settings), Ledger.from_settings(settings)
    conversation = Conversation(
        tenant=args.tenant,
        channel=Channel.host,
        conversation_id=args.conversation_id,
        claims={"token": args.token},
    )
    try:
        pipeline = Pipeline(registry, ledger)
        binding = await bind(conversation, pipeline=pipeline, message_id=f"m-{uuid.uuid4()}")
        async with AsyncAnthropic() as client:
            print(await messages_turn(client, binding, args.message, model=args.model))
    finally:
        await registry.aclose()
        await ledger.aclose()


if __name__ == "__main__":
    asyncio.run(main())
