"""The Zendesk Support calls behind a customer's tickets.

Which endpoint answers which batch, and why (sources, all [doc]: the Search API
https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/,
the Zendesk Support search reference
https://support.zendesk.com/hc/en-us/articles/4408886879258, the Tickets API
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ and the
rate limits https://developer.zendesk.com/api-reference/introduction/rate-limits/):

* profiles by id: ``/users/show_many?ids=`` takes 100 ids; unknown ids are simply
  left out of the answer, so they come back as ``None``.
* profiles by email or phone: ``/users/search?query=email:a email:b`` — the
  search reference says a keyword repeated in one query is OR-ed ("tags:silver
  tags:bronze" finds either), so one call serves ``EMAILS_PER_SEARCH`` values.
* tickets of many requesters: one ``/search?query=type:ticket requester:1
  requester:2 …`` per ``REQUESTERS_PER_SEARCH`` users (OR-ed the same way; a
  query holds at most 64 words), instead of one ``/users/{id}/tickets/requested``
  listing per user: the ticket lists have a limit of their own, 100 calls a
  minute per account, which a page of 50 customers would half spend. The call
  count grows with the number of *tickets* (100 per page), not of users.
  Search answers at most 1,000 results: a batch with more is split in two until
  it fits, and a single requester beyond it is listed (cursor pages, no cap).
* search is eventually consistent: "it can take up to a few minutes for new
  tickets … to be indexed". Tickets the caller knows were written within that
  lag (``changed``: the ids its webhooks announced) are read through
  ``/tickets/show_many`` (100 ids a call, not search-indexed) in the same
  round, and replace what search holds of them — a new ticket is added, a
  changed one is current, one that ``show_many`` no longer returns (deleted)
  is dropped. The search and that call run concurrently.
* comments: Zendesk has no multi-ticket comment endpoint, so it is one cursor
  listing per ticket, run concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from connectors.answers import reads_answers
from connectors.errors import UpstreamBadResponse, UpstreamNotFound
from connectors.models import (
    ExternalCustomer,
    SatisfactionRating,
    Ticket,
    TicketComment,
)
from connectors.retry import RetryPolicy
from connectors.upstream_http import RequestObserver, UpstreamHTTP
from connectors.zendesk.auth import bearer_authorization, token_authorization
from connectors.zendesk.mapping import (
    comment_from_json,
    customer_from_user,
    satisfaction_from_rating,
    ticket_from_json,
)
from connectors.zendesk.pagination import (
    SEARCH_RESULT_LIMIT,
    cursor_pages,
    offset_pages,
)

NAME = "zendesk"
IDS_PER_SHOW_MANY = 100
EMAILS_PER_SEARCH = 25
REQUESTERS_PER_SEARCH = 50
"""With ``type:ticket``, 51 of the 64 words a search query may hold."""
CONCURRENCY = 8
SEARCH_LIMIT = "search"
"""``/api/v2/search``'s own limit (2,500 a minute, beside the account's; the
Search API reference): every page of a ticket search spends the gateway's
``zendesk.search`` budget as well as the account's (``gateway.guard``)."""

T = TypeVar("T")


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class _SearchTooLarge(Exception):
    """A ticket search matched more than Zendesk search will page through."""


