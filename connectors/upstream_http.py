"""The HTTP plumbing every connector shares: one ``aiohttp.ClientSession``
per connector, a deadline over every call, retries with exponential backoff
and jitter honouring ``Retry-After`` (``connectors.retry``), the guard's budget
and breaker (``connectors.scope.CallGuard``), request counting, and answers
read once (``connectors.answers``).

Reads in flight shared (``UpstreamHTTP.share_reads``, set by the gateway when
nothing caches what connectors read): a read identical to one under way —
method, URL, body, headers, query, cost, endpoint limit, hold and priority —
that began since the caller's call scope is fresh from
(``connectors.scope.fresh_from``), and whose deadline is at most
``JOIN_SLACK`` before the caller's, waits for that one's answer instead of
being sent: one request, one charge to the upstream's budget, however many
concurrent callers asked. A read begun earlier may have left before a change
its caller has seen done, so it is not joined; after a write, a scope joins
only reads begun since the write answered. Reads outside any call scope
(a sync, a backfill) are never shared. Each caller decodes the answer's JSON
itself (no two callers hold one object: connectors complete answers in
place), waits no longer than its own deadline, and fails with the read's
error when it fails. A read all its callers gave up on is cut, as an unshared
one is, and no later caller joins it.

aiohttp directly, not httpx: its connection pool and C parser cost 0.35 ms of
CPU per call answering 30 KB of JSON, against 0.63 ms through httpx's API over
the same pool (``httpx-aiohttp``) and 1.01 ms through httpx's own
(docs/benchmarks.md, "The upstream client").
"""

from __future__ import annotations

import asyncio
import codecs
import os
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, NamedTuple

import aiohttp
import certifi
import orjson
from yarl import URL

