"""The ingest driven by both official Python libraries over real HTTP (uvicorn):
Segment's ``segment-analytics-python`` and RudderStack's ``rudder-sdk-python``,
each pointed at the gateway with nothing but its host and write key.

The two send differently: RudderStack's puts identify traits only in
``context.traits`` and gzips every request by default; Segment's puts them
top-level and gzips when asked (``Client(gzip=True)``). Both post
``/v1/batch`` with the write key as the Basic user name and set ``timestamp``
on every message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from rudderstack.analytics import Client as RudderClient
from rudderstack.analytics.request import APIError as RudderAPIError
from segment.analytics import Client as SegmentClient
from segment.analytics.request import APIError as SegmentAPIError
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db import models
from gateway.runtime.services import Services
from tests.integration.gateway.ingest.rows import (
    SERVER_WRITE_KEY,
    WRITE_KEY,
    count,
    customer_by_email,
    events,
    preferences,
)


@dataclass
class Seen:
    """What reached the gateway: (path, Content-Encoding, Authorization scheme)."""

    requests: list[tuple[str, str, str]]


class Recorder:
    """An ASGI wrapper noting each request's path and headers, then passing it on."""

    def __init__(self, app: ASGIApp, seen: Seen) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            self.seen.requests.append(
                (
                    scope["path"],
                    headers.get(b"content-encoding", b"").decode(),
                    headers.get(b"authorization", b"").decode().partition(" ")[0],
                )
            )
        await self.app(scope, receive, send)


@pytest.fixture
async def gateway(ingest_services: Services) -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen([])
    app = Recorder(create_app(services=ingest_services), seen)
    async with serve_app(app) as base_url:
        yield base_url, seen


Library = Callable[..., Any]
LIBRARIES: dict[str, Library] = {
    # RudderStack's default is gzip on; Segment's off, so it is turned on here
    # (its default, plain JSON, is what test_ingest.py's library tests send).
    "rudderstack": lambda key, host, **kw: RudderClient(key, host=host, **kw),
    "segment": lambda key, host, **kw: SegmentClient(key, host=host, gzip=True, **kw),
}


async def call(client: Any, method: str, *args: Any, **kwargs: Any) -> None:
    await asyncio.to_thread(getattr(client, method), *args, **kwargs)


async def test_rudderstacks_identify_creates_the_customer_with_its_traits(
    gateway: tuple[str, Seen], db: Services
) -> None:
    """The bug of issue 16: answered 200, nothing created."""
    host, seen = gateway
    rudder = RudderClient(WRITE_KEY, host=host, sync_mode=True)
    await call(
        rudder,
        "identify",
        "user-42",
        {"email": "Maya.Lopez@Example.com", "firstName": "Maya", "plan": "pro"},
    )
    customer = await customer_by_email(db, "maya.lopez@example.com")
    assert customer is not None
    assert customer.first_name == "Maya"
    assert await preferences(db, customer.id) == {"plan": "pro"}
    (identify,) = await events(db)
    assert identify.customer_id == customer.id
    assert identify.properties == {
        "email": "Maya.Lopez@Example.com",
        "firstName": "Maya",
        "plan": "pro",
    }
    assert seen.requests == [("/v1/batch", "gzip", "Basic")]


