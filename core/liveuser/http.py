"""The one HTTP client every plugin uses: deadline, size cap, retries.

httpx2 is the API and aiohttp's transport moves the bytes, through one shared
connection pool per process (per event loop). What the transport alone does
not give, this module does:

* **The deadline covers everything.** The pipeline sets an absolute deadline
  for a context (:func:`deadline`); every request made under it, with its
  retries, its waits and the whole body read, ends by then
  (:class:`~liveuser.errors.BackendTimeout`). aiohttp only applies connect
  and per-read timeouts, which a slow drip of bytes would outlive.
* **The size cap is enforced while streaming**, so an oversized body is
  abandoned after ``max_bytes``, not read into memory first.
* **Vendor request budgets** (:mod:`liveuser.budgets`) are taken before each
  request, retries included, so workers sharing a Redis stay under a vendor's
  rate limit together.
* **Reads are retried** on 429, 5xx and transport errors, with jittered
  backoff (stamina), only while the deadline allows; how long to wait comes
  from the plugin (``wait_hint``: ``Retry-After`` by default, or the vendor's
  own reset header). **Writes are never retried.**
* **Nothing is kept between requests.** The pool is shared by every tenant,
  so there is no cookie jar: a cookie set on one tenant's answer never
  travels with another's request. Redirects are not followed (a 3xx is an
  answer), and proxy settings are not read from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx2
from pydantic import BaseModel, ValidationError

from .budgets import RequestBudget
from .errors import BackendError, BackendResponseError, BackendStatusError, BackendTimeout

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 1_000_000
RETRY_ATTEMPTS = 4

_deadline: ContextVar[float | None] = ContextVar("liveuser_deadline", default=None)
_no_retries: ContextVar[bool] = ContextVar("liveuser_no_retries", default=False)
_enforced: ContextVar[tuple[asyncio.Task[Any] | None, float] | None] = ContextVar(
    "liveuser_enforced", default=None
)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@functools.lru_cache(maxsize=256)
def _parsed(url: str) -> httpx2.URL:
    """``url`` parsed once: a back-end's endpoint (the User Data API, a shop's GraphQL
    URL) is the same on every context; URLs that carry ids just pass through."""
    return httpx2.URL(url)


_SECONDS = re.compile(r"[0-9]{1,9}")


class deadline:
    """Within this block, no request made through :class:`HttpClient` outlives ``seconds``.

    Nested deadlines only ever shorten the outer one. ``with`` gives the
    absolute deadline (``time.monotonic()`` based). A class rather than a
    generator: it is entered several times per context.
    """

    __slots__ = ("_at", "_token")

    def __init__(self, seconds: float) -> None:
        at = time.monotonic() + seconds
        outer = _deadline.get()
        self._at = at if outer is None else min(at, outer)

    def __enter__(self) -> float:
        self._token = _deadline.set(self._at)
        return self._at

    def __exit__(self, *exc_info: object) -> None:
        _deadline.reset(self._token)


class enforced_deadline:
    """``async with enforced_deadline():`` ends the block at the current deadline.

    An ``asyncio.timeout`` at the deadline of :class:`deadline` (or
    ``DEFAULT_TIMEOUT`` from now without one): past it, the block raises
    ``TimeoutError``. The requests this task makes inside rely on that timer
    rather than each setting its own, so a request cut off by it does not
    raise :class:`BackendTimeout`: the block's ``TimeoutError`` reports it.
    A request under a shorter nested deadline, or made by another task, still
    times itself. The silo runs each back-end inside one.
    """

    __slots__ = ("_timeout", "_token")

    async def __aenter__(self) -> None:
        at = _deadline.get()
        if at is None:
            at = time.monotonic() + DEFAULT_TIMEOUT
        self._timeout = asyncio.timeout(max(at - time.monotonic(), 0))
        await self._timeout.__aenter__()
        self._token = _enforced.set((asyncio.current_task(), at))

    async def __aexit__(self, *exc_info: Any) -> None:
        _enforced.reset(self._token)
        await self._timeout.__aexit__(*exc_info)


def _timed_by_caller() -> bool:
    """Whether an :class:`enforced_deadline` of this task already ends a request here
    no later than the request's own deadline would."""
    enforced = _enforced.get()
    if enforced is None or enforced[0] is not asyncio.current_task():
        return False
    at = _deadline.get()
    return at is None or enforced[1] <= at


