"""Request budgets: how fast liveuser may call each vendor API, across every worker.

A vendor limits how many requests an account may make (Zendesk: so many a
minute). ``rate_limits`` in the settings gives each API host its budget, in
the ``limits`` library's notation (``"700/minute"``, ``"10/second;600/hour"``);
a key may name ``host:port`` or the host alone. Before each request (every
retry included), :class:`RequestBudget` takes one request from the host's
budget with a *moving window*, so no window of that length ever holds more;
when the budget is spent it waits for room, but never past the request's
deadline (then :class:`~liveuser.errors.BackendTimeout`, naming the budget).

The counts live in this process by default, or in Redis when ``redis_url`` is
set, so that several workers share one budget. If Redis fails, requests go
ahead unbudgeted (logged): the vendor's own 429 answers, which the HTTP client
honours, remain the backstop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import BackendTimeout

if TYPE_CHECKING:
    from limits import RateLimitItem
    from limits.aio.strategies import MovingWindowRateLimiter

__all__ = ["RequestBudget"]

log = logging.getLogger("liveuser")

_NAMESPACE = "liveuser-budget"


class RequestBudget:
    """Per-host request budgets. ``storage`` is ``None`` (this process) or a Redis URL."""

    def __init__(self, rates: Mapping[str, str], storage: str | None = None) -> None:
        self._items: dict[str, list[RateLimitItem]] = {}
        if rates:  # limits is imported only where a budget is set: it is slow to import
            from limits import parse_many

            self._items = {host.lower(): parse_many(rate) for host, rate in rates.items()}
        self._storage = storage
        self._limiter: MovingWindowRateLimiter | None = None
        self._pool: Any = None
        self._queues: dict[str, asyncio.Lock] = {}

    def __bool__(self) -> bool:
        return bool(self._items)

    def _items_for(self, url: str) -> tuple[str, list[RateLimitItem]] | None:
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return None
        for key in (f"{host}:{port}", host):
            items = self._items.get(key)
            if items:
                return key, items
        return None

    def _rate_limiter(self) -> MovingWindowRateLimiter:
        if self._limiter is None:
            from limits.aio.strategies import MovingWindowRateLimiter
            from limits.storage import storage_from_string

            if self._storage is None:
                storage: Any = storage_from_string("async+memory://")
            else:
                import redis.asyncio

                # Our own pool, so that aclose() can close its connections.
                self._pool = redis.asyncio.ConnectionPool.from_url(
                    self._storage, socket_timeout=2.0, socket_connect_timeout=2.0
                )
                storage = storage_from_string(
                    f"async+{self._storage}",
                    implementation="redispy",
                    key_prefix=_NAMESPACE,
                    connection_pool=self._pool,
                )
            self._limiter = MovingWindowRateLimiter(storage)
        return self._limiter

    async def aclose(self) -> None:
        """Close the connections to a shared budget's Redis."""
        pool, self._pool, self._limiter = self._pool, None, None
        if pool is not None:
            await pool.aclose()

    async def acquire(self, source: str, url: str, deadline: float) -> None:
        """Take one request to ``url``'s host from its budget, waiting for room until
        ``deadline`` (``time.monotonic()``); a host without a budget passes at once."""
        found = self._items_for(url)
        if found is None:
            return
        key, items = found
        limiter = self._rate_limiter()
        # One waiter per host in this process at a time, first come first served, so
        # no request starves while later ones take the room; the rest queue here.
        queue = self._queues.setdefault(key, asyncio.Lock())
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0)):
                await queue.acquire()
        except TimeoutError:
            raise BackendTimeout(
                source, f"the request budget for {key} is spent until the deadline"
            ) from None
        try:
            for item in items:
                while True:
                    try:
                        if await limiter.hit(item, key):
                            break
                        reset, _ = await limiter.get_window_stats(item, key)
                    except Exception as exc:  # a storage that fails: the vendor's 429 remains
                        log.warning("request budget for %s unavailable: %s", key, exc)
                        return
                    wait = max(reset - time.time(), 0.005)
                    if time.monotonic() + wait >= deadline:
                        raise BackendTimeout(
                            source,
                            f"the request budget for {key} ({item}) is spent until the deadline",
                        )
                    await asyncio.sleep(wait)
        finally:
            queue.release()
