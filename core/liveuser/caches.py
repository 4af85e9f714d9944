"""Where a tenant keeps fetched data and verifications: in this process, or in Redis.

Both caches are per tenant and expire entries after the tenant's TTL:

* **data**, per (verified email, back-end): :meth:`Caches.data` answers from
  the cache or runs the fetch, and only one fetch of a key runs at a time
  (*single flight*): in-process with an asyncio lock per key; on Redis with a
  short ``SET NX`` lock, so a user's data is fetched once across every
  worker sharing the Redis, and the others wait for the answer (never past
  their deadline). A failed fetch is not cached.
* **verifications**, per conversation and the digest of the credentials and
  vendor record presented (see :mod:`liveuser.registry`). Forgetting one
  (a webhook said the conversation changed) drops it for every worker.

:class:`InProcessCaches` is the default; :class:`RedisCaches` (extra
``liveuser[redis]``, ``redis_url`` in the settings) is for several workers.
Redis keys are ``liveuser:<kind>:<tenant>:…``; emails appear in them only as
SHA-256 digests. A Redis that fails is logged and treated as a miss: the turn
is answered from the back-ends, never refused for the cache's sake.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from pydantic import ConfigDict, TypeAdapter, ValidationError

from .models import ConversationKey, UserData, VerifiedUser

__all__ = ["Caches", "InProcessCaches", "RedisCaches", "TTLCache", "VerificationKey"]

log = logging.getLogger("liveuser")

VerificationKey = tuple[ConversationKey, str]
"""A conversation and the digest of what was presented to verify it."""

Fetch = Callable[[], Awaitable[list[UserData] | str]]
"""A back-end's answer for one user, or the reason it is missing (not cached)."""

_DATA = TypeAdapter(list[UserData], config=ConfigDict(defer_build=True))  # built on first use


class TTLCache:
    """A small dict with per-entry expiry (monotonic clock) and a size bound."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._data: dict[Any, tuple[float, Any]] = {}
        self._max = max_entries

    def get(self, key: Any) -> Any | None:
        hit = self._data.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            self._data.pop(key, None)
            return None
        return hit[1]

    def put(self, key: Any, value: Any, ttl: float) -> None:
        if ttl <= 0:
            return
        self._data.pop(key, None)
        while len(self._data) >= self._max:  # oldest first: insertion order
            del self._data[next(iter(self._data))]
        self._data[key] = (time.monotonic() + ttl, value)

    def drop(self, match: Callable[[Any, Any], bool]) -> int:
        """Remove every entry for which ``match(key, value)`` is true."""
        keys = [k for k, (_, v) in self._data.items() if match(k, v)]
        for k in keys:
            del self._data[k]
        return len(keys)


class Caches(Protocol):
    """One tenant's data and verification caches."""

    def peek(self, email: str, source: str) -> list[UserData] | None:
        """This process's cached answer, without waiting (None: ask :meth:`data`)."""
        ...

    async def data(self, email: str, source: str, ttl: float, fetch: Fetch) -> list[UserData] | str:
        """The cached answer of ``source`` for ``email``, or ``fetch()``'s (cached if data)."""
        ...

    async def verification(self, key: VerificationKey) -> VerifiedUser | None: ...

    async def remember_verification(
        self, key: VerificationKey, user: VerifiedUser, ttl: float
    ) -> None: ...

    def forget_verification(self, conversation: ConversationKey) -> None:
        """Drop every verification of ``conversation`` (callable from sync webhook code)."""
        ...

    async def forget_identity(self, email: str) -> int:
        """Drop every datum and verification of ``email``; how many entries."""
        ...


