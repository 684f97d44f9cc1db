"""A rolling restart under load (issue 19): each of the three replicas
behind nginx is taken out of it (``down`` and a reload, as a rolling script
does for nginx, which has no active health checks: docs/deploying.md),
stopped with SIGTERM, started again and put back, in turn, while clients
query, mutate and hold a live subscription through the balancer. Counted:
no request failed, an audit entry for every request that showed personal
data or changed something, every live event received once — a subscriber
whose socket closed (1012 from the stopping replica) resumes with the cursor
of the last event it got."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import func, select
from strawberry.relay import to_base64

from gateway.db.auth_models import AuditEntry
from tests.e2e.fleet import AUTH, Fleet, running_fleet

pytestmark = pytest.mark.skipif(
    not os.environ.get("CG_TEST_ROLLING_RESTART"),
    reason="set CG_TEST_ROLLING_RESTART=1: ~90 s of nine gateway processes under"
    " load, beyond the suite's 15-minute budget on two cores (docs/deploying.md)",
)

READ = "query FleetRead($c: ID!) { customer(id: $c) { email } }"
TAG = "mutation FleetTag($c: ID!, $t: String!) { tagCustomer(customerId: $c, tags: [$t]) { id } }"
LIVE = (
    "subscription($id: ID!, $after: String) { customerTimeline(customerId: $id,"
    " after: $after) { summary cursor } }"
)
READERS = 3
SUBJECT = 7
"""The customer the mutations tag and the subscriber follows (its id is 7)."""


@dataclass
class Tally:
    reads: int = 0
    writes: int = 0
    resent: int = 0
    tags: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    closes: list[int | None] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture(scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    async with running_fleet(
        tmp_path_factory.mktemp("rolling"),
        # The clients share one key; its limit is not what is tested here.
        rate_limit_per_minute=1_000_000,
        rate_limit_burst=100_000,
    ) as running:
        yield running


async def _post(
    client: httpx.AsyncClient, tally: Tally, query: str, **variables: Any
) -> bool:
    # Named as client libraries name them: the audit keeps the name.
    name = query.split("(", 1)[0].split()[-1]
    body = {"query": query, "variables": variables, "operationName": name}
    try:
        try:
            answer = await client.post("/graphql", json=body)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # The balancer's reload closes the idle keep-alive connections of
            # its old workers; a request written into one as it closes is
            # never read (nginx's access log has no trace of it). Browsers
            # send such a request again on a new connection, and so do we,
            # once: the audit count below shows nothing ran twice.
            tally.resent += 1
            answer = await client.post("/graphql", json=body)
    except httpx.HTTPError as exc:
        tally.failures.append(f"{type(exc).__name__}: {exc}")
        return False
    if answer.status_code != 200 or "errors" in answer.json():
        tally.failures.append(f"{answer.status_code}: {answer.text[:200]}")
        return False
    return True


async def read_until(
    stop: asyncio.Event, url: str, tally: Tally, customer: str
) -> None:
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as client:
        while not stop.is_set():
            if await _post(client, tally, READ, c=customer):
                tally.reads += 1
            await asyncio.sleep(0.02)  # a client's pace, not a flood


async def tag_until(stop: asyncio.Event, url: str, tally: Tally, customer: str) -> None:
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as client:
        number = 0
        while not stop.is_set():
            number += 1
            name = f"load-{number}"
            if await _post(client, tally, TAG, c=customer, t=name):
                tally.writes += 1
                tally.tags.append(f"Tag {name} added")
            await asyncio.sleep(0.05)


async def follow(url: str, tally: Tally, customer: str, live: asyncio.Event) -> None:
    """Subscribe; when the socket closes, subscribe again after the last
    cursor received, as a client library does on 1012."""
    after: str | None = None
    while True:
        try:
            async with websockets.connect(
                url, subprotocols=["graphql-transport-ws"], open_timeout=60
            ) as socket:
                await socket.send(
                    json.dumps({"type": "connection_init", "payload": AUTH})
                )
                assert json.loads(await socket.recv())["type"] == "connection_ack"
                variables = {"id": customer, "after": after}
                payload = {"query": LIVE, "variables": variables}
                await socket.send(
                    json.dumps({"id": "1", "type": "subscribe", "payload": payload})
                )
                live.set()
                async for raw in socket:
                    message = json.loads(raw)
                    assert message["type"] == "next", message
                    event = message["payload"]["data"]["customerTimeline"]
                    tally.received[event["summary"]] += 1
                    after = event["cursor"]
                    tally.arrived.set()
            tally.closes.append(socket.close_code)
        except websockets.ConnectionClosed as closed:
            tally.closes.append(closed.rcvd.code if closed.rcvd else None)
        except (OSError, websockets.InvalidHandshake):
            await asyncio.sleep(0.2)  # the balancer had no replica for a moment


async def until_live(url: str, tally: Tally, customer: str) -> None:
    """Tags until one comes back: the subscription listens from then on."""
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as client:
        for attempt in range(40):
            name = f"ready-{attempt}"
            assert await _post(client, tally, TAG, c=customer, t=name)
            tally.writes += 1
            tally.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tally.arrived.wait(), 3)
            if f"Tag {name} added" in tally.received:
                return
    raise AssertionError("the subscription never delivered")


async def test_restarting_each_replica_in_turn_under_load_loses_nothing(
    fleet: Fleet,
):
    customer = to_base64("Customer", SUBJECT)
    tally = Tally()
    live = asyncio.Event()
    follower = asyncio.create_task(follow(fleet.ws_url, tally, customer, live))
    await live.wait()
    await until_live(fleet.url, tally, customer)
    stop = asyncio.Event()
    load = [
        *(
            asyncio.create_task(
                read_until(stop, fleet.url, tally, to_base64("Customer", n))
            )
            for n in range(1, READERS + 1)
        ),
        asyncio.create_task(tag_until(stop, fleet.url, tally, customer)),
    ]
    try:
        for replica in fleet.replicas:
            address = replica.url.removeprefix("http://")
            fleet.balancer.take_out(address)
            assert await replica.stop() == 0, replica.log
            replica.start()
            await replica.ready()
            fleet.balancer.put_back(address)
    finally:
        stop.set()  # each client's request under way ends first: all counted
        await asyncio.gather(*load)
    wanted = set(tally.tags)
    deadline = time.monotonic() + 30
    while not wanted <= set(tally.received) and time.monotonic() < deadline:
        tally.arrived.clear()
        try:
            await asyncio.wait_for(tally.arrived.wait(), deadline - time.monotonic())
        except TimeoutError:
            break
    follower.cancel()
    await asyncio.gather(follower, return_exceptions=True)

    print(
        f"{tally.reads} reads, {len(tally.tags)} mutations, "
        f"{sum(tally.received.values())} live events, socket closes {tally.closes},"
        f" {tally.resent} sent again after the balancer's reload closed their connection"
    )
    assert Counter(f[:60] for f in tally.failures) == {}
    assert tally.reads > 0
    assert len(tally.tags) > 0
    assert wanted <= set(tally.received), sorted(wanted - set(tally.received))
    assert max(tally.received.values()) == 1, "an event came twice"
    assert 1012 in tally.closes, "the replica holding the socket said restart"

    async def audited() -> tuple[int, int]:
        async with fleet.services.sessions() as session:
            rows = dict(
                (
                    await session.execute(
                        select(AuditEntry.action, func.count())
                        .where(AuditEntry.operation.in_(["FleetRead", "tagCustomer"]))
                        .group_by(AuditEntry.action)
                    )
                ).all()
            )
        return rows.get("read", 0), rows.get("write", 0)

    # Each replica writes its batch within a second (at its stop: before exit).
    expected = (tally.reads, tally.writes)
    deadline = time.monotonic() + 10
    while (found := await audited()) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    assert found == expected
