"""The connector framework: the protocols every upstream implements, and the HTTP
plumbing they share (one ``httpx.AsyncClient`` per connector, a deadline over
every call, retries with exponential backoff and jitter honouring
``Retry-After``, the guard's budget and breaker, request counting, and a guard
against paginators that loop).

A concrete connector only says what to ask and how to read the answer
(``client.py``) and how upstream JSON becomes canonical models (``mapping.py``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx

from connectors.errors import (
    ConnectorError,
    UpstreamBadResponse,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_for_status,
)
from connectors.models import (
    Checkout,
    ExternalCustomer,
    Order,
    PersonActivity,
    PersonSummary,
    Return,
    Ticket,
    TicketComment,
)
from connectors.scope import CallGuard, Outcome, current_priority, current_scope

RequestObserver = Callable[[str, str], None]
"""Called once per HTTP attempt with ``(connector, outcome)``; outcome is ``ok``,
``rate_limited``, ``error``, ``auth_error``, ``unavailable``, ``timeout`` or
``bad_response``."""

BACKGROUND_DEADLINE = 30.0
"""Seconds a call outside any ``call_scope`` may take when no guard says."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 10.0
    """Bound of the backoff; a ``Retry-After`` is honoured beyond it (the
    deadline bounds every wait)."""

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


NO_CONTENT = (202, 204)
"""Statuses whose answer may have no body (a job accepted, a deletion)."""

JSON_TYPES = ("application/json", "+json")
"""``Content-Type`` media types a JSON answer may carry (``application/*+json`` too)."""


class UpstreamHTTP:
    """One shared ``httpx.AsyncClient`` per connector, with the retry rules.

    Only idempotent reads are retried (GraphQL queries sent by POST count as
    reads: the caller says so with ``idempotent=True``). Every call answers by
    its deadline — the current ``call_scope``'s, else ``background_deadline``
    from now: each attempt is cut off at it (a hung upstream, a body that
    trickles in), and a backoff or ``Retry-After`` that would end past it is
    not waited: the last error is raised at once. ``guard``, when set, admits
    each attempt (``cost`` in the units of the upstream's budget) and hears
    its outcome.
    """

    def __init__(
        self,
        connector: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connector = connector
        self.retry = retry or RetryPolicy()
        self.observer = observer
        self.guard: CallGuard | None = None
        """Set by the gateway (``gateway.runtime.upstreams``)."""
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    async def aclose(self) -> None:
        await self.client.aclose()

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
        cost: float = 1.0,
        budget: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request and return its decoded JSON (``None`` for a 202 or
        204 without a body); retry 429, 5xx and connection errors when
        idempotent, within the deadline. ``budget`` names the guard's budget
        the call spends when it is not the connector's own (an upstream that
        limits each endpoint on its own, as Klaviyo does)."""
        deadline = self._deadline()
        attempts = self.retry.attempts if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._attempt(
                    method, url, deadline, cost, budget, **kwargs
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
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _attempt(
        self,
        method: str,
        url: str,
        deadline: float,
        cost: float,
        budget: str | None,
        **kwargs: Any,
    ) -> Any:
        if deadline <= time.monotonic():
            raise UpstreamTimeout(self.connector, "deadline spent before sending")
        if self.guard is not None:
            await self.guard.admit(
                self.connector, cost, current_priority(), deadline, budget=budget
            )
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

    async def _send(self, method: str, url: str, **kwargs: Any) -> Any:
        """One attempt: headers, then the whole body, then its JSON."""
        request = self.client.build_request(method, url, **kwargs)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            self._observe("unavailable")
            raise UpstreamUnavailable(self.connector, type(exc).__name__) from exc
        try:
            await response.aread()
        except httpx.TimeoutException as exc:
            self._observe("timeout")
            raise UpstreamTimeout(self.connector, "body too slow") from exc
        except httpx.TransportError as exc:
            self._observe("bad_response")
            raise UpstreamBadResponse(self.connector, "truncated body") from exc
        finally:
            await response.aclose()
        if response.status_code >= 400:
            raise self._status_error(response)
        if response.status_code in NO_CONTENT and not response.content:
            self._observe("ok")
            return None
        try:
            body = decode_json(self.connector, response)
        except UpstreamBadResponse:
            self._observe("bad_response")
            raise
        self._observe("ok")
        return body

    def _status_error(self, response: httpx.Response) -> ConnectorError:
        error = error_for_status(self.connector, response.status_code)
        if isinstance(error, UpstreamRateLimited):
            error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            self._observe("rate_limited")
        elif isinstance(error, UpstreamUnavailable):
            self._observe("unavailable")
        elif error.code == "UPSTREAM_AUTH":
            self._observe("auth_error")
        else:
            self._observe("error")
        return error

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

    async def get_json(self, url: str, *, cost: float = 1.0, **kwargs: Any) -> Any:
        return await self.request("GET", url, cost=cost, **kwargs)

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


def decode_json(connector: str, response: httpx.Response) -> Any:
    """The body's JSON; ``UpstreamBadResponse`` unless it is JSON, declared
    as such (an HTML error page or a login form answered 200 is not)."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not media_type.lower().endswith(JSON_TYPES):
        raise UpstreamBadResponse(connector, f"content type {media_type or 'none'!r}")
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamBadResponse(connector, "response is not JSON") from exc


class PageGuard:
    """Follows server-issued page tokens and refuses to loop on a repeated one."""

    def __init__(self, connector: str, max_pages: int = 1000) -> None:
        self.connector = connector
        self.max_pages = max_pages
        self._seen: set[str] = set()

    def advance(self, token: str) -> str:
        if token in self._seen:
            raise UpstreamBadResponse(self.connector, "pagination token repeated")
        if len(self._seen) >= self.max_pages:
            raise UpstreamBadResponse(self.connector, "too many pages")
        self._seen.add(token)
        return token


@runtime_checkable
class Connector(Protocol):
    """What every upstream offers: batched profile look-ups, never one per id."""

    name: str

    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        """Profiles in the order of ``ids``; ``None`` for unknown or deleted ids."""
        ...

    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Profiles keyed by normalized (lower-case) email; absent when unknown."""
        ...

    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Profiles keyed by E.164 phone; absent when unknown."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class CommerceConnector(Connector, Protocol):
    async def orders_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Order]]:
        """Every order of each customer, newest first (up to the configured cap)."""
        ...

    async def returns_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Return]]: ...

    async def abandoned_checkouts_by_customers(
        self, customer_ids: Sequence[str]
    ) -> dict[str, list[Checkout]]: ...


@runtime_checkable
class SupportConnector(Connector, Protocol):
    async def tickets_by_requesters(
        self, user_ids: Sequence[str]
    ) -> dict[str, list[Ticket]]:
        """Tickets requested by each user, newest first."""
        ...

    async def comments_by_tickets(
        self, ticket_ids: Sequence[str]
    ) -> dict[str, list[TicketComment]]: ...


@runtime_checkable
class ActivityConnector(Connector, Protocol):
    async def activity_by_persons(
        self, distinct_ids: Sequence[str], *, limit: int = 100
    ) -> dict[str, PersonActivity]:
        """Recent events of each person, newest first, with their summary (last
        seen, recent sessions), in one upstream query."""
        ...

    async def summaries_by_persons(
        self, distinct_ids: Sequence[str]
    ) -> dict[str, PersonSummary]:
        """The summary alone, in one upstream query."""
        ...
