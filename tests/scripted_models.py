"""Scripted model servers: OpenAI-compatible and Anthropic-compatible, for the real SDKs.

Each server answers the first request of a conversation (no tool results yet)
by asking for the scripted tool calls, and any later request with a final
text that quotes every tool result it received, so a test can read what the
model was given. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ScriptedCall = tuple[str, dict[str, Any]]
"""A tool call the model asks for: (tool name, arguments)."""


@dataclass
class ScriptedModel:
    """The script and what the model server received."""

    calls: list[ScriptedCall]
    requests: list[dict[str, Any]] = field(default_factory=list)
    raw_arguments: dict[int, str] = field(default_factory=dict)
    """Per call index, arguments to send verbatim instead of JSON-encoding them."""

    def arguments(self, index: int) -> str:
        return self.raw_arguments.get(index) or json.dumps(self.calls[index][1])


def _final_text(results: list[str]) -> str:
    return "Here is what I found:\n" + "\n---\n".join(results)


def _chat_results(body: dict[str, Any]) -> list[str]:
    return [str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "tool"]


def _responses_results(body: dict[str, Any]) -> list[str]:
    items = body.get("input")
    if not isinstance(items, list):
        return []
    return [
        str(i.get("output"))
        for i in items
        if isinstance(i, dict) and i.get("type") == "function_call_output"
    ]


def _anthropic_results(body: dict[str, Any]) -> list[str]:
    found = []
    for message in body.get("messages", []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            found += [str(b.get("content")) for b in content if b.get("type") == "tool_result"]
    return found


def openai_app(script: ScriptedModel) -> Starlette:
    """Chat Completions (``/v1/chat/completions``) and Responses (``/v1/responses``)."""

    async def chat(request: Request) -> JSONResponse:
        body = await request.json()
        script.requests.append(body)
        n = len(script.requests)
        results = _chat_results(body)
        if results:
            message: dict[str, Any] = {"role": "assistant", "content": _final_text(results)}
            finish = "stop"
        else:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{n}_{i}",
                        "type": "function",
                        "function": {"name": name, "arguments": script.arguments(i)},
                    }
                    for i, (name, _) in enumerate(script.calls)
                ],
            }
            finish = "tool_calls"
        return JSONResponse(
            {
                "id": f"chatcmpl-{n}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def responses(request: Request) -> JSONResponse:
        body = await request.json()
        script.requests.append(body)
        n = len(script.requests)
        results = _responses_results(body)
        if results:
            output: list[dict[str, Any]] = [
                {
                    "type": "message",
                    "id": f"msg_{n}",
                    "role": "assistant",
                    "status": "completed",
                    "content": [
                        {"type": "output_text", "text": _final_text(results), "annotations": []}
                    ],
                }
            ]
        else:
            output = [
                {
                    "type": "function_call",
                    "id": f"fc_{n}_{i}",
                    "call_id": f"call_{n}_{i}",
                    "name": name,
                    "arguments": script.arguments(i),
                    "status": "completed",
                }
                for i, (name, _) in enumerate(script.calls)
            ]
        return JSONResponse(
            {
                "id": f"resp_{n}",
                "object": "response",
                "created_at": 0,
                "model": body.get("model", "scripted"),
                "status": "completed",
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        )

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
        ]
    )


def anthropic_app(script: ScriptedModel) -> Starlette:
    """Messages (``/v1/messages``)."""

    async def messages(request: Request) -> JSONResponse:
        body = await request.json()
        script.requests.append(body)
        n = len(script.requests)
        results = _anthropic_results(body)
        if results:
            content: list[dict[str, Any]] = [{"type": "text", "text": _final_text(results)}]
            stop = "end_turn"
        else:
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{n}_{i}",
                    "name": name,
                    "input": arguments,
                }
                for i, (name, arguments) in enumerate(script.calls)
            ]
            stop = "tool_use"
        return JSONResponse(
            {
                "id": f"msg_{n}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "scripted"),
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            }
        )

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])
