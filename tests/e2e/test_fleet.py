"""The gateway as a fleet (issue 19): three ``serve`` replicas of two workers
on one PostgreSQL and one Redis, behind nginx (``tests.e2e.fleet``). What
one replica accepts reaches a subscriber on another; a change evicts the
cached upstream data every replica reads; a revoked key stops working on
every replica within the documented 10 s; a key's rate limit counts its
requests on every replica together; an automation's run opened by the same
order on every replica is done once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial

import httpx
import pytest
from sqlalchemy import func, select
from strawberry.relay import to_base64

from connectors.demo_world import CATALOG
from gateway.auth.keys import create_key, revoke_key
from gateway.auth.policy import Role
from gateway.automations.tables import AutomationRun
from gateway.db import models
from tests.conftest import ANSWER_WAIT
from tests.e2e.fleet import AUTH, Fleet, graphql, running_fleet
from tests.e2e.live_gateway import subscribe

BURST = 100
"""Every key's burst in this fleet, refilled at one a minute: a key's 101st
request anywhere in the fleet is refused, however they were spread."""
REVOCATION = 10.0
"""docs/security.md: a revoked key stops working on every replica within 10 s."""

TAG = (
    "mutation($c: ID!, $t: String!) { tagCustomer(customerId: $c, tags: [$t]) { id } }"
)
TIMELINE = (
    "query($c: ID!) { customer(id: $c) { timeline(first: 5, sources: [SHOPIFY]) {"
    " edges { node { summary } } } } }"
)
ORDERS = "query($c: ID!) { customer(id: $c) { orders(first: 100) { totalCount } } }"


@pytest.fixture(scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    async with running_fleet(
        tmp_path_factory.mktemp("fleet"),
        rate_limit_per_minute=1,
        rate_limit_burst=BURST,
    ) as running:
        yield running


async def tag(url: str, customer: str, name: str) -> None:
    answer = await graphql(url, TAG, c=customer, t=name)
    assert answer.status_code == 200, answer.text
    assert "errors" not in answer.json(), answer.text


async def test_a_subscriber_on_one_replica_sees_what_the_others_accept(fleet: Fleet):
    """The socket goes through the balancer to one replica; each replica
    (the two others among them) gets a mutation, and the third a webhook."""
    index = 2
    customer = to_base64("Customer", index + 1)
    shopify = fleet.simulators.shopify
    async with subscribe(fleet.ws_url, customer, init=AUTH) as live:
        await live.until_live(partial(tag, fleet.url, customer))
        for replica in fleet.replicas:
            await tag(replica.url, customer, f"via-{replica.name.lower()}")
        order = shopify.add_order(index, [(CATALOG[1], 1)])
        answer = await shopify.send_webhook(
            f"{fleet.replicas[2].url}/webhooks/shopify",
            "orders/create",
            shopify.order_payload(order),
        )
        assert answer.status_code == 200, answer.text
        wanted = {f"Tag via-{r.name.lower()} added" for r in fleet.replicas}
        placed: list[str] = []
        seen: set[str] = set()
        deadline = time.monotonic() + 30  # a loaded machine's webhook re-read
        while not (wanted <= seen and placed) and time.monotonic() < deadline:
            try:
                event = await live.next_event(deadline - time.monotonic())
            except TimeoutError:
                break
            seen.add(event["summary"])
            if event["__typename"] == "OrderPlaced":
                placed.append(event["summary"])
    assert wanted <= seen, seen
    shown = await graphql(fleet.url, TIMELINE, c=customer)
    assert len(placed) == 1, (order["name"], seen, shown.text)
    assert order["name"] in placed[0]


async def test_a_change_evicts_the_cached_orders_every_replica_reads(fleet: Fleet):
    index = 4
    customer = to_base64("Customer", index + 1)
    shopify = fleet.simulators.shopify

    async def counts() -> list[int]:
        answers = [await graphql(r.url, ORDERS, c=customer) for r in fleet.replicas]
        return [a.json()["data"]["customer"]["orders"]["totalCount"] for a in answers]

    before = await counts()
    fleet.simulators.reset_counts()
    assert await counts() == before, "read from the shared cache"
    assert shopify.requests.total == 0, "no replica asked Shopify again"

    order = shopify.add_order(index, [(CATALOG[2], 1)])
    webhook = await shopify.send_webhook(
        f"{fleet.replicas[0].url}/webhooks/shopify",
        "orders/create",
        shopify.order_payload(order),
    )
    assert webhook.status_code == 200, webhook.text
    assert await counts() == [before[0] + 1] * len(fleet.replicas)


async def test_a_revoked_key_stops_working_on_every_replica(fleet: Fleet):
    secret, _ = await create_key(fleet.services.sessions, "fleet-revoked", Role.ADMIN)
    bearer = {"Authorization": f"Bearer {secret}"}
    for replica in fleet.replicas:
        answer = await graphql(replica.url, "{ __typename }", bearer)
        assert answer.status_code == 200, answer.text

    await revoke_key(fleet.services.sessions, "fleet-revoked")
    revoked = time.monotonic()

    async def refused_after(url: str) -> float:
        while (await graphql(url, "{ __typename }", bearer)).status_code != 401:
            assert time.monotonic() - revoked < REVOCATION + 5, f"{url} still serves"
            await asyncio.sleep(0.25)
        return time.monotonic() - revoked

    waited = await asyncio.gather(*(refused_after(r.url) for r in fleet.replicas))
    print(f"refused after {', '.join(f'{w:.1f}' for w in waited)} s")
    assert max(waited) <= REVOCATION + 1  # a poll's and a loaded machine's slack


async def test_a_keys_rate_limit_counts_its_requests_on_every_replica(fleet: Fleet):
    secret, _ = await create_key(fleet.services.sessions, "fleet-limited", Role.ADMIN)
    bearer = {"Authorization": f"Bearer {secret}"}
    per_replica = BURST // 2  # any one replica alone stays under the burst
    statuses: list[int] = []
    for replica in fleet.replicas:
        async with httpx.AsyncClient(
            base_url=replica.url, headers=bearer, timeout=ANSWER_WAIT
        ) as client:
            for _ in range(per_replica):
                answer = await client.post("/graphql", json={"query": "{ __typename }"})
                statuses.append(answer.status_code)
    assert set(statuses) == {200, 429}
    # One token may have been refilled meanwhile (one a minute).
    assert BURST <= statuses.count(200) <= BURST + 1, statuses.count(200)


THANK_YOU = (
    'mutation { createAutomation(name: "Thank you", trigger: {orderPlaced: true},'
    ' actions: [{tag: {tags: ["fleet-once"]}}]) { id } }'
)


async def test_an_order_delivered_to_every_replica_runs_its_automation_once(
    fleet: Fleet,
):
    """Shopify's delivery of one order reaching all three replicas (each with
    its own webhook id, as Shopify's retries may be) opens one run, which one
    of the fleet's six workers does, once (procrastinate on PostgreSQL)."""
    made = await graphql(fleet.url, THANK_YOU)
    assert "errors" not in made.json(), made.text
    index = 6
    shopify = fleet.simulators.shopify
    payload = shopify.order_payload(shopify.add_order(index, [(CATALOG[3], 1)]))
    answers = await asyncio.gather(
        *(
            shopify.send_webhook(f"{r.url}/webhooks/shopify", "orders/create", payload)
            for r in fleet.replicas
        )
    )
    assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
    deadline = time.monotonic() + 60  # a worker polls; a loaded machine is slow
    while True:
        async with fleet.services.sessions() as session:
            runs = list(await session.scalars(select(AutomationRun)))
            tags = await session.scalar(
                select(func.count()).where(models.Tag.name == "fleet-once")
            )
        if runs and all(r.status == "done" for r in runs):
            break
        assert time.monotonic() < deadline, [(r.status, r.attempts) for r in runs]
        await asyncio.sleep(0.2)
    assert [(r.status, r.attempts) for r in runs] == [("done", 1)]
    assert tags == 1
