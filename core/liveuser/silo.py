"""The silo: the only handle through which a user's data moves.

A :class:`Silo` is opened for one tenant and one :class:`VerifiedUser` (never
anything less: a user without a verification record cannot exist, and a user
of another tenant is refused). Everything it fetches or caches is keyed by
(tenant, verified email, source), and the tenant travels inside it, so a
back-end, a renderer or a tool only ever sees the silo's own user.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .errors import BackendError, LiveuserError, SiloViolation
from .http import deadline, enforced_deadline, no_retries, remaining
from .models import ConversationKey, UserData, VerifiedUser
from .registry import Tenant, resolve
from .render import Budget, data_block, note
from .tools import NOT_FOUND, ToolCall

log = logging.getLogger("liveuser")


@dataclass
class Gathered:
    """What the back-ends answered for one user, and which ones did not."""

    data: list[UserData] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({d.source for d in self.data}))


class Silo:
    """One tenant's view of one verified user, for one conversation."""

    __slots__ = ("conversation", "tenant", "user")

    def __init__(self, tenant: Tenant, user: VerifiedUser, conversation: ConversationKey) -> None:
        if type(user) is not VerifiedUser:
            raise SiloViolation("a silo opens only for a VerifiedUser")
        if user.tenant != tenant.name or conversation.tenant != tenant.name:
            raise SiloViolation(f"user of tenant {user.tenant!r} offered to tenant {tenant.name!r}")
        self.tenant = tenant
        self.user = user
        self.conversation = conversation

    async def gather(self) -> Gathered:
        """Ask every back-end about the user, concurrently, under the tenant's deadline.

        Answers are cached per (tenant, user, source) for the tenant's TTL.
        A back-end that fails, times out or answers something that is not
        :class:`UserData` is left out and named in ``missing`` with the reason;
        this method itself does not raise for a back-end's fault.
        """
        settings = self.tenant.settings
        result = Gathered()
        caches, email, ttl = self.tenant.caches, self.user.email, settings.cache_ttl_seconds

        async def one(name: str, fn: Any) -> list[UserData] | str:
            try:  # the back-end's requests rely on this one timer
                async with enforced_deadline():
                    return await caches.data(email, name, ttl, lambda: self._fetch(name, fn))
            except TimeoutError:
                return f"no answer within {settings.deadline_seconds:g} s"

        backends = []
        for name, fn in self.tenant.hook_functions("fetch_user_data"):
            hit = caches.peek(email, name)  # in-process hits: no deadline, no await
            if hit is None:
                backends.append((name, fn))
            else:
                result.data.extend(hit)
        if not backends:
            return result
        with deadline(settings.deadline_seconds):
            if len(backends) == 1:  # the common case: no task to create
                answers = [await one(*backends[0])]
            else:
                answers = await asyncio.gather(*(one(name, fn) for name, fn in backends))
        for (name, _), answer in zip(backends, answers, strict=True):
            if isinstance(answer, str):
                result.missing[name] = answer
            else:
                result.data.extend(answer)
        return result

    async def _fetch(self, name: str, fn: Any) -> list[UserData] | str:
        """One back-end's answer as a list of UserData, or the reason it is missing."""
        # The deadline is kept by gather() around the caches and this fetch together.
        try:
            answer = await resolve(fn(user=self.user))
        except BackendError as exc:
            log.info("back-end %s left out for tenant %s: %s", name, self.tenant.name, exc.reason)
            return exc.reason
        except Exception as exc:
            log.warning("back-end %s failed for tenant %s", name, self.tenant.name, exc_info=True)
            return f"failed ({type(exc).__name__})"
        return _validated(name, answer)

    async def render(self, data: Sequence[UserData], budget: Budget) -> str:
        """The first renderer's answer that is not None and fits the budget.

        A plugin renderer that fails or overruns the budget is logged and
        passed over; the core's default renderer answers last and always fits.
        """
        for name, fn in self.tenant.hook_functions("render_context"):
            attempt = Budget(budget.chars)
            try:
                text = await resolve(fn(user=self.user, data=data, budget=attempt))
            except Exception:
                log.warning("renderer %s failed; passed over", name, exc_info=True)
                continue
            if text is None:
                continue
            if not isinstance(text, str) or len(text) > budget.chars:
                log.warning(
                    "renderer %s answered %s over budget; passed over", name, type(text).__name__
                )
                continue
            budget.trimmed.extend(attempt.trimmed)
            return text
        raise SiloViolation("no renderer answered")  # the default one always does

    async def run_tool(self, name: str, arguments: Any, *, limit: int | None = None) -> str:
        """Run a registered tool for this silo's user; every fault is returned as text.

        ``limit`` caps the result's size (the spending cap); a text result is
        cut and a data result rendered within it.
        """
        try:
            tools = await self.tenant.tools()
        except LiveuserError as exc:
            log.warning("tools unavailable for tenant %s: %s", self.tenant.name, exc)
            return "Tools are unavailable right now."
        tool = tools.get(name)
        if tool is None:
            return f"Unknown tool {note(name, 64)!r}."
        if not isinstance(arguments, Mapping):
            return f"Invalid arguments for {name}: expected an object."
        try:
            args = tool.parameters.model_validate(dict(arguments))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            return f"Invalid arguments for {name}: {note(where, 64)}: {note(first['msg'])}."
        budget = Budget(min(self.tenant.settings.budget_chars, limit or sys.maxsize))
        try:
            with deadline(self.tenant.settings.deadline_seconds), no_retries(tool.writes):
                async with asyncio.timeout(max(remaining(), 0)):
                    result = await tool.run(ToolCall(silo=self, arguments=args))
                if isinstance(result, UserData):
                    return await self.render([result], budget)
        except TimeoutError:
            return f"The {name} lookup did not answer in time; try again later."
        except BackendError as exc:
            return f"{name} is unavailable right now ({note(exc.reason)}); try again later."
        except LiveuserError as exc:
            return f"The {name} lookup failed: {note(str(exc))}."
        except Exception:
            log.warning("tool %s failed for tenant %s", name, self.tenant.name, exc_info=True)
            return f"The {name} lookup failed."
        if result is None:
            return NOT_FOUND
        if not isinstance(result, str):
            log.warning("tool %s answered %s", name, type(result).__name__)
            return f"The {name} lookup failed."
        block = data_block(tool.source or name, "tool", result)
        if len(block) > budget.chars:
            room = max(budget.chars - len(block) + len(result) - 12, 0)
            block = data_block(tool.source or name, "tool", result[:room] + " …[trimmed]")
        return block


def _validated(name: str, answer: Any) -> list[UserData] | str:
    items = [] if answer is None else [answer] if isinstance(answer, UserData) else answer
    if not isinstance(items, list | tuple) or not all(isinstance(d, UserData) for d in items):
        log.warning("back-end %s answered %s, not UserData", name, type(answer).__name__)
        return "answered something that is not user data"
    if any(d.source != name for d in items):
        return "answered data under another source's name"
    return list(items)
