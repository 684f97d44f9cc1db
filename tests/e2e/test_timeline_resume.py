"""``customerTimeline(after:)`` resumes a subscription: a client whose socket
closed (a replica restarting says 1012) subscribes again with the ``cursor`` of
the last event it received and gets what it missed, oldest first, then the
live events — none twice, none lost at the seam."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import httpx
from strawberry.relay import to_base64

from tests.e2e.live_gateway import AUTH, live_gateways, subscribe

TAG = (
    "mutation($c: ID!, $t: String!) { tagCustomer(customerId: $c, tags: [$t]) { id } }"
)


async def add_tag(base_url: str, customer: str, tag: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=60) as http:
        answer = await http.post(
            "/graphql", json={"query": TAG, "variables": {"c": customer, "t": tag}}
        )
    assert "errors" not in answer.json(), answer.text


RESUMABLE = (
    "subscription($id: ID!, $after: String) { customerTimeline(customerId: $id,"
    " after: $after) { id summary cursor } }"
)


async def test_a_resumed_subscription_gets_what_it_missed_then_live_ones_once(
    tmp_path: Path,
):
    async with live_gateways(tmp_path) as ([gateway], _):
        customer = to_base64("Customer", 5)
        tag = partial(add_tag, gateway.base_url, customer)
        async with subscribe(gateway.ws_url, customer, query=RESUMABLE) as live:
            await live.until_live(tag)
            await tag("before-close")
            last = await live.event_where("Tag before-close added", timeout=30)
        for number in range(3):
            await tag(f"missed-{number}")
        variables = {"after": last["cursor"]}
        async with subscribe(
            gateway.ws_url, customer, query=RESUMABLE, variables=variables
        ) as resumed:
            replayed = [(await resumed.next_event(30))["summary"] for _ in range(3)]
            # Changes racing the replay: each must come once, in order.
            await asyncio.gather(*(tag(f"live-{n}") for n in range(2)))
            await tag("live-last")
            after = []
            while not after or after[-1] != "Tag live-last added":
                after.append((await resumed.next_event(30))["summary"])
        assert replayed == [f"Tag missed-{n} added" for n in range(3)]
        assert sorted(after) == sorted(
            ["Tag live-0 added", "Tag live-1 added", "Tag live-last added"]
        )


async def test_a_cursor_that_is_not_a_timelines_is_refused(tmp_path: Path):
    async with live_gateways(tmp_path) as ([gateway], _):
        customer = to_base64("Customer", 5)
        async with subscribe(
            gateway.ws_url, customer, query=RESUMABLE, variables={"after": "bogus"}
        ) as live:
            message = await live.receive()
        assert message["type"] == "next", message
        error = message["payload"]["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
