"""The gateway on a database of a test's own: its settings, and a GraphQL
client over ASGI (as ``tests/conftest.py`` builds them for the shared one)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from gateway.app import create_app
from gateway.runtime.services import Services
from gateway.settings import Settings
from tests.conftest import ADMIN, ADMIN_KEY

LIST = "{ customers(first: 20) { edges { node { id email } } } }"
CREATE = "mutation($e: String!) { createCustomer(input: {email: $e}) { id } }"
NOTE = 'mutation($c: ID!) { addNote(customerId: $c, body: "Called back") { id } }'
SUMMARY = "{ rfmSummary { segment customers } }"


def settings_for(database_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=None,
        demo_api_key=SecretStr(ADMIN_KEY),
        rate_limit_per_minute=10_000_000,
        rate_limit_burst=10_000_000,
        read_deadline_seconds=30.0,
        retention_tracked_events_days=0,
        retention_audit_days=0,
        retention_webhook_payloads_days=0,
        jobs_retry_seconds=0,
        **overrides,
    )


@asynccontextmanager
async def graphql_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=ADMIN
    ) as client:
        yield client


async def graphql(
    client: httpx.AsyncClient, query: str, **variables: Any
) -> dict[str, Any]:
    """The answer's data; fails the test on any error."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data
