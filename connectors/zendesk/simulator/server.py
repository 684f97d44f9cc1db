"""A Zendesk Support API on loopback, for tests and the demo.

Serves the endpoints ``ZendeskConnector`` uses, with Zendesk's shapes: cursor
pagination (``meta``/``links`` with percent-encoded ``page%5Bafter%5D``), offset
pagination (``next_page``/``previous_page``/``count``, 400 beyond 10,000 records,
422 beyond search's 1,000), the 401/404/429 bodies and signed event-subscription
webhooks. Zendesk's real behaviours are on by default: the per-minute limits of
an Enterprise account, search's and the ticket lists' own (``limits.py``: 429
with ``Retry-After``, the rate-limit headers), a search index a minute behind
the writes of ``POST``/``PUT /api/v2/tickets`` (``search.py``, ``writes.py``),
and repeated search terms OR-ed as documented. Knobs let tests inject failures,
move the clock and set the lag::

    sim = ZendeskSimulator(World(seed=7, size=50), latency=0.05, index_lag=0)
    sim.fail_next(2, status=503)
    sim.force_rate_limit(1, retry_after=0)
    async with serve_app(sim.app) as base_url: ...
    sim.requests["search"]  # how many calls the search endpoint got
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.demo_world import World
from connectors.simulator_server import (
    QUIET_DISCONNECTS,
    InjectedFailures,
    RequestCounter,
    answered_after,
)
from connectors.zendesk.simulator.answers import (
    NOT_FOUND,
    UNAUTHENTICATED,
    error,
    invalid,
    read_json,
    strip_json_suffix,
    too_many,
)
from connectors.zendesk.simulator.data import build_help_desk
from connectors.zendesk.simulator.limits import (
    ACCOUNT_PER_MINUTE,
    SEARCH_INDEX,
    SEARCH_PER_MINUTE,
    TICKETS_INDEX,
    TICKETS_INDEX_PER_MINUTE,
    MinuteLimits,
)
from connectors.zendesk.simulator.pages import cursor_or_offset, offset_page
from connectors.zendesk.simulator.search import (
    INDEX_LAG,
    TICKET_FIELDS,
    USER_FIELDS,
    QueryTooLong,
    SearchIndex,
    parse,
)
from connectors.zendesk.simulator.webhooks import send_event, ticket_event_detail
from connectors.zendesk.simulator.writes import Invalid, create_ticket, update_ticket

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class _Endpoint:
    name: str
    """The key of ``ZendeskSimulator.requests`` its calls count under."""
    path: str
    handler: Handler
    method: str = "GET"
    limit: str | None = None
    """The endpoint's own per-minute limit (``limits.py``), if any."""