from connectors.answers import Answer, decode_json, status_error
from connectors.errors import (
    ConnectorError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.retry import RetryPolicy
from connectors.scope import (
    CallGuard,
    Outcome,
    current_priority,
    current_scope,
    departed,
    fresh_from,
    fresh_from_now,
)

NO_CONTENT = (202, 204)
"""Statuses whose answer may have no body (a job accepted, a deletion)."""

MAX_CONNECTIONS = 50
"""Open connections per connector, all hosts together."""

RequestObserver = Callable[[str, str], None]
"""Called once per HTTP attempt with ``(connector, outcome)``; outcome is ``ok``,
``rate_limited``, ``error``, ``auth_error``, ``unavailable``, ``timeout`` or
``bad_response`` (``connectors.answers``) — and once per read that joined an
identical one in flight instead of being sent, with ``shared``."""

BACKGROUND_DEADLINE = 30.0
"""Seconds a call outside any ``call_scope`` may take when no guard says."""

JOIN_SLACK = 0.05
"""Seconds before its own deadline a caller may be cut by the deadline of a
read it joined (the caller who sent it began a little earlier)."""


class _Landed(NamedTuple):
    """A call's answer: its decoded JSON (``None`` for a 202 or 204 without
    a body) and the JSON's text, which each reader who joined the call
    decodes for itself."""

    body: Any
    text: bytes


_ReadKey = tuple[Any, ...]
"""What makes two reads the same read: method, URL, body, headers, query
parameters, cost, endpoint limit, hold and priority."""


@dataclass(slots=True)
class _Flight:
    """A read under way that identical reads may join."""

    key: _ReadKey
    began: float
    """``time.monotonic()`` when it was asked for, before it was sent."""
    deadline: float
    """Its caller's, which cuts it."""
    call: asyncio.Task[_Landed]
    waiting: int = 0
    """Callers waiting for it: the last to give up cancels it."""


def _items(values: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(values.items())) if values else ()


def _origin(url: URL) -> tuple[str, str, int | None]:
    """Scheme, host (IDNA, lower case, no trailing dot) and port, the
    scheme's default when not written."""
    return url.scheme.lower(), (url.raw_host or "").rstrip("."), url.port


def tls_roots() -> ssl.SSLContext:
    """The roots upstream certificates are checked against: the files of
    ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` when set (a private CA, an egress
    proxy's), else Mozilla's (certifi), as httpx did. Shared by every
    connector's client: callers must not change it."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    return _roots(cafile or None, capath or None)


@cache
def _roots(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """Loaded once per process for each place: loading certifi's roots takes
    ~15 ms, which every connector's client (and in the tests, every app's
    services) would pay again."""
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


class UpstreamHTTP:
    """One shared ``aiohttp.ClientSession`` per connector, with the retry rules.

    Only idempotent reads are retried (GraphQL queries sent by POST count as
    reads: the caller says so with ``idempotent=True``). Every call answers by
    its deadline — the current ``call_scope``'s, else ``background_deadline``
    from now: each attempt is cut off at it (a hung upstream, a body that
    trickles in), and a backoff or ``Retry-After`` that would end past it is
    not waited: the last error is raised at once. ``guard``, when set, admits
    each attempt (``cost`` in the units of the upstream's budget) and hears
    its outcome.

    A call names a path under ``base_url`` (``/api/v2/users/search``), or a
    whole URL an answer gave (a next page's), which must be on the same
    origin: the connector's credentials go with every request, so they never
    go to another host. Redirects are not followed, for the same reason, and
    the environment's proxy settings are not read.
    """

    def __init__(
        self,
        connector: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        observer: RequestObserver | None = None,
    ) -> None:
        self.connector = connector
        self.retry = retry or RetryPolicy()
        self.observer = observer
        self.guard: CallGuard | None = None
        """Set by the gateway (``gateway.runtime.upstreams``)."""
        self.share_reads = False
        """Identical reads in flight answered by one request (the module's
        docstring); set by the gateway (``gateway.runtime.upstreams``)."""
        self._flights: dict[_ReadKey, _Flight] = {}
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(URL(self.base_url))
        self._headers = dict(headers or {})
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout, 5.0), sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None
        """Made at the first call, inside the event loop that runs them."""
        self._closed = False

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._closed:
                raise RuntimeError(f"the {self.connector} client has been closed")
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=tls_roots()),
                timeout=self._timeout,
            )
        return self._session

    def _url(self, url: str) -> URL:
        """A path under the base URL, or a whole URL on its origin (its
        escapes kept: Zendesk's next pages escape their brackets), without
        credentials of its own."""
        if url.startswith("/") and not url.startswith("//"):
            return URL(self.base_url + url)
        try:
            whole = URL(url)
            same_origin = _origin(whole) == self._origin and not (
                whole.user or whole.password
            )
        except ValueError:
            same_origin = False
        if not same_origin:
            raise UpstreamBadResponse(self.connector, "a link to another host")
        return whole

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _observe(self, outcome: str) -> None:
        if self.observer is not None:
            self.observer(self.connector, outcome)

    def _deadline(self) -> float:
        scope = current_scope()
        if scope is not None and scope.deadline is not None:
            return scope.deadline
        background = (
            self.guard.background_deadline
            if self.guard is not None
            else BACKGROUND_DEADLINE
        )
        return time.monotonic() + background

    async def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool = True,
        read: bool | None = None,
        cost: float = 1.0,
        cost_of: Callable[[Any], float | None] | None = None,
        limit: str | None = None,
        hold: float = 0.0,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        """Send a request and return its decoded JSON (``None`` for a 202 or
        204 without a body); retry 429, 5xx and connection errors when
        idempotent, within the deadline. ``cost`` is
        charged to the upstream's budget, and to the budget of ``limit``, an
        endpoint's own limit, when named; ``hold`` more must be there, not
        taken (what the upstream reserves while the call runs); ``cost_of``
        reads from the answer what the upstream says the call cost, and the
        budget is settled to it. ``read`` (by default: a ``GET``) says the
        request changes nothing upstream, so an identical one in flight may
        answer it (``share_reads``)."""
        target = self._url(url)
        if json is not None:
            content = orjson.dumps(json)
            headers = {"Content-Type": "application/json", **(headers or {})}
        call = partial(
            self._call, method, target, idempotent, cost, cost_of, limit, hold,
            content=content, headers=headers, params=params,
        )  # fmt: skip
        if not (method == "GET" if read is None else read):
            try:
                return (await call()).body
            finally:
                fresh_from_now()  # a read begun before the write may miss it
        since = fresh_from() if self.share_reads else None
        if since is None:
            return (await call()).body
        key = (method, str(target), content, _items(headers), _items(params),
               cost, limit, hold, current_priority())  # fmt: skip
        deadline = self._deadline()
        flight = self._flights.get(key)
        if (
            flight is not None
            and flight.began >= since
            and flight.deadline >= deadline - JOIN_SLACK
        ):
            departed(self.connector)  # for its caller's scope, it has left
            self._observe("shared")
            landed = await self._join(flight, deadline)
            return None if landed.body is None else orjson.loads(landed.text)
        flight = _Flight(key, time.monotonic(), deadline, asyncio.ensure_future(call()))
        self._flights[key] = flight
        flight.call.add_done_callback(partial(self._landed, flight))
        return (await self._join(flight, None)).body

    async def _join(self, flight: _Flight, deadline: float | None) -> _Landed:
        """``flight``'s answer, by ``deadline`` when one is given (the
        caller who sent it is held to its own by the call)."""
        flight.waiting += 1
        try:
            if deadline is None:
                return await asyncio.shield(flight.call)
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    return await asyncio.shield(flight.call)
            except TimeoutError as exc:
                raise UpstreamTimeout(self.connector, "no answer in time") from exc
        finally:
            flight.waiting -= 1
            if not flight.waiting and not flight.call.done():
                self._forget(flight)  # nobody waits: cut, and joined by no one
                flight.call.cancel()

    def _forget(self, flight: _Flight) -> None:
        if self._flights.get(flight.key) is flight:
            del self._flights[flight.key]

    def _landed(self, flight: _Flight, call: asyncio.Task[_Landed]) -> None:
        self._forget(flight)
        if not call.cancelled():
            call.exception()  # told to its callers, or to none left to tell

    async def _call(
        self,
        method: str,
        target: URL,
        idempotent: bool,
        cost: float,
        cost_of: Callable[[Any], float | None] | None,
        limit: str | None,
        hold: float,
        **kwargs: Any,
    ) -> _Landed:
        deadline = self._deadline()
        attempts = self.retry.attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                landed = await self._attempt(
                    method, target, deadline, cost, limit, hold, **kwargs
                )
            except ConnectorError as error:
                if not error.retriable or attempt == attempts:
                    raise
                delay = self.retry.backoff(attempt)
                if isinstance(error, UpstreamRateLimited) and error.retry_after:
                    delay = max(delay, error.retry_after)
                if time.monotonic() + delay >= deadline:
                    raise  # the wait would outlast the deadline: answer now
                await asyncio.sleep(delay)
            else:
                if cost_of is not None:
                    await self.settle(cost, cost_of(landed.body))
                return landed
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self,
        method: str,
        url: URL,
        deadline: float,
        cost: float,
        limit: str | None,
        hold: float,
        **kwargs: Any,
    ) -> _Landed:
        if deadline <= time.monotonic():
            raise UpstreamTimeout(self.connector, "deadline spent before sending")
        if self.guard is not None:
            await self.guard.admit(
                self.connector,
                cost,
                current_priority(),
                deadline,
                limit=limit,
                hold=hold,
            )
        departed(self.connector)
        outcome = Outcome.ABANDONED  # unless the upstream is heard from
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                body = await self._send(method, url, **kwargs)
            outcome = Outcome.ANSWERED
            return body
        except TimeoutError as exc:
            self._observe("timeout")
            outcome = Outcome.FAILED
            raise UpstreamTimeout(self.connector, "no answer in time") from exc
        except (UpstreamUnavailable, UpstreamTimeout, UpstreamBadResponse):
            outcome = Outcome.FAILED
            raise
        except ConnectorError:
            outcome = Outcome.ANSWERED  # a 4xx or a 429: the upstream is up
            raise
        finally:
            if self.guard is not None:
                self.guard.record(self.connector, outcome)

    async def _send(
        self,
        method: str,
        url: URL,
        *,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        params: Mapping[str, str | int] | None,
    ) -> _Landed:
        """One attempt: headers, then the whole body, then its JSON."""
        try:
            response = await self._client().request(
                method,
                url,
                params=params,
                data=content,
                headers=headers,
                allow_redirects=False,
            )
        except aiohttp.ClientError as exc:
            self._observe("unavailable")
            raise UpstreamUnavailable(self.connector, type(exc).__name__) from exc
        try:
            answer = Answer(response.status, response.headers, await response.read())
        except TimeoutError as exc:
            self._observe("timeout")
            raise UpstreamTimeout(self.connector, "body too slow") from exc
        except aiohttp.ClientError as exc:
            self._observe("bad_response")
            raise UpstreamBadResponse(self.connector, "truncated body") from exc
        finally:
            response.release()
        if answer.status_code >= 400:
            error, outcome = status_error(self.connector, answer)
            self._observe(outcome)
            raise error
        if answer.status_code in NO_CONTENT and not answer.content:
            self._observe("ok")
            return _Landed(None, b"")
        try:
            body = decode_json(self.connector, answer)
        except UpstreamBadResponse:
            self._observe("bad_response")
            raise
        self._observe("ok")
        return _Landed(body, answer.content.removeprefix(codecs.BOM_UTF8))

    async def settle(self, charged: float, actual: float | None) -> None:
        """Correct the guard's budget to what the upstream says a call cost
        (``actual``; ``None``: it did not say, ``charged`` stands)."""
        if self.guard is not None and actual is not None and actual != charged:
            await self.guard.settle(self.connector, actual - charged)

    async def wait(self, seconds: float, error: ConnectorError) -> None:
        """Sleep before asking again (a throttled answer's wait), or raise
        ``error`` at once when the wait would end past the scope's deadline."""
        scope = current_scope()
        left = scope.time_left() if scope is not None else None
        if left is not None and seconds >= left:
            raise error
        await asyncio.sleep(seconds)

    async def get_json(
        self, url: str, *, cost: float = 1.0, limit: str | None = None, **kwargs: Any
    ) -> Any:
        return await self.request("GET", url, cost=cost, limit=limit, **kwargs)

    async def post_json(
        self,
        url: str,
        body: Any,
        *,
        idempotent: bool = True,
        cost: float = 1.0,
        **kwargs: Any,
    ) -> Any:
        return await self.request(
            "POST", url, json=body, idempotent=idempotent, cost=cost, **kwargs
        )
