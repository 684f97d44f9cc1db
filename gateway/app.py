"""The Starlette application: routes and lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from gateway.admission.body_limit import BodyLimit
from gateway.audiences.service import sync_after_refresh
from gateway.automations import tasks as automation_tasks
from gateway.errors import describe
from gateway.http import access_log
from gateway.http.embed import EmbedCrossOrigin, embed_routes
from gateway.http.graphiql import static_routes
from gateway.http.graphql import GraphQLApp, HeldAnswers
from gateway.http.one_authorization import OneAuthorization
from gateway.http.refusals import http_refusal, without_head
from gateway.ingest import ingest_routes
from gateway.insights.http import export_route, scheduled_refresh
from gateway.jobs import recovery
from gateway.jobs.engine import BlueprintFactory
from gateway.jobs.worker import running_worker
from gateway.metrics import metrics_endpoint
from gateway.outbound import tasks as outbound_tasks
from gateway.outbound.publish import QUEUE as OUTBOUND_QUEUE
from gateway.privacy import tasks as privacy_tasks
from gateway.retention import tasks as retention_tasks
from gateway.runtime.services import Services, open_services
from gateway.runtime.shutdown import CloseWhenDraining, Drain
from gateway.settings import Settings
from gateway.webhooks import webhook_routes

log = logging.getLogger("gateway.app")

BLUEPRINTS: dict[str, BlueprintFactory] = {
    recovery.NAMESPACE: recovery.blueprint,
    automation_tasks.NAMESPACE: automation_tasks.blueprint,
    OUTBOUND_QUEUE: lambda settings: outbound_tasks.build_blueprint(),
    privacy_tasks.NAMESPACE: privacy_tasks.blueprint,
    retention_tasks.NAMESPACE: retention_tasks.blueprint,
}
"""The job engine's tasks by namespace (``gateway.jobs``): what a worker, in
this app's lifespan or ``customer-graph worker``, runs."""


GC_YOUNG = 10_000
"""Container allocations between two collections of the young generation
(CPython's default: 700). An uncached view holds thousands of decoded upstream
objects while it runs, and every young collection walks them: at 700 a view
paid ~2.5 such walks, 0.84 ms of its CPU; at 10,000 one in ~10 views does,
0.55 ms a view in all (docs/benchmarks.md, "The collector's young
generation, and the warm hit in one command"). Since a view's objects are in
no reference cycle (``tests/integration/gateway/test_cyclic_garbage.py``),
they are freed by their counts as it ends, and a young collection comes once
in ~500 uncached views."""


def settle_collector() -> None:
    """What exists now (schema, services, modules) lives as long as the
    process: left out of the garbage collector's full passes, which would
    rescan it all, pausing every request (the p99); and the young generation
    collected every ``GC_YOUNG`` allocations. A server process calls it once
    serving; ``python -m bench.instructions`` too, to count what it runs."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


class LazyGraphQL:
    """The GraphQL endpoint, built on first use: it needs the services, which
    the lifespan opens after the app is created."""

    def __init__(self, app: Starlette, ide_headers: Mapping[str, str] | None) -> None:
        self.app = app
        self.ide_headers = ide_headers
        self._view: GraphQLApp | None = None

    def build(self) -> GraphQLApp:
        if self._view is None:
            self._view = GraphQLApp(self.app.state.services, self.ide_headers)
        return self._view

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.build()(scope, receive, send)


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """Ready when the database answers and no SIGTERM came (503 from the
    drain's start, ``gateway.runtime.shutdown``); the ``shopify`` detail says
    which access scopes Shopify did not grant and what that hides
    (docs/shopify.md), ``upstreams`` each upstream's circuit breaker
    (docs/upstreams.md)."""
    if request.app.state.drain.active:  # SIGTERM: let the balancer drain us
        return JSONResponse({"status": "draining"}, status_code=503)
    services: Services = request.app.state.services
    upstreams: dict[str, object] = {}
    if services.shopify_scopes is not None:
        upstreams["shopify"] = services.shopify_scopes.detail()
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the log says which
        log.error("readiness check failed: %s", describe(exc))
        return JSONResponse(
            {"status": "unavailable", "database": "down", **upstreams},
            status_code=503,
        )
    detail: dict[str, object] = {"status": "ok", "database": "up", **upstreams}
    if services.guard is not None and services.guard.breakers:
        detail["upstreams"] = services.guard.detail()
    return JSONResponse(detail)


@asynccontextmanager
async def _running(
    app: Starlette,
    opener: AbstractAsyncContextManager[Services],
    settings: Settings,
    worker: bool,
) -> AsyncIterator[None]:
    """The services open, the scheduled refresh and (``worker``) a job
    worker running, the GraphQL endpoint built."""
    async with (
        opener as opened,
        scheduled_refresh(opened, sync_after_refresh),
        running_worker(opened.jobs, settings, opened, BLUEPRINTS)
        if worker
        else nullcontext(),
    ):
        app.state.services = opened
        app.state.graphql.build()
        yield


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    ide_headers: Mapping[str, str] | None = None,
    worker: bool | None = None,
) -> Starlette:
    """Build the gateway.

    Args:
        settings: configuration; read from ``CG_*`` variables when omitted.
            Without ``services`` this is a server process, and invalid or
            unsafe production settings stop it (``InvalidSettings``,
            ``UnsafeSettings``: one line).
        services: already-open services (tests, the demo); when omitted the
            lifespan opens them from ``settings`` and closes them on shutdown.
        ide_headers: headers GraphiQL starts with (the demo's API key).
        worker: whether the lifespan runs a job worker (``gateway.jobs``);
            by default a server process does when ``CG_JOBS_WORKER`` is on,
            and an app given open services (a test's) does not.
    """
    access_log.install()
    settings = settings or (services.settings if services else Settings.read())
    if services is None:  # a server process: refuse unsafe production settings
        settings.check_production()
    if worker is None:
        worker = services is None and settings.jobs_worker

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if services is not None:  # a test's app: no signals, no drain
            async with _running(app, nullcontext(services), settings, worker):
                yield
            return
        with drain.on_sigterm():
            async with _running(app, open_services(settings), settings, worker):
                settle_collector()
                drain.serving()
                yield

    app = Starlette(lifespan=lifespan, exception_handlers={HTTPException: http_refusal})
    # A path with a trailing slash is a path nothing serves (404), not a 307
    # to the path without it: Starlette builds that Location from the Host
    # header, whatever a client puts there.
    app.router.redirect_slashes = False
    drain = app.state.drain = Drain(settings.shutdown_drain_seconds)
    graphql = app.state.graphql = LazyGraphQL(app, ide_headers)
    app.add_middleware(HeldAnswers, endpoint=graphql.build)  # innermost: see it
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(OneAuthorization)  # outside the held answers too
    app.add_middleware(EmbedCrossOrigin)  # its refusals readable cross-origin
    app.add_middleware(CloseWhenDraining, drain=drain)  # its preflights too
    if services is not None:
        app.state.services = services
    routes: list[BaseRoute] = [
        without_head(Route("/graphql", graphql, methods=["GET", "POST"])),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        *webhook_routes(),
        export_route(),
        *static_routes(),
        *ingest_routes(),
        *embed_routes(),
    ]
    app.router.routes.extend(routes)
    return app
