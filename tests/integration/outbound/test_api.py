"""Outbound webhooks through GraphQL: admin only, on every root field, and the
whole loop — save, deliver, read the log, dead letter, retryDelivery,
replayDelivery, disable, enable, delete."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.auth.keys import create_key
from gateway.auth.policy import Role
from gateway.outbound.publish import publish
from gateway.runtime.services import Services
from tests.conftest import ADMIN
from tests.integration.outbound.conftest import Inbox, eventually, worker

ADMIN_FIELDS = {
    "webhookEndpoints": "{ webhookEndpoints { edges { node { id } } } }",
    "webhookDeliveries": "{ webhookDeliveries { edges { node { id } } } }",
    "createWebhookEndpoint": 'mutation { createWebhookEndpoint(url: "https://93.184.215.14/h")'
    " { secret } }",
}


@pytest.mark.parametrize("field", ADMIN_FIELDS)
@pytest.mark.parametrize("role", [r for r in Role if r is not Role.EMBED], ids=str)
async def test_only_the_admin_role_reaches_outbound_webhooks(
    client: httpx.AsyncClient, db: Services, role: Role, field: str
) -> None:
    key, _ = await create_key(db.sessions, f"{role}-{time.monotonic_ns()}", role)
    response = await client.post(
        "/graphql",
        json={"query": ADMIN_FIELDS[field]},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    if role is Role.ADMIN:
        assert response.status_code == 200, body
        assert "errors" not in body, body
        return
    assert response.status_code == 403, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


@pytest.fixture
async def api(outbound: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=outbound))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=ADMIN
    ) as http:
        yield http


async def run(api: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await api.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


DELIVERIES = """
query($endpoint: ID, $status: WebhookDeliveryStatus) {
  webhookDeliveries(endpointId: $endpoint, status: $status, first: 10) {
    edges { node { id messageId status attempts
                   log { outcome statusCode errorClass responseExcerpt } } }
  }
}"""


async def test_dead_letter_retry_and_replay_through_the_api(
    api: httpx.AsyncClient, outbound: Services, inbox: Inbox
) -> None:
    created = await run(
        api,
        "mutation($url: String!) { createWebhookEndpoint(url: $url,"
        ' description: "crm") { secret endpoint { id enabled } } }',
        url=inbox.url("api"),
    )
    endpoint = created["createWebhookEndpoint"]["endpoint"]["id"]
    inbox.secrets["api"] = [created["createWebhookEndpoint"]["secret"]]
    inbox.script["api"] = [500, 500, 500]
    await publish(outbound, "customer.updated", {"id": 1})

    async def count(status: str, n: int) -> bool:
        data = await run(api, DELIVERIES, endpoint=endpoint, status=status)
        return len(data["webhookDeliveries"]["edges"]) == n

    async with worker(outbound):
        await eventually(lambda: count("DEAD", 1))
        dead = (await run(api, DELIVERIES, endpoint=endpoint, status="DEAD"))[
            "webhookDeliveries"
        ]["edges"][0]["node"]
        assert dead["attempts"] == 3
        assert [a["statusCode"] for a in dead["log"]] == [500, 500, 500]
        retried = await run(
            api,
            "mutation($id: ID!) { retryDelivery(id: $id) { status } }",
            id=dead["id"],
        )
        assert retried["retryDelivery"]["status"] in {"PENDING", "SENDING", "DELIVERED"}
        await eventually(lambda: count("DELIVERED", 1))
        refused = await api.post(
            "/graphql",
            json={
                "query": "mutation($id: ID!) { retryDelivery(id: $id) { status } }",
                "variables": {"id": dead["id"]},
            },
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "CONFLICT"
        await run(
            api, "mutation($id: ID!) { replayDelivery(id: $id) { id } }", id=dead["id"]
        )
        await eventually(lambda: len(inbox.of("api")) == 5)
        await eventually(lambda: count("DELIVERED", 1))
    assert len({r.msg_id for r in inbox.of("api")}) == 1
    assert all(r.verified for r in inbox.of("api"))
    toggled = await run(
        api,
        "mutation($id: ID!) { disableWebhookEndpoint(id: $id) { enabled disabledReason }"
        " }",
        id=endpoint,
    )
    assert toggled["disableWebhookEndpoint"] == {
        "enabled": False,
        "disabledReason": "operator",
    }
    assert await publish(outbound, "customer.updated", {"id": 2}) == []
    await run(
        api, "mutation($id: ID!) { enableWebhookEndpoint(id: $id) { id } }", id=endpoint
    )
    rotated = await run(
        api,
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint"
        " { previousSecretExpiresAt } } }",
        id=endpoint,
    )
    assert rotated["rotateWebhookSecret"]["secret"] != inbox.secrets["api"][0]
    assert rotated["rotateWebhookSecret"]["endpoint"]["previousSecretExpiresAt"]
    deleted = await run(
        api, "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }", id=endpoint
    )
    assert deleted["deleteWebhookEndpoint"] == endpoint
    assert (await run(api, DELIVERIES))["webhookDeliveries"]["edges"] == []
