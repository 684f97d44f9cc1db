"""A Zendesk Support API on loopback, for tests and the demo.

Serves the endpoints ``ZendeskConnector`` uses, with Zendesk's shapes: cursor
pagination (``meta``/``links`` with percent-encoded ``page%5Bafter%5D``), offset
pagination (``next_page``/``previous_page``/``count``, 400 beyond 10,000 records,
422 beyond search's 1,000), the 401/404/429 bodies, ``X-Rate-Limit`` headers and
signed event-subscription webhooks. Knobs let tests inject failures::

    sim = ZendeskSimulator(World(seed=7, size=50), latency=0.05)
    sim.fail_next(2, status=503)
    sim.force_rate_limit(1, retry_after=0)
    async with serve_app(sim.app) as base_url: ...
    sim.requests["search"]  # how many calls the search endpoint got
"""

from __future__ import annotations

import base64
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.demo_world import World
from connectors.simulator_server import (
    InjectedFailures,
    RequestCounter,
    answered_after,
)
from connectors.zendesk.simulator.data import build_help_desk
from connectors.zendesk.simulator.pages import cursor_or_offset, offset_page
from connectors.zendesk.simulator.webhooks import send_event, ticket_event_detail

Handler = Callable[[Request], Awaitable[Response]]

NOT_FOUND = {"error": "RecordNotFound", "description": "Not found"}
UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
_ERROR_BODIES: dict[int, dict[str, str]] = {
    401: UNAUTHENTICATED,
    403: {"error": "Forbidden", "description": "You do not have access"},
    404: NOT_FOUND,
}


class ZendeskSimulator(InjectedFailures):
    def __init__(
        self,
        world: World,
        *,
        email: str = "agent@northwind.example",
        api_token: str = "zd-demo-token",
        oauth_token: str | None = None,
        latency: float = 0.0,
        rate_limit_per_minute: int = 700,
    ) -> None:
        self.desk = build_help_desk(world)
        self.latency = latency
        self.rate_limit_per_minute = rate_limit_per_minute
        self.requests = RequestCounter()
        raw = f"{email}/token:{api_token}".encode()
        self._accepted = {"Basic " + base64.b64encode(raw).decode()}
        if oauth_token:
            self._accepted.add(f"Bearer {oauth_token}")
        self.last_headers = Headers()
        super().__init__()
        self._recent: deque[float] = deque()
        routes = [
            ("users/show_many", "/api/v2/users/show_many", self._users_show_many),
            ("users/search", "/api/v2/users/search", self._users_search),
            ("users/{id}", "/api/v2/users/{id:int}", self._user),
            (
                "users/{id}/tickets/requested",
                "/api/v2/users/{id:int}/tickets/requested",
                self._requested,
            ),
            ("tickets/show_many", "/api/v2/tickets/show_many", self._tickets_show_many),
            ("tickets/{id}", "/api/v2/tickets/{id:int}", self._ticket),
            (
                "tickets/{id}/comments",
                "/api/v2/tickets/{id:int}/comments",
                self._comments,
            ),
            ("search", "/api/v2/search", self._search),
            ("satisfaction_ratings", "/api/v2/satisfaction_ratings", self._ratings),
        ]
        self.app = _strip_json_suffix(
            Starlette(routes=[Route(p, self._guarded(n, h)) for n, p, h in routes])
        )

    def _guarded(self, name: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.requests.add(name)
            self.last_headers = request.headers
            async with answered_after(self.latency):
                response = await self._gate(request) or await handler(request)
            remaining = max(0, self.rate_limit_per_minute - len(self._recent))
            response.headers["X-Rate-Limit"] = str(self.rate_limit_per_minute)
            response.headers["X-Rate-Limit-Remaining"] = str(remaining)
            return response

        return endpoint

    async def _gate(self, request: Request) -> Response | None:
        failure = self.next_failure()
        if failure is not None:
            status, retry_after = failure
            if status == 429:
                return _too_many(retry_after)
            body = _ERROR_BODIES.get(status, {"error": "ServiceUnavailable"})
            return JSONResponse(body, status_code=status)
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit_per_minute:
            return _too_many(int(60 - (now - self._recent[0])) + 1)
        self._recent.append(now)
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

    async def _users_search(self, request: Request) -> Response:
        terms = request.query_params.get("query", "").split()
        phones = {t.removeprefix("phone:") for t in terms if t.startswith("phone:")}
        emails = {
            t.removeprefix("email:").lower()
            for t in terms
            if not t.startswith("phone:")
        }
        users = [
            u
            for u in self.desk.users.values()
            if u["email"] in emails or (u["phone"] and u["phone"] in phones)
        ]
        return offset_page(request, users, "users")

    async def _requested(self, request: Request) -> Response:
        user_id = request.path_params["id"]
        if user_id not in self.desk.users:
            return JSONResponse(NOT_FOUND, status_code=404)
        tickets = [
            t for t in self.desk.tickets.values() if t["requester_id"] == user_id
        ]
        return cursor_or_offset(request, tickets, "tickets")

    async def _tickets_show_many(self, request: Request) -> Response:
        ids = _ids(request.query_params.get("ids", ""))
        tickets = [self.desk.tickets[i] for i in ids[:100] if i in self.desk.tickets]
        return JSONResponse({"tickets": tickets})

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
        """``type:ticket requester:ID …``: repeated ``requester:`` terms are OR-ed."""
        terms = request.query_params.get("query", "").split()
        if "type:ticket" not in terms:
            return JSONResponse({"results": [], "next_page": None, "count": 0})
        requesters = {
            int(t.removeprefix("requester:"))
            for t in terms
            if t.startswith("requester:") and t.removeprefix("requester:").isdigit()
        }
        results = [
            {**t, "result_type": "ticket"}
            for t in self.desk.tickets.values()
            if not requesters or t["requester_id"] in requesters
        ]
        reverse = request.query_params.get("sort_order", "desc") == "desc"
        results.sort(key=lambda t: t["created_at"], reverse=reverse)
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


def _too_many(retry_after: float) -> Response:
    return Response(
        "You have exceeded the rate limit. Please wait before trying again.",
        status_code=429,
        headers={"Retry-After": str(int(retry_after))},
        media_type="text/plain",
    )


def _strip_json_suffix(app: ASGIApp) -> ASGIApp:
    """Zendesk accepts every path with or without ``.json``."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path")
        if isinstance(path, str) and path.endswith(".json"):
            scope = {**scope, "path": path.removesuffix(".json")}
        await app(scope, receive, send)

    return asgi
