"""The generic HTTP action back-end: actions served by the business's own endpoint.

The action counterpart of the User Data API, configured per tenant::

    [[tenants.default.actions.http]]
    name = "pause_subscription"
    description = "Pause the customer's subscription for some weeks."
    url = "https://api.example.com/liveuser/actions"
    api_key = "…"                      # sent in header_name
    header_name = "Authorization"
    [tenants.default.actions.http.parameters]   # JSON Schema of the arguments
    type = "object"
    required = ["weeks"]
    additionalProperties = false
    properties = { weeks = { type = "integer", minimum = 1, maximum = 8 } }

The contract (every request carries ``header_name: api_key``):

* **Propose** — ``POST url`` ``{"stage": "propose", "action", "identifier",
  "arguments"}``: nothing changes. ``200 {"summary": "<what will change, in
  plain words>", "state"?: "<record state>", "amount"?: "<money moved>"}``;
  ``404`` when there is no such record *for this identifier* (someone else's
  record answers 404 too); ``409``/``422 {"error": "<reason>"}`` when the
  action is not possible, with the reason.
* **Execute** — ``POST url`` ``{"stage": "execute", ...}`` with header
  ``Idempotency-Key``: the endpoint must perform the change at most once per
  key and refuse a record that is not the identifier's. ``200 {"status":
  "done"}``, or ``409``/``422 {"error"}`` when it refuses (nothing changed).
* **Status** — ``GET url?action=<name>&idempotency_key=<key>``: ``200
  {"status": "done" | "failed" | "pending", "detail"?: "<sentence>"}``, or
  ``404`` when that key never executed. liveuser reads it after every
  execution and, after a crash, instead of executing again.

The identifier is the verified user's email; the arguments are checked
against ``parameters`` (JSON Schema, needs ``pip install 'liveuser[actions]'``)
before anything is sent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from ..errors import BackendResponseError, BackendStatusError, ConfigError
from ..hookspecs import hookimpl
from ..http import HttpAnswer
from ..plugin import NoSettings, Plugin
from ..render import note
from ..tools import Tool, ToolCall
from .model import Action, ActionRun, Outcome, Plan
from .policy import HttpActionSettings

MAX_SUMMARY = 2000


def _validator(schema: dict[str, Any]) -> Any:
    try:
        import jsonschema  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - the extra is installed with the tests
        raise ConfigError(
            "HTTP actions check their arguments with jsonschema: pip install 'liveuser[actions]'"
        ) from None
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(f"HTTP action parameters are not a JSON schema: {exc.message}") from None
    return cls(schema)


def arguments_model(config: HttpActionSettings) -> type[BaseModel]:
    """A pydantic model whose JSON schema is the configured one and that validates by it."""
    schema = dict(config.parameters)
    validator = _validator(schema)

    class Arguments(BaseModel):
        model_config = ConfigDict(extra="allow")

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            return schema

        @model_validator(mode="before")
        @classmethod
        def _by_schema(cls, data: Any) -> Any:
            error = next(iter(validator.iter_errors(data)), None)
            if error is not None:
                where = ".".join(str(p) for p in error.absolute_path)
                raise ValueError(f"{where}: {error.message}" if where else error.message)
            return data

    Arguments.__name__ = f"{config.name}_arguments"
    return Arguments


def _json(answer: HttpAnswer, source: str) -> dict[str, Any]:
    body = answer.json()
    if not isinstance(body, dict):
        raise BackendResponseError(source, "answered JSON that is not an object")
    return body


def _reason(answer: HttpAnswer, source: str) -> str:
    try:
        error = _json(answer, source).get("error")
    except Exception:
        error = None
    return note(error, 300) if isinstance(error, str) and error else f"HTTP {answer.status}"


class HttpActions(Plugin[NoSettings]):
    """Registers the tenant's configured HTTP actions (``[[tenants.x.actions.http]]``)."""

    name: ClassVar[str] = "http_actions"

    def __init__(self, configured: list[HttpActionSettings]) -> None:
        super().__init__()
        self.configured = list(configured)

    @hookimpl
    def register_tools(self) -> list[Tool]:
        return [self._action(config) for config in self.configured]

    def _headers(self, config: HttpActionSettings, key: str | None = None) -> dict[str, str]:
        headers = {config.header_name: config.api_key.get_secret_value()}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def _action(self, config: HttpActionSettings) -> Action:
        source = config.name

        async def prepare(call: ToolCall) -> Plan | str | None:
            arguments = call.arguments.model_dump(mode="json")
            answer = await self.http.request(
                source,
                "POST",
                str(config.url),
                json={
                    "stage": "propose",
                    "action": config.name,
                    "identifier": call.user.email,
                    "arguments": arguments,
                },
                headers=self._headers(config),
                max_bytes=self.runtime.max_response_bytes,
                read=True,  # a proposal changes nothing
            )
            if answer.status == 404:
                return None
            if answer.status in (409, 422):
                return f"The action {config.name} is not possible: {_reason(answer, source)}."
            if answer.status != 200:
                raise BackendStatusError(source, f"answered HTTP {answer.status}", answer.status)
            body = _json(answer, source)
            summary = body.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                raise BackendResponseError(source, "answered without a summary")
            if len(summary) > MAX_SUMMARY:
                raise BackendResponseError(source, "answered a summary over 2000 characters")
            amount: Decimal | None = None
            if body.get("amount") is not None:
                try:
                    amount = Decimal(str(body["amount"]))
                except InvalidOperation:
                    raise BackendResponseError(
                        source, "answered an amount that is not a number"
                    ) from None
            state = body.get("state")
            return Plan(
                summary=summary.strip(),
                target={"arguments": arguments},
                state=str(state) if isinstance(state, str | int) else "",
                amount=amount,
            )

        async def execute(run: ActionRun) -> Outcome:
            if run.user is None:  # never: only read_back runs without a confirming customer
                return Outcome(False, "no verified customer confirmed it")
            answer = await self.http.request(
                source,
                "POST",
                str(config.url),
                json={
                    "stage": "execute",
                    "action": config.name,
                    "identifier": run.user.email,
                    "arguments": run.target["arguments"],
                },
                headers=self._headers(config, run.idempotency_key),
                max_bytes=self.runtime.max_response_bytes,
                read=False,
            )
            if answer.status in (404, 409, 422):
                return Outcome(False, f"{config.name} was refused: {_reason(answer, source)}")
            if answer.status not in (200, 201):
                raise BackendStatusError(source, f"answered HTTP {answer.status}", answer.status)
            return Outcome(True, "sent")

        async def read_back(run: ActionRun) -> Outcome:
            answer = await self.http.request(
                source,
                "GET",
                str(config.url),
                params={"action": config.name, "idempotency_key": run.idempotency_key},
                headers=self._headers(config, run.idempotency_key),
                max_bytes=self.runtime.max_response_bytes,
            )
            if answer.status == 404:
                return Outcome(False, "the business has no record of it")
            if answer.status != 200:
                raise BackendStatusError(source, f"answered HTTP {answer.status}", answer.status)
            body = _json(answer, source)
            detail = body.get("detail")
            text = note(detail, 300) if isinstance(detail, str) and detail else None
            if body.get("status") == "done":
                return Outcome(True, text or f"{config.name} is done.")
            if body.get("status") == "failed":
                return Outcome(False, text or f"{config.name} failed")
            raise BackendResponseError(source, "has not finished it yet")

        return Action.create(
            name=config.name,
            description=config.description,
            parameters=arguments_model(config),
            prepare=prepare,
            execute=execute,
            read_back=read_back,
            accepts=tuple(config.states),
        )