@contextlib.contextmanager
def no_retries(active: bool = True) -> Iterator[None]:
    """Within this block (an action that writes), no request is ever retried."""
    token = _no_retries.set(active or _no_retries.get())
    try:
        yield
    finally:
        _no_retries.reset(token)


def remaining(default: float = DEFAULT_TIMEOUT) -> float:
    """Seconds left before the current deadline (``default`` when none is set)."""
    at = _deadline.get()
    return default if at is None else at - time.monotonic()


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A complete HTTP response: status, headers and the body, read within the cap."""

    status: int
    headers: httpx2.Headers
    body: bytes
    source: str

    def json(self) -> Any:
        """The body as JSON; malformed JSON is a :class:`BackendResponseError`."""
        import json

        try:
            return json.loads(self.body)
        except ValueError:
            raise BackendResponseError(self.source, "answered malformed JSON") from None


WaitHint = Callable[[HttpAnswer], float | None]
"""How long the vendor asks us to wait before retrying this answer, or None."""


def retry_after(answer: HttpAnswer) -> float | None:
    """Read ``Retry-After`` as seconds or an HTTP date; None if absent or unreadable."""
    value = answer.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Retryable(Exception):
    def __init__(self, answer: HttpAnswer) -> None:
        self.answer = answer


def _is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


class HttpClient:
    """An async HTTP client shared by every plugin of a process.

    ``transport`` defaults to aiohttp's; tests and benchmarks may pass an
    in-process one (``httpx2.ASGITransport`` or ``httpx2.MockTransport``).
    Requests go straight to the transport as ``httpx2.Request`` objects,
    with ``Accept: */*``, ``Accept-Encoding: identity`` and a ``liveuser``
    ``User-Agent`` unless the caller's headers name them.
    """

    def __init__(
        self,
        transport: httpx2.AsyncBaseTransport | None = None,
        *,
        max_connections: int = 256,
        budget: RequestBudget | None = None,
    ) -> None:
        self.budget = budget if budget else None
        self._transport = transport
        self._max_connections = max_connections
        self._closed = False

    @property
    def transport(self) -> httpx2.AsyncBaseTransport:
        """The transport every request goes through (aiohttp's unless one was given)."""
        # Built on first use: importing aiohttp costs a few hundred milliseconds, which a
        # process that never sends a request (the CLI's help, a settings check) is spared.
        if self._closed:
            raise RuntimeError("this HttpClient is closed")
        if self._transport is None:
            self._transport = _aiohttp_transport(self._max_connections)
        return self._transport

    async def aclose(self) -> None:
        self._closed = True
        if self._transport is not None:
            await self._transport.aclose()
        if self.budget is not None:
            await self.budget.aclose()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        source: str,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        read: bool | None = None,
        wait_hint: WaitHint = retry_after,
    ) -> HttpAnswer:
        """Send one request and read the whole answer within the deadline and the cap.

        ``source`` names the back-end in every error. ``read`` marks a request
        that changes nothing (a lookup, even over POST): only those are
        retried. It defaults to true for GET, HEAD and OPTIONS only, and is
        ignored inside :func:`no_retries`. Any status is returned as an answer
        except, for reads, a 429 or 5xx that persists through the retries
        (:class:`BackendStatusError`). Every failure is a
        :class:`~liveuser.errors.BackendError`: :class:`BackendTimeout` when
        the deadline passes (inside the caller's :class:`enforced_deadline`,
        its ``TimeoutError`` instead), :class:`BackendResponseError` for an oversized or
        undecodable body, plain :class:`BackendError` when the connection or
        the request itself fails.
        """
        budget = remaining()
        if budget <= 0:
            raise BackendTimeout(source, "no time left before the deadline")
        if read is None:
            read = method.upper() in _READ_METHODS
        if _no_retries.get():
            read = False
        send = _Sender(
            self.transport,
            source,
            method,
            url,
            json,
            headers,
            params,
            content,
            max_bytes,
            self.budget,
        )
        try:
            if _timed_by_caller():
                return await self._send(send, read, wait_hint)
            async with asyncio.timeout(budget):
                return await self._send(send, read, wait_hint)
        except TimeoutError:
            raise BackendTimeout(source, f"no complete answer within {budget:.1f} s") from None
        except _Retryable as exc:
            raise BackendStatusError(
                source, f"answered HTTP {exc.answer.status}", exc.answer.status
            ) from None
        except httpx2.TransportError as exc:
            raise BackendError(source, f"connection failed: {type(exc).__name__}") from None
        except httpx2.DecodingError:
            raise BackendResponseError(source, "answered a body that cannot be decoded") from None
        except (httpx2.HTTPError, httpx2.InvalidURL, UnicodeError, ValueError) as exc:
            raise BackendError(source, f"request failed: {type(exc).__name__}") from None

    async def get_model(
        self,
        source: str,
        url: str,
        model: type[M],
        *,
        vendor: str,
        what: str,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        wait_hint: WaitHint = retry_after,
        not_found: Collection[int] = (404,),
    ) -> M:
        """GET a vendor's JSON record and validate it into ``model``.

        Every failure is a :class:`BackendError` whose reason a person can read
        and names ``vendor`` and ``what`` ("Zendesk did not answer about ticket
        7 in time", "ticket 7 was not found in Zendesk", "... refused
        liveuser's credentials (HTTP 401)", a malformed or unexpected answer).
        ``not_found`` lists the statuses by which the vendor says the record is
        not there (404; some also use 410 for deleted records).
        """

        def fail(reason: str) -> BackendError:
            return BackendError(source, reason)

        try:
            answer = await self.request(
                source,
                "GET",
                url,
                params=params,
                headers={**(headers or {}), "Accept": "application/json"},
                read=True,
                max_bytes=max_bytes,
                wait_hint=wait_hint,
            )
        except BackendTimeout:
            raise fail(f"{vendor} did not answer about {what} in time") from None
        except BackendStatusError as exc:
            if exc.status == 429:
                raise fail(
                    f"{vendor} is rate limiting liveuser (HTTP 429) and asked to wait past "
                    "the deadline"
                ) from None
            raise fail(f"{vendor} failed to answer about {what} (HTTP {exc.status})") from None
        except BackendError as exc:
            raise fail(f"{vendor} could not be reached ({exc.reason})") from None
        if answer.status in (401, 403):
            raise fail(
                f"{vendor} refused liveuser's credentials (HTTP {answer.status}); "
                "check the settings"
            )
        if answer.status in not_found:
            raise fail(f"{what} was not found in {vendor}")
        if answer.status != 200:
            raise fail(f"{vendor} answered HTTP {answer.status} about {what}")
        try:
            data = answer.json()
        except BackendError:
            raise fail(f"{vendor} answered malformed JSON about {what}") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(root)"
            raise fail(
                f"{vendor}'s answer about {what} is not what liveuser expects ({where}: "
                f"{first['msg']})"
            ) from None

    async def _send(self, send: _Sender, read: bool, wait_hint: WaitHint) -> HttpAnswer:
        """Send once; a read that failed or answered 429/5xx is retried while time allows."""
        if not read:
            return await send()
        try:
            answer = await send()
        except httpx2.TransportError:
            pass
        else:
            if not _is_retryable_status(answer.status):
                return answer
            wait = wait_hint(answer)
            if wait is not None:
                if wait >= remaining():
                    raise _Retryable(answer)
                await asyncio.sleep(wait)
        return await self._retry(send, wait_hint)

    async def _retry(self, send: _Sender, wait_hint: WaitHint) -> HttpAnswer:
        import stamina  # with tenacity, paid by the first request, not by start-up

        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, httpx2.TransportError):
                return True
            if isinstance(exc, _Retryable):
                hint = wait_hint(exc.answer)
                if hint is None:
                    return True
                return hint if hint < remaining() else False
            return False

        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=RETRY_ATTEMPTS - 1,
            timeout=max(remaining(), 0.001),
            wait_initial=0.05,
            wait_max=2.0,
            wait_jitter=0.1,
        ):
            with attempt:
                answer = await send()
                if _is_retryable_status(answer.status):
                    raise _Retryable(answer)
                return answer
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover


def _aiohttp_transport(max_connections: int) -> httpx2.AsyncBaseTransport:
    """httpx2's interface over one aiohttp connection pool that keeps no cookies."""
    import aiohttp
    from httpx_aiohttp.httpx2 import AiohttpTransport

    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = AiohttpTransport(limits=limits)

    def session() -> aiohttp.ClientSession:  # made inside the event loop, on the first request
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=max_connections,
                keepalive_timeout=limits.keepalive_expiry,
                ssl=transport.ssl_context,
            ),
            # The pool is shared by every tenant: a cookie one tenant's request earned
            # must never travel with another's.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )

    transport.client = session
    return transport


@functools.cache
def user_agent() -> str:
    """The ``User-Agent`` liveuser sends: its own name and version, then httpx2's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        mine = f"liveuser/{version('liveuser')}"
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        mine = "liveuser"
    return f"{mine} python-httpx2/{httpx2.__version__}"


_TIMEOUTS = httpx2.Timeout(DEFAULT_TIMEOUT).as_dict()
"""The transport's own connect/read/write/pool timeouts (the deadline is the core's)."""


def _headers(given: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """Every request's defaults, unless ``given`` names them (in any case), then ``given``."""
    defaults = [
        ("Accept", "*/*"),
        # Compressed bodies could expand far past the size cap before it is checked.
        ("Accept-Encoding", "identity"),
        ("User-Agent", user_agent()),
    ]
    if not given:
        return defaults
    named = {name.lower() for name in given}
    return [*(d for d in defaults if d[0].lower() not in named), *given.items()]


