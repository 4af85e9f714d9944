"""The ``liveuser`` command line.

Every command is a thin sync wrapper over the async API. Expected errors
(bad config, unknown tenant or channel, a bad token, a ledger problem) print
one line on stderr and exit with status 2; ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from decimal import Decimal
from functools import wraps
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .actions.model import Confirmation
from .errors import ConfigError, LiveuserError
from .metering import Ledger
from .models import (
    Channel,
    Conversation,
    ConversationKey,
    Mechanism,
    VerificationRecord,
    VerifiedUser,
)
from .pipeline import Pipeline
from .plugin import Plugin, hook_names, plugin_version
from .registry import Registry
from .settings import DEFAULT_TENANT, Settings, load_settings
from .silo import Silo

app = typer.Typer(
    help="Live, verified user data for AI support agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"verbose": False}

T = TypeVar("T")
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", markup=True)
    raise typer.Exit(2)


def command(fn: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async command; expected errors become one line and exit status 2."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            asyncio.run(fn(*args, **kwargs))
        except LiveuserError as exc:
            if _state["verbose"]:
                raise
            _fail(str(exc))
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return run


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks and logs.")] = False,
) -> None:
    _state["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.ERROR, format="%(levelname)s %(message)s"
    )


def open_ledger(settings: Settings) -> Ledger:
    """The ledger the settings name, with its key: :meth:`Ledger.from_settings`."""
    return Ledger.from_settings(settings)


def _add_row(table: Table, *cells: str) -> None:
    """Add data to a table as plain text: data is never read as rich markup."""
    table.add_row(*(Text(cell) for cell in cells))


def _channel(value: str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        _fail(f"unknown channel {value!r}; one of: {names}")
        raise  # pragma: no cover - _fail exits


@app.command()
@command
async def plugins(tenant: TenantOpt = DEFAULT_TENANT, as_json: JsonOpt = False) -> None:
    """List the installed plugins and whether the tenant loads each one.

    Each row: name, version, channels, hooks, and status: loaded, not configured or disabled.
    """
    registry = Registry(load_settings())
    try:
        t = registry.tenant(tenant)
        rows: list[dict[str, Any]] = [
            _plugin_row(
                plugin, sorted(h.name for h in t.pm.get_hookcallers(plugin) or []), "loaded"
            )
            for plugin in t.plugins.values()
        ]
        for cls in registry.plugin_classes():
            if cls.name not in t.plugins:
                status = "disabled" if cls.name in t.settings.disabled_plugins else "not configured"
                rows.append(_plugin_row(cls, hook_names(cls), status))
    finally:
        await registry.aclose()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("plugin", "version", "channels", "hooks", "status")
    for row in rows:
        _add_row(
            table,
            row["name"],
            row["version"],
            ", ".join(row["channels"]),
            ", ".join(row["hooks"]),
            row["status"],
        )
    out.print(table)


def _plugin_row(
    plugin: Plugin[Any] | type[Plugin[Any]], hooks: list[str], status: str
) -> dict[str, Any]:
    return {
        "name": plugin.name,
        "version": plugin_version(plugin),
        "channels": sorted(c.value for c in plugin.channels),
        "hooks": hooks,
        "status": status,
    }


@app.command()
@command
async def context(
    channel: Annotated[str, typer.Option(help="Conversation channel, e.g. host.")],
    conversation_id: Annotated[str, typer.Option(help="The vendor's conversation id.")],
    message_id: Annotated[str, typer.Option(help="The message being answered.")] = "",
    token: Annotated[str, typer.Option(help="Host identity token (channel host).")] = "",
    attestation: Annotated[str, typer.Option(help="Host attestation token.")] = "",
    payload: Annotated[str, typer.Option(help="The vendor payload, as JSON.")] = "{}",
    tenant: TenantOpt = DEFAULT_TENANT,
    as_json: JsonOpt = False,
) -> None:
    """Build, meter and print the context for one message of a conversation."""
    try:
        body = json.loads(payload)
    except ValueError:
        _fail("--payload is not valid JSON")
    if not isinstance(body, dict):
        _fail("--payload must be a JSON object")
    claims = {k: v for k, v in (("token", token), ("attestation", attestation)) if v}
    conversation = Conversation(
        tenant=tenant,
        channel=_channel(channel),
        conversation_id=conversation_id,
        payload=body,
        claims=claims,
    )
    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    try:
        ctx = await Pipeline(registry, ledger).context_for(
            conversation, message_id or f"cli-{uuid.uuid4()}"
        )
    finally:
        await registry.aclose()
        await ledger.aclose()
    if as_json:
        out.print_json(ctx.model_dump_json())
    else:
        out.print(ctx.text, markup=False)
        err.print(_verdict(ctx.chars, ctx.charged, ctx.amount), markup=False)


def _verdict(chars: int, charged: bool, amount: Decimal) -> str:
    return f"{chars} characters: " + (f"charged as a tool, ${amount}" if charged else "free")


@app.command()
@command
async def check(
    identifier: Annotated[str, typer.Option(help="Email of the user to look up.")],
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Test the back-ends for one user, as an operator: status, latency, size, context.

    An operator check is the only verification the CLI makes itself.
    The audit trail records it under the channel "host" and the mechanism "operator".
    The HTTP service, MCP server and tools never make one; a connector claiming one is refused.
    """
    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    try:
        t = registry.tenant(tenant)
        try:
            user = VerifiedUser(
                tenant=tenant,
                email=identifier,
                channel=Channel.host,
                record=VerificationRecord(
                    vendor="cli",
                    mechanism=Mechanism.operator,
                    evidence="operator check from the liveuser CLI",
                ),
            )
        except ValueError:
            raise ConfigError(f"--identifier is not an email address: {identifier!r}") from None
        key = ConversationKey(
            tenant=tenant, channel=Channel.host, conversation_id=f"operator-check-{uuid.uuid4()}"
        )
        started = time.perf_counter()
        ctx = await Pipeline(registry, ledger).context_in(Silo(t, user, key), "check")
        latency = time.perf_counter() - started
    finally:
        await registry.aclose()
        await ledger.aclose()
    table = Table("source", "status")
    for source in ctx.sources:
        table.add_row(escape(source), "[green]ok[/green]")
    for source, reason in ctx.missing.items():
        table.add_row(escape(source), f"[red]missing[/red]: {escape(reason)}")
    if not ctx.sources and not ctx.missing:
        table.add_row("(none)", "no back-end is configured or none knows this user")
    out.print(table)
    out.print(f"latency {latency * 1000:.0f} ms; {_verdict(ctx.chars, ctx.charged, ctx.amount)}")
    out.print(ctx.text, markup=False)


