"""The connector framework: the protocols every upstream implements, and the HTTP
plumbing they share (one ``httpx.AsyncClient`` per connector, timeouts, retries
with exponential backoff and jitter honouring ``Retry-After``, request counting,
and a guard against paginators that loop).

A concrete connector only says what to ask and how to read the answer
(``client.py``) and how upstream JSON becomes canonical models (``mapping.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from connectors.errors import (
    ConnectorError,
    UpstreamProtocolError,
    UpstreamRateLimited,
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

RequestObserver = Callable[[str, str], None]
"""Called once per HTTP attempt with ``(connector, outcome)``; outcome is ``ok``,
``rate_limited``, ``error``, ``auth_error`` or ``unavailable``."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 10.0

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


class UpstreamHTTP:
    """One shared ``httpx.AsyncClient`` per connector, with the retry rules.

    Only idempotent reads are retried (GraphQL queries sent by POST count as
    reads: the caller says so with ``idempotent=True``).
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

    async def _send_once(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            self._observe("unavailable")
            raise UpstreamUnavailable(self.connector, type(exc).__name__) from exc
        if response.status_code < 400:
            self._observe("ok")
            return response
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
        raise error

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        delay = self.retry.backoff(state.attempt_number)
        if isinstance(exc, UpstreamRateLimited) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        return min(delay, self.retry.max_delay)

    async def request(
        self, method: str, url: str, *, idempotent: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send a request; retry 429, 5xx and connection errors when idempotent."""
        if not idempotent:
            return await self._send_once(method, url, **kwargs)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception(
                lambda e: isinstance(e, ConnectorError) and e.retriable
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._send_once(method, url, **kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        return decode_json(self.connector, await self.request("GET", url, **kwargs))

    async def post_json(
        self, url: str, body: Any, *, idempotent: bool = True, **kwargs: Any
    ) -> Any:
        response = await self.request(
            "POST", url, json=body, idempotent=idempotent, **kwargs
        )
        return decode_json(self.connector, response)


def decode_json(connector: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise UpstreamProtocolError(connector, "response is not JSON") from exc


class PageGuard:
    """Follows server-issued page tokens and refuses to loop on a repeated one."""

    def __init__(self, connector: str, max_pages: int = 1000) -> None:
        self.connector = connector
        self.max_pages = max_pages
        self._seen: set[str] = set()

    def advance(self, token: str) -> str:
        if token in self._seen:
            raise UpstreamProtocolError(self.connector, "pagination token repeated")
        if len(self._seen) >= self.max_pages:
            raise UpstreamProtocolError(self.connector, "too many pages")
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