@pytest.mark.parametrize("library", LIBRARIES)
async def test_each_library_identifies_tracks_pages_groups_and_aliases(
    gateway: tuple[str, Seen], db: Services, library: str
) -> None:
    host, seen = gateway
    client = LIBRARIES[library](SERVER_WRITE_KEY, host, sync_mode=True)
    backfilled = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    traits = {
        "email": "ana@example.com",
        "name": "Ana Silva",
        "phone": "+49 30 1234567",
        "address": {"country": "DE", "city": "Berlin"},
        "plan": "team",
    }
    await call(client, "identify", "u-1", traits)
    await call(client, "track", "u-1", "Order Completed", {"total": 42.5})
    await call(client, "track", "u-1", "Imported", {}, timestamp=backfilled)
    await call(client, "page", "u-1", "Docs", "Install", {"path": "/docs"})
    await call(client, "screen", "u-1", "App", "Home")
    await call(client, "group", "u-1", "acme", {"name": "Acme", "seats": 12})
    await call(client, "alias", "u-1", "u-1-new")
    await call(client, "track", "u-1-new", "Logged In")

    customer = await customer_by_email(db, "ana@example.com")
    assert customer is not None
    assert (customer.first_name, customer.last_name) == ("Ana", "Silva")
    assert customer.phone == "+49301234567"
    assert await preferences(db, customer.id) == {"plan": "team"}
    assert await count(db, models.Customer) == 1
    async with db.sessions() as session:
        links = await session.execute(
            select(models.Identity.external_id, models.Identity.linked_by)
        )
        address = await session.scalar(select(models.Address))
    assert sorted(links) == [("u-1", "identify"), ("u-1-new", "alias")]
    assert address is not None
    assert (address.country, address.city) == ("DE", "Berlin")

    stored = await events(db)
    assert [(e.type, e.name, e.customer_id) for e in stored] == [
        ("identify", None, customer.id),
        ("track", "Order Completed", customer.id),
        ("track", "Imported", customer.id),
        ("page", "Install", customer.id),
        ("screen", "Home", customer.id),
        ("group", "acme", customer.id),
        ("alias", None, customer.id),
        ("track", "Logged In", customer.id),
    ]
    assert stored[0].properties == traits
    assert stored[1].properties == {"total": 42.5}
    assert stored[2].occurred_at == backfilled
    assert stored[3].properties == {"path": "/docs", "category": "Docs"}
    assert stored[5].properties == {"name": "Acme", "seats": 12}
    assert stored[6].properties == {"previousId": "u-1"}
    assert {e.context["library"]["name"] for e in stored} == {"analytics-python"}
    assert len({e.message_id for e in stored}) == 8
    assert seen.requests == [("/v1/batch", "gzip", "Basic")] * 8


@pytest.mark.parametrize("library", LIBRARIES)
async def test_each_library_batches_in_the_background_and_flushes(
    gateway: tuple[str, Seen], db: Services, library: str
) -> None:
    host, seen = gateway
    client = LIBRARIES[library](WRITE_KEY, host, upload_interval=0.05, upload_size=10)
    try:
        client.identify("user-0", {"email": "zero@example.com", "plan": "pro"})
        for i in range(25):
            client.track(f"user-{i % 3}", "Clicked", {"i": i})
        await asyncio.to_thread(client.flush)
    finally:
        await asyncio.to_thread(client.join)
    stored = await events(db)
    assert len(stored) == 26
    assert sorted(e.properties["i"] for e in stored if e.type == "track") == list(
        range(25)
    )
    customer = await customer_by_email(db, "zero@example.com")
    assert customer is not None
    assert await preferences(db, customer.id) == {"plan": "pro"}
    assert {e.customer_id for e in stored if e.user_id == "user-0"} == {customer.id}
    assert {e.customer_id for e in stored if e.user_id != "user-0"} == {None}
    assert 3 <= len(seen.requests) <= 26  # batches of at most 10
    assert {(path, coding) for path, coding, _ in seen.requests} == {
        ("/v1/batch", "gzip")
    }


@pytest.mark.parametrize("library", LIBRARIES)
async def test_each_library_sees_a_wrong_write_key_as_a_401(
    gateway: tuple[str, Seen], db: Services, library: str
) -> None:
    host, _ = gateway
    client = LIBRARIES[library]("not-the-key", host, sync_mode=True)
    error = RudderAPIError if library == "rudderstack" else SegmentAPIError
    with pytest.raises(error) as raised:
        await call(client, "track", "user-1", "Clicked")
    assert (raised.value.status, raised.value.code) == (401, "unauthorized")
    assert await count(db, models.TrackedEvent) == 0