@dataclass(slots=True)
class _Sender:
    """One request, sent straight to the transport.

    No client layer: liveuser follows no redirects (a 3xx is an answer),
    sends no auth of httpx2's (plugins set their headers) and keeps no
    cookies, so httpx2's ``AsyncClient`` would only add per-request work.
    """

    transport: httpx2.AsyncBaseTransport
    source: str
    method: str
    url: str
    json: Any
    headers: Mapping[str, str] | None
    params: Mapping[str, str] | None
    content: bytes | None
    max_bytes: int
    budget: RequestBudget | None

    async def __call__(self) -> HttpAnswer:
        if self.budget is not None:
            at = _deadline.get()
            await self.budget.acquire(
                self.source, self.url, time.monotonic() + DEFAULT_TIMEOUT if at is None else at
            )
        request = httpx2.Request(
            self.method,
            _parsed(self.url),
            json=self.json,
            headers=_headers(self.headers),
            params=self.params,
            content=self.content,
            extensions={"timeout": _TIMEOUTS},
        )
        response = await self.transport.handle_async_request(request)
        try:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise BackendResponseError(
                    self.source, f"answer of {declared} bytes is over the {self.max_bytes} byte cap"
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise BackendResponseError(
                        self.source, f"answer is over the {self.max_bytes} byte cap"
                    )
                chunks.append(chunk)
        finally:
            await response.aclose()
        return HttpAnswer(response.status_code, response.headers, b"".join(chunks), self.source)
