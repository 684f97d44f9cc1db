"""A PostHog private API on loopback, for tests and the demo.

Serves persons (``/persons/``), the deprecated events list (``/events/`` with its
``before=`` next link) and the HogQL query endpoint, which parses the query with
PostHog's own parser and runs it (``hogql_eval``) over the world's events and
persons. Both ``/api/projects/{id}/`` and the deprecated
``/api/environments/{id}/`` prefixes answer. Errors use PostHog's
``{"type", "code", "detail", "attr"}`` envelope (drf-exceptions-hog).

PostHog's limits are on by default: the throttles of ``throttles`` (120 HogQL
queries an hour per key; 240 a minute and 1200 an hour on persons and events),
each answered with PostHog's 429 and ``Retry-After``; a query that would run
longer than ``max_execution_time`` (60 s, posthog/hogql/constants.py
``HogQLGlobalSettings``) is PostHog's 504. Knobs::

    sim = PostHogSimulator(World(seed=7, size=50), latency=0.05)
    sim.query_budget.rate = 10_000  # a test that needs many queries says so
    sim.fail_next(1, status=503)
    sim.force_rate_limit(1, retry_after=0)
    sim.requests["query"]  # how many HogQL queries were sent
    sim.queries["person_distinct_ids"]  # how many of them read persons
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.demo_world import World
from connectors.posthog.simulator import throttles
from connectors.posthog.simulator.answers import TIMED_OUT, error, throttled
from connectors.posthog.simulator.data import Analytics, Person
from connectors.posthog.simulator.hogql_ast import HogQLError
from connectors.posthog.simulator.hogql_eval import evaluate
from connectors.posthog.simulator.hogql_parse import ParserFailure
from connectors.simulator_server import (
    QUIET_DISCONNECTS,
    InjectedFailures,
    RequestCounter,
    answered_after,
)

Handler = Callable[[Request], Awaitable[Response]]


def rest_time(moment: datetime) -> str:
    """Events REST time: ``astimezone().isoformat()``, e.g. ``…402000+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class PostHogSimulator(InjectedFailures):
    def __init__(
        self,
        world: World,
        *,
        project_id: int = 1,
        api_key: str = "phx_demo",
        latency: float = 0.0,
        queries_per_hour: int = throttles.QUERIES_PER_HOUR,
        rate_limit_per_minute: int = throttles.BURST_PER_MINUTE,
        max_execution_time: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.analytics = Analytics(world)
        self.project_id = project_id
        self.api_key = api_key
        self.latency = latency
        self.max_execution_time = max_execution_time
        self.clock = clock
        self.query_budget = throttles.Throttle(queries_per_hour, throttles.HOUR)
        """The HogQL queries a key may send per hour; raise ``rate`` to allow more."""
        analytics = (
            throttles.Throttle(rate_limit_per_minute, 60.0),
            throttles.Throttle(throttles.SUSTAINED_PER_HOUR, throttles.HOUR),
        )
        self._throttles: dict[str, tuple[throttles.Throttle, ...]] = {
            "query": (self.query_budget,),
            "persons": analytics,
            "events": analytics,
        }
        self.requests = RequestCounter()
        self.queries = RequestCounter()
        """Answered HogQL queries by the tables they read."""
        self.last_headers = Headers()
        self.last_results: list[list[Any]] = []
        """Rows of the last answered HogQL query."""
        super().__init__()
        routes = []
        for prefix in (
            "/api/projects/{project:int}",
            "/api/environments/{project:int}",
        ):
            routes += [
                Route(f"{prefix}/persons/", self._guarded("persons", self._persons)),
                Route(
                    f"{prefix}/persons/{{person_id}}/",
                    self._guarded("persons", self._delete_person),
                    methods=["DELETE"],
                ),
                Route(f"{prefix}/events/", self._guarded("events", self._events)),
                Route(
                    f"{prefix}/query/",
                    self._guarded("query", self._query),
                    methods=["POST"],
                ),
            ]
        self.app = Starlette(routes=routes, exception_handlers=QUIET_DISCONNECTS)

    def _guarded(self, name: str, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            self.requests.add(name)
            self.last_headers = request.headers
            latency = self.latency
            if name == "query":
                latency = min(latency, self.max_execution_time)
            async with answered_after(latency):
                return self._gate(request, name) or await handler(request)

        return endpoint

    def _gate(self, request: Request, name: str) -> Response | None:
        failure = self.next_failure()
        if failure is not None:
            status, retry_after = failure
            return throttled(retry_after) if status == 429 else error(status)
        header = request.headers.get("Authorization")
        if header is None:
            detail = "Authentication credentials were not provided."
            return error(401, detail, "not_authenticated")
        if header != f"Bearer {self.api_key}":
            return error(401)
        if request.path_params["project"] != self.project_id:
            return error(404)
        refused, wait = throttles.refusal(self._throttles[name], self.clock())
        return throttled(wait) if refused else None

    def _person_json(self, person: Person) -> dict[str, Any]:
        last_seen = self.analytics.last_seen(person)
        created = person.customer.signed_up_at
        return {
            "id": person.id,
            "name": person.properties["email"],
            "distinct_ids": list(person.distinct_ids),
            "properties": person.properties,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "uuid": person.uuid,
            "last_seen_at": last_seen.isoformat().replace("+00:00", "Z")
            if last_seen
            else None,
        }

    async def _persons(self, request: Request) -> Response:
        params = request.query_params
        people = self.analytics.persons
        if distinct_id := params.get("distinct_id"):
            people = [p for p in people if distinct_id in p.distinct_ids]
        if email := params.get("email"):
            people = [p for p in people if p.properties["email"] == email]
        if raw := params.get("properties"):
            try:
                wanted = {f["key"]: f["value"] for f in json.loads(raw)}
            except (ValueError, TypeError, KeyError):
                return error(400, "Invalid properties filter")
            people = [
                p
                for p in people
                if all(p.properties.get(k) == v for k, v in wanted.items())
            ]
        if search := params.get("search"):
            people = [
                p
                for p in people
                if search.lower() in p.properties["email"] or search in p.distinct_ids
            ]
        offset = int(params.get("offset", "0"))
        limit = min(int(params.get("limit", "100")), 1000)
        page = people[offset : offset + limit]
        more = offset + limit < len(people)
        next_url = (
            str(request.url.include_query_params(offset=offset + limit))
            if more
            else None
        )
        return JSONResponse(
            {
                "next": next_url,
                "previous": None,
                "count": len(people),
                "results": [self._person_json(p) for p in page],
            }
        )

    async def _delete_person(self, request: Request) -> Response:
        """``DELETE /persons/{id}/`` (a numeric id or the uuid): 202, the
        person gone from the persons API and HogQL's ``person_distinct_ids``;
        with ``delete_events=true`` their events too (which PostHog deletes
        in the background; here at once)."""
        wanted = request.path_params["person_id"]
        person = self.analytics.person(wanted)
        if person is None:
            return error(404)
        events = request.query_params.get("delete_events") == "true"
        self.analytics.delete(person, events=events)
        return Response(status_code=202)

    async def _events(self, request: Request) -> Response:
        params = request.query_params
        now = datetime.now(UTC)
        try:
            since = params.get("after") or (now - timedelta(days=1)).isoformat()
            until = params.get("before") or (now + timedelta(seconds=5)).isoformat()
            after, before = datetime.fromisoformat(since), datetime.fromisoformat(until)
            limit = min(int(params.get("limit", "100")), 1000)
        except ValueError as exc:
            return error(400, str(exc))
        wanted = {params["distinct_id"]} if "distinct_id" in params else None
        rows = [
            e
            for e in self.analytics.rows(frozenset(wanted) if wanted else None)
            if after <= e["timestamp"] < before
            and params.get("event", e["event"]) == e["event"]
        ]
        rows.sort(key=lambda e: e["timestamp"], reverse=True)
        page = rows[:limit]
        next_url = None
        if len(rows) > limit:
            last = rest_time(page[-1]["timestamp"])
            next_url = str(request.url.include_query_params(before=last))
        return JSONResponse(
            {"next": next_url, "results": [self._event_json(e) for e in page]}
        )

    def _event_json(self, event: dict[str, Any]) -> dict[str, Any]:
        person = self.analytics.by_distinct_id[event["distinct_id"]]
        return {
            "id": event["uuid"],
            "distinct_id": event["distinct_id"],
            "properties": event["properties"],
            "event": event["event"],
            "timestamp": rest_time(event["timestamp"]),
            "person": None
            if event["anonymous"]
            else {
                "is_identified": True,
                "distinct_ids": [person.distinct_ids[0]],
                "properties": {
                    "email": person.properties["email"],
                    "name": person.properties["name"],
                },
            },
            "elements": [],
            "elements_chain": "",
        }

    async def _query(self, request: Request) -> Response:
        try:
            body = await request.json()
            query = body["query"]
            if query.get("kind") != "HogQLQuery" or not isinstance(query["query"], str):
                raise HogQLError("The PostHog simulator runs only HogQLQuery")
            started = time.perf_counter()
            result = evaluate(
                query["query"], self.analytics.table, now=datetime.now(UTC)
            )
        except HogQLError as exc:
            return error(400, str(exc), exc.code)
        except ParserFailure:
            return error(500)
        except (ValueError, KeyError, TypeError, AttributeError):
            return error(400, "Malformed query body")
        if self.latency > self.max_execution_time:
            return error(504, TIMED_OUT)
        for table in result.tables:
            self.queries.add(table)
        self.last_results = result.results
        return JSONResponse(
            {
                "results": result.results,
                "columns": result.columns,
                "types": result.types,
                "hasMore": result.has_more,
                "limit": result.limit,
                "offset": 0,
                "hogql": query["query"],
                "clickhouse": None,
                "error": None,
                "explain": None,
                "metadata": None,
                "modifiers": {},
                "query_status": None,
                "is_cached": False,
                "timezone": "UTC",
                "timings": [{"k": "./evaluate", "t": time.perf_counter() - started}],
            }
        )
