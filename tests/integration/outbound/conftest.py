"""Outbound webhooks end to end: a real receiver on loopback that verifies each
delivery with the Standard Webhooks reference library, the job engine
(procrastinate: in memory beside SQLite, on the test PostgreSQL database with
its own schema beside PostgreSQL) and a worker of our blueprint."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from procrastinate import App, PsycopgConnector
from procrastinate.testing import InMemoryConnector
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.simulator_server import serve_app
from gateway.outbound import endpoints
from gateway.outbound.tasks import build_blueprint
from gateway.runtime.services import Services, outbound_client
from tests.conftest import ANSWER_WAIT

OUTBOUND_SETTINGS: dict[str, Any] = {
    "outbound_allow_private_targets": True,
    "outbound_backoff_seconds": 0.0,
    "outbound_max_attempts": 3,
    "outbound_read_timeout": ANSWER_WAIT,
    "outbound_connect_timeout": 2.0,
    "outbound_endpoint_concurrency": 2,
}
"""Retries at once, three attempts, two lanes; a read timeout no loaded
machine reaches (a delivery the receiver got but the sender gave up on is
sent again: a test of timeouts makes its own, ``impatient``)."""


@dataclass
class Received:
    name: str
    msg_id: str
    body: bytes
    headers: dict[str, str]
    verified: bool


@dataclass
class Inbox:
    """What each path of the receiver answers and what it got."""

    secrets: dict[str, list[str]] = field(default_factory=dict)
    """Path → the secrets a delivery must verify with (each, separately)."""
    script: dict[str, list[int]] = field(default_factory=dict)
    """Path → statuses to answer, first to last; then 200."""
    delay: dict[str, float] = field(default_factory=dict)
    gate: dict[str, asyncio.Event] = field(default_factory=dict)
    """Path → an event each request waits for before answering."""
    received: list[Received] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    most_in_flight: dict[str, int] = field(default_factory=dict)
    base_url: str = ""

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def of(self, name: str) -> list[Received]:
        return [r for r in self.received if r.name == name]

    async def handle(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        headers = dict(request.headers)
        self.in_flight[name] = self.in_flight.get(name, 0) + 1
        self.most_in_flight[name] = max(
            self.most_in_flight.get(name, 0), self.in_flight[name]
        )
        try:
            if name in self.gate:
                await self.gate[name].wait()
            if name in self.delay:
                await asyncio.sleep(self.delay[name])
        finally:
            self.in_flight[name] -= 1
        verified = bool(self.secrets.get(name)) and all(
            _verifies(secret, body, headers) for secret in self.secrets[name]
        )
        self.received.append(
            Received(name, headers.get("webhook-id", ""), body, headers, verified)
        )
        statuses = self.script.get(name) or []
        status = statuses.pop(0) if statuses else 200
        text = "" if status < 300 else "boom: jane@example.com 4111111111111111\x00"
        return Response(text, status_code=status)


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@pytest.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    app = Starlette(routes=[Route("/{name}", box.handle, methods=["POST"])])
    async with serve_app(app) as base_url:
        box.base_url = base_url
        yield box


def _conninfo(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def open_jobs(database_url: str, empty: bool = True) -> App:
    """A job engine app of our blueprint alone, opened: in memory beside
    SQLite, on the test database beside PostgreSQL (its schema is migration
    0015's; its jobs emptied unless ``empty`` is false)."""
    if database_url.startswith("sqlite"):
        app = App(connector=InMemoryConnector())
    else:
        app = App(connector=PsycopgConnector(conninfo=_conninfo(database_url)))
    app.add_tasks_from(build_blueprint(), namespace="outbound")
    await app.open_async()
    if isinstance(app.connector, PsycopgConnector) and empty:
        await app.connector.execute_query_async(
            "TRUNCATE procrastinate_jobs, procrastinate_periodic_defers CASCADE"
        )
    return app


@pytest.fixture
async def outbound(db: Services, database_url: str) -> AsyncIterator[Services]:
    """The services with outbound settings of the tests' own and a job engine."""
    settings = db.settings.model_copy(update=OUTBOUND_SETTINGS)
    jobs = await open_jobs(database_url)
    client = outbound_client(settings)
    services = dataclasses.replace(
        db, settings=settings, jobs=jobs, outbound_http=client
    )
    try:
        yield services
    finally:
        await client.aclose()
        await jobs.close_async()


@contextlib.asynccontextmanager
async def impatient(services: Services, seconds: float) -> AsyncIterator[Services]:
    """``services`` whose deliveries give up reading an answer after ``seconds``."""
    client = outbound_client(
        services.settings.model_copy(update={"outbound_read_timeout": seconds})
    )
    try:
        yield dataclasses.replace(services, outbound_http=client)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def worker(
    services: Services, jobs: App | None = None, concurrency: int = 4
) -> AsyncIterator[asyncio.Task[None]]:
    """A worker of ``jobs`` (the services' app by default) until the block
    ends; then stopped as a shutdown stops it (running jobs finish)."""
    app = jobs or services.jobs
    assert app is not None
    task = asyncio.create_task(
        app.run_worker_async(
            concurrency=concurrency,
            additional_context={"services": services},
            install_signal_handlers=False,
            fetch_job_polling_interval=0.05,
            abort_job_polling_interval=0.5,
            wait=True,
        )
    )
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def eventually(check: Callable[[], Any], bound: float = 30.0) -> None:
    """Wait until ``check()`` is truthy (awaited if a coroutine); fail past
    ``bound`` seconds (a bound on a hang, not a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def endpoint_for(
    services: Services, inbox: Inbox, name: str, event_types: list[str] | None = None
) -> int:
    """An endpoint posting to ``inbox``'s path ``name``, its secret taught to
    the receiver."""
    created = await endpoints.create(
        services.sessions,
        services.sealer,
        inbox.url(name),
        event_types or [],
        None,
        True,
    )
    inbox.secrets[name] = [created.secret]
    return created.endpoint.id