class InProcessCaches:
    """The default: two :class:`TTLCache` of this process, one fetch per key at a time."""

    def __init__(self, data: TTLCache, verifications: TTLCache) -> None:
        self._data = data
        self._verifications = verifications
        self._flights: dict[tuple[str, str], asyncio.Lock] = {}

    def peek(self, email: str, source: str) -> list[UserData] | None:
        cached = self._data.get((email, source))
        return None if cached is None else list(cached)

    async def data(self, email: str, source: str, ttl: float, fetch: Fetch) -> list[UserData] | str:
        key = (email, source)
        cached = self._data.get(key)
        if cached is not None:
            return list(cached)
        if ttl <= 0:
            return await fetch()
        lock = self._flights.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self._data.get(key)
                if cached is not None:
                    return list(cached)
                answer = await fetch()
                if not isinstance(answer, str):
                    self._data.put(key, answer, ttl)
                return answer
        finally:
            if not lock.locked() and self._flights.get(key) is lock:
                del self._flights[key]

    async def verification(self, key: VerificationKey) -> VerifiedUser | None:
        found = self._verifications.get(key)
        return found if isinstance(found, VerifiedUser) else None

    async def remember_verification(
        self, key: VerificationKey, user: VerifiedUser, ttl: float
    ) -> None:
        self._verifications.put(key, user, ttl)

    def forget_verification(self, conversation: ConversationKey) -> None:
        self._verifications.drop(lambda k, _: k[0] == conversation)

    async def forget_identity(self, email: str) -> int:
        dropped = self._data.drop(lambda k, _: k[0] == email)
        dropped += self._verifications.drop(lambda _, user: user.email == email)
        return dropped


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class RedisCaches:
    """One tenant's caches in Redis, shared by every worker that uses the same Redis.

    ``client`` is a ``redis.asyncio.Redis``. ``lock_seconds`` bounds how long
    one worker may hold a key's fetch before another tries (a worker that died
    mid-fetch); ``poll_seconds`` is how often a waiting worker looks again.
    """

    def __init__(
        self,
        client: Any,
        tenant: str,
        *,
        lock_seconds: float = 15.0,
        poll_seconds: float = 0.02,
    ) -> None:
        self._redis = client
        self._tenant = tenant
        self._lock_ms = max(1, int(lock_seconds * 1000))
        self._poll = poll_seconds
        self._pending: set[asyncio.Task[Any]] = set()

    # -- keys ------------------------------------------------------------------

    def _data_key(self, email: str, source: str) -> str:
        return f"liveuser:data:{self._tenant}:{_digest(email)}:{source}"

    def _verification_prefix(self, conversation: ConversationKey) -> str:
        digest = _digest(conversation.channel.value, conversation.conversation_id)
        return f"liveuser:verified:{self._tenant}:{digest}:"

    # -- data ------------------------------------------------------------------

    def peek(self, email: str, source: str) -> list[UserData] | None:
        return None  # every look is a Redis round trip: see data()

    async def data(self, email: str, source: str, ttl: float, fetch: Fetch) -> list[UserData] | str:
        if ttl <= 0:
            return await fetch()
        key = self._data_key(email, source)
        lock = f"{key}:fetching"
        token = _digest(str(id(self)), str(time.monotonic_ns()))
        while True:
            cached = await self._get_data(key)
            if cached is not None:
                return cached
            mine = await self._try(self._redis.set(lock, token, nx=True, px=self._lock_ms))
            # Not ours while Redis answers: another worker is fetching; wait for its answer.
            if not mine and await self._try(self._redis.exists(lock)) is not None:
                await asyncio.sleep(self._poll)
                continue
            try:
                if mine:  # the holder before us may have cached it between our two looks
                    cached = await self._get_data(key)
                    if cached is not None:
                        return cached
                answer = await fetch()
                if not isinstance(answer, str):
                    value = _DATA.dump_json(answer)
                    await self._try(self._redis.set(key, value, px=max(1, int(ttl * 1000))))
                return answer
            finally:
                await self._try(self._release(lock, token))

    async def _release(self, lock: str, token: str) -> None:
        # Only our own lock: one that expired and was taken by another worker stays.
        if await self._redis.get(lock) == token.encode():
            await self._redis.delete(lock)

    async def _get_data(self, key: str) -> list[UserData] | None:
        raw = await self._try(self._redis.get(key))
        if raw is None:
            return None
        try:
            return _DATA.validate_json(raw)
        except ValidationError:
            log.warning("unreadable cached data for tenant %s dropped", self._tenant)
            await self._try(self._redis.delete(key))
            return None

    # -- verifications -------------------------------------------------------------

    async def verification(self, key: VerificationKey) -> VerifiedUser | None:
        raw = await self._try(self._redis.get(self._verification_prefix(key[0]) + key[1]))
        if raw is None:
            return None
        try:
            return VerifiedUser.model_validate_json(raw)
        except ValidationError:
            return None

    async def remember_verification(
        self, key: VerificationKey, user: VerifiedUser, ttl: float
    ) -> None:
        if ttl <= 0:
            return
        name = self._verification_prefix(key[0]) + key[1]
        await self._try(self._redis.set(name, user.model_dump_json(), px=max(1, int(ttl * 1000))))

    def forget_verification(self, conversation: ConversationKey) -> None:
        self.later(self._drop_matching(self._verification_prefix(conversation) + "*"))

    def later(self, work: Coroutine[Any, Any, int]) -> None:
        """Run ``work`` (a forgetting) on the running loop; :meth:`settle` waits for it."""
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no event loop: a shared cache cannot be reached from here
            work.close()
            log.warning("tenant %s: shared cache not updated outside an event loop", self._tenant)
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def forget_identity(self, email: str) -> int:
        dropped = await self._drop_matching(f"liveuser:data:{self._tenant}:{_digest(email)}:*")
        async for name in self._redis.scan_iter(match=f"liveuser:verified:{self._tenant}:*"):
            raw = await self._redis.get(name)
            try:
                user = None if raw is None else VerifiedUser.model_validate_json(raw)
            except ValidationError:
                user = None
            if user is not None and user.email == email:
                dropped += await self._redis.delete(name)
        return dropped

    async def settle(self) -> None:
        """Wait for the forgetting started from sync code (tests, shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _drop_matching(self, pattern: str) -> int:
        dropped = 0
        async for name in self._redis.scan_iter(match=pattern):
            dropped += int(await self._redis.delete(name))
        return dropped

    async def _try(self, command: Awaitable[Any]) -> Any:
        """Run one Redis command; a failing Redis is a miss, logged, never an error."""
        try:
            return await command
        except Exception as exc:  # redis.RedisError and OSError: the cache is optional
            log.warning("redis cache unavailable for tenant %s: %s", self._tenant, exc)
            return None
