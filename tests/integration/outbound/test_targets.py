"""Where deliveries may go: bad URLs refused through the API with the field
and nothing saved; non-public addresses refused when saved unless allowed,
and again at delivery time (a name that resolves to loopback later)."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from gateway.errors import BadUserInput
from gateway.outbound import deliveries
from gateway.outbound.publish import publish
from gateway.outbound.tables import OutboundEndpoint
from gateway.outbound.targets import check_target
from gateway.runtime.services import Services
from tests.conftest import GraphQL
from tests.integration.outbound.conftest import (
    Inbox,
    endpoint_for,
    eventually,
    worker,
)

CREATE = """
mutation($url: String!) {
  createWebhookEndpoint(url: $url, eventTypes: ["order.placed"]) {
    secret endpoint { id url }
  }
}"""

BAD_URLS = [
    "ftp://example.com/hook",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "example.com/hook",
    "http://",
    "https://user:password@example.com/hook",
    "http://exa mple.com/",
    "https://nothing.invalid/hook",
    "https://example.com/" + "a" * 2100,
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_a_bad_url_is_refused_with_its_field_and_nothing_saved(
    gql: GraphQL, db: Services, url: str
) -> None:
    answer = await gql(CREATE, {"url": url})
    assert answer["data"] is None
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "url"
    async with db.sessions() as session:
        assert await session.scalar(select(func.count(OutboundEndpoint.id))) == 0


PRIVATE = [
    "http://127.0.0.1:8080/hook",
    "http://[::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.9/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://localhost/hook",
    # IPv6 addresses that carry an IPv4 one to its host (found by a tryout)
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a00:1]/",  # local-use NAT64 of 10.0.0.1
    "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "http://[::127.0.0.1]/",  # IPv4-compatible
]
PUBLIC_CARRIED = [
    "http://[64:ff9b::808:808]/",  # NAT64 of 8.8.8.8
    "http://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("url", PRIVATE)
async def test_a_non_public_target_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(BadUserInput) as refused:
        await check_target(url, allow_private=False)
    assert refused.value.extensions == {"field": "url"}
    assert await check_target(url, allow_private=True)


@pytest.mark.parametrize("url", PUBLIC_CARRIED)
async def test_an_ipv6_address_carrying_a_public_ipv4_is_public(url: str) -> None:
    assert await check_target(url, allow_private=False)


async def test_a_public_address_is_accepted() -> None:
    assert await check_target("https://93.184.215.14/hook", allow_private=False)


async def test_the_api_saves_an_endpoint_and_shows_its_secret_once(
    gql: GraphQL, inbox: Inbox
) -> None:
    created = await gql(CREATE, {"url": inbox.url("api")})
    secret = created["data"]["createWebhookEndpoint"]["secret"]
    assert secret.startswith("whsec_")
    listed = await gql("{ webhookEndpoints { edges { node { id url eventTypes } } } }")
    (edge,) = listed["data"]["webhookEndpoints"]["edges"]
    assert edge["node"]["eventTypes"] == ["order.placed"]
    assert secret not in str(listed)


async def test_a_name_that_now_resolves_to_loopback_is_refused_at_delivery(
    outbound: Services, inbox: Inbox
) -> None:
    """Saved while allowed (as a name that resolved elsewhere then would be),
    sent while not: the attempt is refused after resolving, never sent."""
    endpoint = await endpoint_for(outbound, inbox, "rebound")
    async with outbound.sessions() as session, session.begin():
        row = await session.get(OutboundEndpoint, endpoint)
        assert row is not None
        row.url = inbox.url("rebound").replace("127.0.0.1", "localhost")
    strict = dataclasses.replace(
        outbound,
        settings=outbound.settings.model_copy(
            update={"outbound_allow_private_targets": False}
        ),
    )
    (delivery_id,) = await publish(strict, "customer.updated", {"id": 1})
    async with worker(strict):

        async def dead() -> bool:
            found = await deliveries.one(strict.sessions, delivery_id)
            return found.row.status == "dead"

        await eventually(dead)
    found = await deliveries.one(strict.sessions, delivery_id)
    assert [a.outcome for a in found.log] == ["refused"] * 3
    assert [a.error_class for a in found.log] == ["TargetRefused"] * 3
    assert inbox.received == []