@app.command()
@command
async def usage(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Totals per tenant and day: deliveries, messages, charged messages, amount."""
    ledger = open_ledger(load_settings())
    try:
        rows = await ledger.usage(tenant)
    finally:
        await ledger.aclose()
    if as_json:
        out.print_json(json.dumps([_jsonable(r) for r in rows], default=str))
        return
    table = Table("tenant", "day", "deliveries", "messages", "charged", "chars", "amount")
    for r in rows:
        _add_row(
            table,
            r.tenant,
            str(r.day),
            str(r.deliveries),
            str(r.messages),
            str(r.charged_messages),
            str(r.chars),
            f"${r.amount}",
        )
    out.print(table)


def _jsonable(row: Any) -> dict[str, Any]:
    if hasattr(row, "model_dump"):
        return dict(row.model_dump(mode="json"))
    from dataclasses import asdict

    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(row).items()}


@app.command()
@command
async def audit(
    identifier: Annotated[str, typer.Option(help="The person's email.")],
    as_json: JsonOpt = False,
    actions: Annotated[
        bool,
        typer.Option(
            "--actions",
            help='With --json: print {"deliveries": [...], "actions": [...]} instead of the '
            "list of deliveries (the table always shows both).",
        ),
    ] = False,
) -> None:
    """Every conversation that received this person's data, and their actions.

    Deliveries: when, from where, how much.
    Actions: when, where, which, and their state; never their summary, arguments or outcome.
    """
    from .actions.store import ActionStore

    ledger = open_ledger(load_settings())
    store = ActionStore.beside(ledger)
    try:
        rows = await ledger.audit(identifier)
        records = await store.for_identity(ledger.identity_hash(identifier))
    finally:
        store.close()
        await ledger.aclose()
    deliveries = [_jsonable(r) for r in rows]
    if as_json and actions:
        body: Any = {"deliveries": deliveries, "actions": [_audited(r) for r in records]}
        out.print_json(json.dumps(body, default=str))
        return
    if as_json:
        out.print_json(json.dumps(deliveries, default=str))
        return
    table = Table(
        "when", "tenant", "channel", "conversation", "message", "tool call", "sources", "chars"
    )
    for r in rows:
        _add_row(
            table,
            str(r.recorded_at),
            r.tenant,
            r.channel,
            r.conversation_id,
            r.message_id,
            r.tool_call_id,
            ", ".join(r.sources),
            str(r.chars),
        )
    out.print(table)
    out.print(f"{len(rows)} deliveries")
    acted = Table("when", "tenant", "channel", "conversation", "action", "state", "last change")
    for a in records:
        _add_row(
            acted,
            str(a.created_at),
            a.tenant,
            a.channel,
            a.conversation_id,
            a.action,
            a.state.value,
            str(a.updated_at),
        )
    out.print(acted)
    out.print(f"{len(records)} actions")


def _audited(record: Confirmation) -> dict[str, Any]:
    """An action record as the audit shows it: where and what, never its arguments,
    summary, target or outcome, which may hold more personal data (an address, an
    order's contents) than the audit of deliveries shows."""
    return {
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "tenant": record.tenant,
        "channel": record.channel,
        "conversation_id": record.conversation_id,
        "action": record.action,
        "state": record.state.value,
        "confirmation_id": record.confirmation_id,
    }


@app.command()
@command
async def forget(identifier: Annotated[str, typer.Option(help="The person's email.")]) -> None:
    """Erase a person from the ledger's audit trail and caches (billing totals stay)."""
    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    try:
        erased = await Pipeline(registry, ledger).forget(identifier)
    finally:
        await registry.aclose()
        await ledger.aclose()
    out.print(f"erased {erased} records of that person")


@app.command()
def token(
    subject: Annotated[str, typer.Option(help="The user's email.")],
    purpose: Annotated[
        str, typer.Option(help="identity, attestation or mcp_session.")
    ] = "identity",
    ttl: Annotated[float, typer.Option(help="Lifetime in seconds.")] = 300,
    channel: Annotated[
        str | None, typer.Option(help="attestation or mcp_session: the conversation's channel.")
    ] = None,
    conversation_id: Annotated[
        str | None, typer.Option(help="attestation or mcp_session: the conversation id.")
    ] = None,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Mint a host token for testing, signed with the tenant's active host key."""
    from .tokens import KeyRing, Purpose, mint_token

    try:
        settings = load_settings()
        t = settings.tenants.get(tenant)
        if t is None:
            raise ConfigError(f"unknown tenant {tenant!r}")
        if not t.host_keys:
            raise ConfigError(f"tenant {tenant} has no host_keys configured")
        try:
            kind = Purpose(purpose)
        except ValueError:
            raise ConfigError(f"unknown purpose {purpose!r}") from None
        print(
            mint_token(
                KeyRing(t.host_keys),
                tenant=tenant,
                purpose=kind,
                subject=subject,
                ttl=ttl,
                channel=_channel(channel) if channel else None,
                conversation_id=conversation_id,
            )
        )
    except (LiveuserError, ValueError) as exc:
        if _state["verbose"]:
            raise
        _fail(str(exc).splitlines()[0])


@app.command()
@command
async def mcp(
    transport: Annotated[str, typer.Option(help="stdio (one conversation) or http.")] = "stdio",
    channel: Annotated[str, typer.Option(help="stdio: the conversation's channel.")] = "host",
    conversation_id: Annotated[str, typer.Option(help="stdio: the conversation.")] = "",
    token: Annotated[
        str, typer.Option(help="stdio: host identity token.", envvar="LIVEUSER_MCP_TOKEN")
    ] = "",
    attestation: Annotated[
        str,
        typer.Option(help="stdio: host attestation token.", envvar="LIVEUSER_MCP_ATTESTATION"),
    ] = "",
    payload: Annotated[str, typer.Option(help="stdio: the vendor payload, as JSON.")] = "{}",
    message_id: Annotated[
        str, typer.Option(help="stdio: message id tool results meter under.")
    ] = "",
    host: Annotated[str, typer.Option(help="http: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: port to listen on.")] = 8000,
    tenant: TenantOpt = DEFAULT_TENANT,
) -> None:
    """Serve liveuser's tools over MCP, on stdio or streamable HTTP.

    stdio: one conversation. http: each call's conversation comes from its mcp_session token.
    """
    try:
        from .mcp_server import serve_http, serve_stdio
    except ImportError:
        raise ConfigError("liveuser mcp needs the mcp extra: pip install 'liveuser[mcp]'") from None
    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport must be stdio or http, not {transport!r}")
    if transport == "stdio" and not conversation_id:
        raise ConfigError("--conversation-id is required with --transport stdio")
    try:
        body = json.loads(payload)
    except ValueError:
        raise ConfigError("--payload is not valid JSON") from None
    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    pipeline = Pipeline(registry, ledger)
    try:
        if transport == "http":
            await serve_http(pipeline, tenant, host, port)
        else:
            claims = {k: v for k, v in (("token", token), ("attestation", attestation)) if v}
            conversation = Conversation(
                tenant=tenant,
                channel=_channel(channel),
                conversation_id=conversation_id,
                payload=body if isinstance(body, dict) else {},
                claims=claims,
            )
            await serve_stdio(pipeline, conversation, message_id or f"mcp-{uuid.uuid4()}")
    finally:
        await registry.aclose()
        await ledger.aclose()


actions_app = typer.Typer(
    help="Actions the customer confirms: their records in the ledger's database.",
    no_args_is_help=True,
)
app.add_typer(actions_app, name="actions")


@actions_app.command("recover")
@command
async def actions_recover(as_json: JsonOpt = False) -> None:
    """Settle the action records a crash left in flight, by reading them back.

    Never executes again.
    It touches only records in flight longer than any live worker holds one: safe beside serve.
    """
    from .actions.protocol import recover

    settings = load_settings()
    registry, ledger = Registry(settings), open_ledger(settings)
    pipeline = Pipeline(registry, ledger)
    try:
        settled = await recover(pipeline)
        records = [await pipeline.action_store.get(r.confirmation_id) for r in settled]
        left = len(await pipeline.action_store.in_flight())
    finally:
        pipeline.action_store.close()
        await registry.aclose()
        await ledger.aclose()
    rows = [
        {
            **(_audited(record) if record else {}),
            "confirmation_id": r.confirmation_id,
            "state": r.status,
        }
        for r, record in zip(settled, records, strict=True)
    ]
    if as_json:
        out.print_json(json.dumps({"settled": rows, "in_flight": left}, default=str))
        return
    table = Table("confirmation", "tenant", "conversation", "action", "settled as")
    for row in rows:
        _add_row(
            table,
            row["confirmation_id"],
            row.get("tenant", ""),
            row.get("conversation_id", ""),
            row.get("action", ""),
            row["state"],
        )
    out.print(table)
    out.print(f"{len(rows)} settled; {left} still in flight (too recent, or not readable now)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn).")] = 1,
) -> None:
    """Serve POST /v1/context, /v1/tool and /v1/confirm, GET /healthz and /metrics, and the
    plugins' webhooks over HTTP."""
    try:
        settings = load_settings()
        if not any(t.api_keys for t in settings.tenants.values()):
            raise ConfigError("liveuser serve: no tenant has api_keys; callers could not sign in")
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {workers}")
        if not 0 < port < 65536:
            raise ConfigError(f"--port must be between 1 and 65535, not {port}")
        from .serve import create_app

        async def dry_run() -> None:  # every tenant and plugin builds, or the error shows here
            registry, ledger = Registry(settings), open_ledger(settings)
            try:
                create_app(settings, registry=registry, ledger=ledger)
            finally:
                await registry.aclose()
                await ledger.aclose()

        asyncio.run(dry_run())
    except LiveuserError as exc:
        _fail(str(exc))
    import tempfile

    import uvicorn

    # Each worker logs the action records it settles after a crash (liveuser.serve).
    logging.getLogger("liveuser.recovery").setLevel(logging.WARNING)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # One /metrics across the workers: prometheus_client's multiprocess mode.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="liveuser-metrics-")
    uvicorn.run(
        "liveuser.serve:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="debug" if _state["verbose"] else "warning",
    )


@app.command()
def demo() -> None:
    """Start the embedded sandbox and walk through conversations, step by step."""
    from .demo import run_demo

    try:
        asyncio.run(run_demo(out))
    except LiveuserError as exc:
        _fail(str(exc))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except Exception as exc:  # the last guard: never a traceback for a CLI user
        if _state["verbose"]:
            raise
        err.print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], markup=False)
        sys.exit(1)
