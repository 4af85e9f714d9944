"""An agent loop with the official ``openai`` SDK and liveuser's tools.

Run it against OpenAI (``OPENAI_API_KEY``) or any OpenAI-compatible server
(``OPENAI_BASE_URL``), for a host conversation whose identity token the host
minted::

    python examples/openai_agent.py \\
        --token "$(liveuser token --subject ann@example.com)" "Where is my order?"
    python examples/openai_agent.py --api responses --token ... "Where is my order?"

The model sees the verified customer's context in its system prompt and may
call ``get_user_data`` and the plugins' tools; every call runs for that
customer only, whatever arguments the model sends.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from openai import AsyncOpenAI

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


async def chat_turn(client: AsyncOpenAI, binding: Binding, user_text: str, *, model: str) -> str:
    """One user message through Chat Completions, running tool calls until the answer."""
    messages: list[Any] = [
        {"role": "system", "content": f"{INSTRUCTIONS}\n\n{binding.system_prompt}"},
        {"role": "user", "content": user_text},
    ]
    for _ in range(MAX_ROUNDS):
        completion = await client.chat.completions.create(
            model=model, messages=messages, tools=binding.openai_chat_tools()
        )
        message = completion.choices[0].message
        if not message.tool_calls:
            return message.content or ""
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            messages.append(await binding.handle_openai_chat(call))
    return "Sorry, I could not finish looking that up."


async def responses_turn(
    client: AsyncOpenAI, binding: Binding, user_text: str, *, model: str
) -> str:
    """One user message through the Responses API, running tool calls until the answer."""
    items: list[Any] = [{"role": "user", "content": user_text}]
    for _ in range(MAX_ROUNDS):
        response = await client.responses.create(
            model=model,
            instructions=f"{INSTRUCTIONS}\n\n{binding.system_prompt}",
            input=items,
            tools=binding.openai_responses_tools(),
        )
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            return response.output_text
        items += [item.model_dump(exclude_none=True) for item in response.output]
        for call in calls:
            items.append(await binding.handle_openai_response(call))
    return "Sorry, I could not finish looking that up."


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", help="The customer's message.")
    parser.add_argument("--token", required=True, help="Host identity token (liveuser token).")
    parser.add_argument("--conversation-id", default=f"example-{uuid.uuid4()}")
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--model", default="gpt-4.1-mini")
    parser.add_argument("--api", choices=["chat", "responses"], default="chat")
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
        async with AsyncOpenAI() as client:
            turn = chat_turn if args.api == "chat" else responses_turn
            print(await turn(client, binding, args.message, model=args.model))
    finally:
        await registry.aclose()
        await ledger.aclose()


if __name__ == "__main__":
    asyncio.run(main())