class ZendeskSimulator(InjectedFailures):
    def __init__(
        self,
        world: World,
        *,
        email: str = "agent@northwind.example",
        api_token: str = "zd-demo-token",
        oauth_token: str | None = None,
        latency: float = 0.0,
        rate_limit_per_minute: int = ACCOUNT_PER_MINUTE,
        search_per_minute: int = SEARCH_PER_MINUTE,
        tickets_index_per_minute: int = TICKETS_INDEX_PER_MINUTE,
        index_lag: float = INDEX_LAG,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """The limits default to Zendesk's for an Enterprise account
        (``limits.py``), the index lag to a minute (``search.py``); ``clock``
        (seconds) drives both, so a test can move time instead of waiting."""
        self.desk = build_help_desk(world)
        self.latency = latency
        self.limits = MinuteLimits(
            clock,
            account=rate_limit_per_minute,
            endpoints={
                SEARCH_INDEX: search_per_minute,
                TICKETS_INDEX: tickets_index_per_minute,
            },
        )
        self.search_index = SearchIndex(self.desk.tickets, clock, index_lag)
        """What search sees of the tickets; ``search_index.lag`` is settable."""
        self.requests = RequestCounter()
        raw = f"{email}/token:{api_token}".encode()
        self._accepted = {"Basic " + base64.b64encode(raw).decode()}
        if oauth_token:
            self._accepted.add(f"Bearer {oauth_token}")
        self.last_headers = Headers()
        super().__init__()
        endpoints = [
            _Endpoint("users/show_many", "/users/show_many", self._users_show_many),
            _Endpoint("users/search", "/users/search", self._users_search),
            _Endpoint("users/{id}", "/users/{id:int}", self._user),
            _Endpoint(
                "DELETE users/{id}",
                "/users/{id:int}",
                self._delete_user,
                method="DELETE",
            ),
            _Endpoint(
                "DELETE deleted_users/{id}",
                "/deleted_users/{id:int}",
                self._delete_permanently,
                method="DELETE",
            ),
            _Endpoint(
                "users/{id}/tickets/requested",
                "/users/{id:int}/tickets/requested",
                self._requested,
                limit=TICKETS_INDEX,
            ),
            _Endpoint("tickets/show_many", "/tickets/show_many", self._show_many),
            _Endpoint("POST tickets", "/tickets", self._create, method="POST"),
            _Endpoint("tickets/{id}", "/tickets/{id:int}", self._ticket),
            _Endpoint(
                "PUT tickets/{id}", "/tickets/{id:int}", self._update, method="PUT"
            ),
            _Endpoint(
                "tickets/{id}/comments", "/tickets/{id:int}/comments", self._comments
            ),
            _Endpoint("search", "/search", self._search, limit=SEARCH_INDEX),
            _Endpoint("satisfaction_ratings", "/satisfaction_ratings", self._ratings),
        ]
        self.app = strip_json_suffix(
            Starlette(
                routes=[
                    Route(
                        "/api/v2" + e.path,
                        self._guarded(e.name, e.handler, e.limit),
                        methods=[e.method],
                    )
                    for e in endpoints
                ],
                exception_handlers=QUIET_DISCONNECTS,
            )
        )

    def _guarded(
        self, name: str, handler: Handler, limit: str | None = None
    ) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.requests.add(name)
            self.last_headers = request.headers
            async with answered_after(self.latency):
                response = await self._gate(request, limit) or await handler(request)
            response.headers.update(self.limits.headers(limit))
            return response

        return endpoint

    async def _gate(self, request: Request, limit: str | None) -> Response | None:
        failure = self.next_failure()
        if failure is not None:
            status, retry_after = failure
            if status == 429:
                return too_many(retry_after)
            return error(status)
        wait = self.limits.admit(limit)
        if wait is not None:
            return too_many(wait)
        if request.headers.get("Authorization") not in self._accepted:
            return JSONResponse(UNAUTHENTICATED, status_code=401)
        return None

    async def _users_show_many(self, request: Request) -> Response:
        ids = _ids(request.query_params.get("ids", ""))
        users = [self.desk.users[i] for i in ids[:100] if i in self.desk.users]
        return JSONResponse({"users": users})

    async def _user(self, request: Request) -> Response:
        user = self.desk.users.get(request.path_params["id"])
        if user is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse({"user": user})

    async def _delete_user(self, request: Request) -> Response:
        """Delete User: the user leaves ``users`` (and ``show_many``, search)
        for the deleted users, inactive; their tickets stay, as Zendesk keeps
        them."""
        user = self.desk.users.pop(request.path_params["id"], None)
        if user is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        user = {**user, "active": False}
        self.desk.deleted_users[user["id"]] = user
        return JSONResponse({"user": user})

    async def _delete_permanently(self, request: Request) -> Response:
        """Permanently Delete User: only a deleted user (404 otherwise, and
        for one already permanently deleted); their personal data is gone,
        their name ``Permanently Deleted User`` as Zendesk lists them."""
        user = self.desk.deleted_users.get(request.path_params["id"])
        if user is None or user["id"] in self.desk.permanently_deleted:
            return JSONResponse(NOT_FOUND, status_code=404)
        redacted = {
            "id": user["id"],
            "url": user.get("url"),
            "name": "Permanently Deleted User",
            "email": None,
            "phone": None,
            "active": False,
            "role": user.get("role", "end-user"),
            "created_at": user.get("created_at"),
            "updated_at": user.get("updated_at"),
        }
        self.desk.deleted_users[user["id"]] = redacted
        self.desk.permanently_deleted.add(user["id"])
        return JSONResponse({"deleted_user": redacted})

    async def _users_search(self, request: Request) -> Response:
        """``email:a email:b`` or ``phone:…`` terms, OR-ed per keyword."""
        query = parse(request.query_params.get("query", ""))
        users = [u for u in self.desk.users.values() if query.matches(u, USER_FIELDS)]
        return offset_page(request, users, "users")

    async def _requested(self, request: Request) -> Response:
        user_id = request.path_params["id"]
        if user_id not in self.desk.users:
            return JSONResponse(NOT_FOUND, status_code=404)
        tickets = [
            t for t in self.desk.tickets.values() if t["requester_id"] == user_id
        ]
        return cursor_or_offset(request, tickets, "tickets")

    async def _show_many(self, request: Request) -> Response:
        ids = _ids(request.query_params.get("ids", ""))
        tickets = [self.desk.tickets[i] for i in ids[:100] if i in self.desk.tickets]
        return JSONResponse({"tickets": tickets})

    async def _create(self, request: Request) -> Response:
        try:
            ticket = create_ticket(self.desk, await read_json(request))
        except Invalid as exc:
            return invalid(exc)
        self.search_index.write(ticket)
        return JSONResponse({"ticket": ticket}, status_code=201)

    async def _update(self, request: Request) -> Response:
        ticket_id = request.path_params["id"]
        if ticket_id not in self.desk.tickets:
            return JSONResponse(NOT_FOUND, status_code=404)
        try:
            ticket = update_ticket(self.desk, ticket_id, await read_json(request))
        except Invalid as exc:
            return invalid(exc)
        self.search_index.write(ticket)
        return JSONResponse({"ticket": ticket})

    async def _ticket(self, request: Request) -> Response:
        ticket = self.desk.tickets.get(request.path_params["id"])
        if ticket is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return JSONResponse({"ticket": ticket})

    async def _comments(self, request: Request) -> Response:
        comments = self.desk.comments.get(request.path_params["id"])
        if comments is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return cursor_or_offset(request, comments, "comments")

    async def _search(self, request: Request) -> Response:
        """Tickets (``type:ticket``) as the index holds them, newest first unless
        ``sort_order=asc``; repeated keywords OR-ed, different ones AND-ed."""
        try:
            query = parse(request.query_params.get("query", ""))
        except QueryTooLong as exc:
            return JSONResponse(
                {"error": "invalid", "description": str(exc)}, status_code=400
            )  # the limit is documented, this answer to it is not [unverified]
        if "ticket" not in query.properties.get("type", ()):
            return JSONResponse({"results": [], "next_page": None, "count": 0})
        results = [
            {**t, "result_type": "ticket"}
            for t in self.search_index.records()
            if query.matches(t, TICKET_FIELDS)
        ]
        key = (
            "updated_at"
            if request.query_params.get("sort_by") == "updated_at"
            else "created_at"
        )
        reverse = request.query_params.get("sort_order", "desc") == "desc"
        results.sort(key=lambda t: (t[key], t["id"]), reverse=reverse)
        return offset_page(request, results, "results", max_records=1000)

    async def _ratings(self, request: Request) -> Response:
        params = request.query_params
        ratings = self.desk.ratings
        if score := params.get("score"):
            ratings = [r for r in ratings if r["score"] == score]
        for name, keep in (("start_time", True), ("end_time", False)):
            if bound := params.get(name):
                edge = datetime.fromtimestamp(int(bound), UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                ratings = [r for r in ratings if (r["created_at"] >= edge) == keep]
        return cursor_or_offset(request, ratings, "satisfaction_ratings")

    async def send_webhook(
        self,
        url: str,
        event_type: str,
        detail: Mapping[str, object],
        secret: str,
        *,
        event: Mapping[str, object] | None = None,
        timestamp: str | None = None,
        event_id: str | None = None,
    ) -> httpx.Response:
        """POST a signed event-subscription delivery (``ticket.created`` …)."""
        return await send_event(
            url,
            event_type,
            detail,
            secret,
            event=event,
            timestamp=timestamp,
            event_id=event_id,
        )

    def ticket_event_detail(self, ticket_id: int) -> dict[str, object]:
        """A ticket as event subscriptions describe it."""
        return ticket_event_detail(self.desk.tickets[ticket_id])


def _ids(raw: str) -> list[int]:
    return [int(p) for p in raw.split(",") if p.strip().isdigit()]