class ZendeskConnector:
    name = NAME

    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        api_token: str | None = None,
        oauth_token: str | None = None,
        page_size: int = 100,
        observer: RequestObserver | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if oauth_token:
            authorization = bearer_authorization(oauth_token)
        elif email and api_token:
            authorization = token_authorization(email, api_token)
        else:
            raise ValueError("Zendesk needs email + api_token or an oauth_token")
        self.page_size = page_size
        self._limit = asyncio.Semaphore(CONCURRENCY)
        self.http = UpstreamHTTP(
            self.name,
            base_url,
            headers={"Accept": "application/json", "Authorization": authorization},
            retry=retry,
            observer=observer,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _bounded(self, work: Awaitable[T]) -> T:
        async with self._limit:
            return await work

    async def _gather(self, works: Iterable[Awaitable[T]]) -> list[T]:
        """The works, concurrently within the connector's limit; one alone is
        awaited here, not in a task of its own: its call goes a loop turn
        sooner, with the other sources' of a view."""
        pending = list(works)
        if len(pending) == 1:
            return [await self._bounded(pending[0])]
        return list(await asyncio.gather(*(self._bounded(w) for w in pending)))

    @reads_answers(NAME)
    async def customers_by_ids(
        self, ids: Sequence[str]
    ) -> list[ExternalCustomer | None]:
        unique = list(dict.fromkeys(ids))
        found: dict[str, ExternalCustomer] = {}
        for users in await self._gather(
            self._show_many(chunk) for chunk in _chunks(unique, IDS_PER_SHOW_MANY)
        ):
            found.update((c.external_id, c) for c in users)
        return [found.get(i) for i in ids]

    async def _show_many(self, ids: Sequence[str]) -> list[ExternalCustomer]:
        body = await self.http.get_json(
            "/api/v2/users/show_many", params={"ids": ",".join(ids)}
        )
        users = body.get("users") if isinstance(body, dict) else None
        if not isinstance(users, list):
            raise UpstreamBadResponse(self.name, "show_many answer has no users")
        return [customer_from_user(u) for u in users]

    async def erase_customer(self, external_id: str) -> tuple[str, ...]:
        """Permanent user deletion, as Zendesk documents it: ``DELETE
        /api/v2/users/{id}`` (the user becomes a deleted user), then ``DELETE
        /api/v2/deleted_users/{id}`` ("deletes all of their information",
        not recoverable; a user must be deleted first). A 404 from either
        means that step is behind the user already: a repeated call finishes
        what an interrupted one began."""
        for path in ("users", "deleted_users"):
            with contextlib.suppress(UpstreamNotFound):
                await self.http.request("DELETE", f"/api/v2/{path}/{external_id}")
        return (external_id,)

    @reads_answers(NAME)
    async def customers_by_emails(
        self, emails: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e.strip()))
        found: dict[str, ExternalCustomer] = {}
        for users in await self._gather(
            self._search_users("email", chunk)
            for chunk in _chunks(wanted, EMAILS_PER_SEARCH)
        ):
            for customer in users:
                if customer.email in wanted and customer.email not in found:
                    found[customer.email] = customer
        return found

    @reads_answers(NAME)
    async def customers_by_phones(
        self, phones: Sequence[str]
    ) -> dict[str, ExternalCustomer]:
        """Users by E.164 phone, ``phone:`` terms OR-ed like the email search."""
        wanted = list(dict.fromkeys(p.strip() for p in phones if p.strip()))
        found: dict[str, ExternalCustomer] = {}
        for users in await self._gather(
            self._search_users("phone", chunk)
            for chunk in _chunks(wanted, EMAILS_PER_SEARCH)
        ):
            for customer in users:
                if customer.phone in wanted and customer.phone not in found:
                    found[customer.phone] = customer
        return found

    async def _search_users(
        self, keyword: str, values: Sequence[str]
    ) -> list[ExternalCustomer]:
        query = " ".join(f"{keyword}:{v}" for v in values)
        return [
            customer_from_user(user)
            async for page, _ in offset_pages(
                self.http, "/api/v2/users/search", "users", params={"query": query}
            )
            for user in page
        ]

    @reads_answers(NAME)
    async def tickets_by_requesters(
        self,
        user_ids: Sequence[str],
        *,
        changed: Collection[str] | Awaitable[Collection[str]] = (),
    ) -> dict[str, list[Ticket]]:
        """Each user's tickets, newest first: search for the batch, and
        ``show_many`` for the ``changed`` ticket ids search may not hold yet.
        Given as an awaitable (a database read), ``changed`` is awaited while
        the search is under way, not before it."""
        unique = list(dict.fromkeys(user_ids))

        async def shown() -> tuple[list[str], list[list[Ticket]]]:
            ids = await changed if inspect.isawaitable(changed) else changed
            recent = list(dict.fromkeys(ids))
            return recent, await self._gather(
                self._tickets_by_ids(chunk)
                for chunk in _chunks(recent, IDS_PER_SHOW_MANY)
            )

        searched, (recent, current) = await asyncio.gather(
            self._gather(
                self._tickets_of_batch(chunk)
                for chunk in _chunks(unique, REQUESTERS_PER_SEARCH)
            ),
            shown(),
        )
        by_id = {t.id: t for tickets in searched for t in tickets}
        for ticket_id in recent:
            by_id.pop(ticket_id, None)
        by_id.update((t.id, t) for tickets in current for t in tickets)
        result: dict[str, list[Ticket]] = {u: [] for u in unique}
        for ticket in by_id.values():
            if ticket.requester_id in result:
                result[ticket.requester_id].append(ticket)
        for tickets in result.values():
            tickets.sort(key=lambda t: t.created_at, reverse=True)
        return result

    async def _tickets_by_ids(self, ids: Sequence[str]) -> list[Ticket]:
        body = await self.http.get_json(
            "/api/v2/tickets/show_many", params={"ids": ",".join(ids)}
        )
        return [ticket_from_json(t) for t in body.get("tickets") or ()]

    async def _tickets_of_batch(self, user_ids: Sequence[str]) -> list[Ticket]:
        """Already inside one concurrency slot: a split runs its halves in it."""
        try:
            return await self._search_tickets(user_ids)
        except _SearchTooLarge:
            if len(user_ids) == 1:
                return await self._requested(user_ids[0])
            half = len(user_ids) // 2
            parts = await asyncio.gather(
                self._tickets_of_batch(user_ids[:half]),
                self._tickets_of_batch(user_ids[half:]),
            )
            return [t for tickets in parts for t in tickets]

    async def _search_tickets(self, user_ids: Sequence[str]) -> list[Ticket]:
        query = "type:ticket " + " ".join(f"requester:{u}" for u in user_ids)
        tickets: list[Ticket] = []
        async for page, count in offset_pages(
            self.http,
            "/api/v2/search",
            "results",
            params={"query": query, "sort_by": "created_at", "sort_order": "desc"},
            per_page=self.page_size,
            max_records=SEARCH_RESULT_LIMIT,
            limit=SEARCH_LIMIT,
        ):
            if count > SEARCH_RESULT_LIMIT:
                raise _SearchTooLarge
            tickets.extend(
                ticket_from_json(r) for r in page if r["result_type"] == "ticket"
            )
        return tickets

    async def _requested(self, user_id: str) -> list[Ticket]:
        path = f"/api/v2/users/{user_id}/tickets/requested"
        try:
            return await self._collect(path, "tickets", ticket_from_json)
        except UpstreamNotFound:
            return []

    async def _collect(
        self, path: str, key: str, parse: Callable[[dict[str, Any]], T]
    ) -> list[T]:
        return [
            parse(item)
            async for page in cursor_pages(
                self.http, path, key, page_size=self.page_size
            )
            for item in page
        ]

    @reads_answers(NAME)
    async def comments_by_tickets(
        self, ticket_ids: Sequence[str]
    ) -> dict[str, list[TicketComment]]:
        unique = list(dict.fromkeys(ticket_ids))
        lists = await self._gather(self._comments(t) for t in unique)
        return dict(zip(unique, lists, strict=True))

    async def _comments(self, ticket_id: str) -> list[TicketComment]:
        path = f"/api/v2/tickets/{ticket_id}/comments"
        try:
            return await self._collect(
                path, "comments", lambda c: comment_from_json(ticket_id, c)
            )
        except UpstreamNotFound:
            return []

    @reads_answers(NAME)
    async def satisfaction_ratings(
        self,
        *,
        score: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> list[SatisfactionRating]:
        """Account-wide CSAT ratings (admins only), for segments such as "low
        satisfaction"; a customer's own ratings already ride on their tickets."""
        params = {"score": score} if score else {}
        if start_time is not None:
            params["start_time"] = str(int(start_time.timestamp()))
        if end_time is not None:
            params["end_time"] = str(int(end_time.timestamp()))
        return [
            satisfaction_from_rating(rating)
            async for page in cursor_pages(
                self.http,
                "/api/v2/satisfaction_ratings",
                "satisfaction_ratings",
                params=params,
                page_size=self.page_size,
            )
            for rating in page
        ]
