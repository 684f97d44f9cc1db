"""Fixtures of the ingest tests: the gateway with both write keys set, and an
ASGI client per key (the public one ships in browsers, the server one not)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from gateway.app import create_app
from gateway.runtime.services import Services
from tests.integration.gateway.ingest.rows import SERVER_WRITE_KEY, WRITE_KEY


@pytest.fixture
def ingest_services(db: Services) -> Services:
    settings = db.settings.model_copy(
        update={
            "ingest_write_key": SecretStr(WRITE_KEY),
            "ingest_server_write_key": SecretStr(SERVER_WRITE_KEY),
        }
    )
    return dataclasses.replace(db, settings=settings)


async def _client(services: Services, key: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", auth=(key, "")
    ) as http:
        yield http


@pytest.fixture
async def ingest(ingest_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending with the public write key."""
    async for http in _client(ingest_services, WRITE_KEY):
        yield http


@pytest.fixture
async def trusted_ingest(
    ingest_services: Services,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending with the server write key."""
    async for http in _client(ingest_services, SERVER_WRITE_KEY):
        yield http
