"""A live timeline subscription that counts its events, and the mutation that
makes one: the benchmark's view of ``customerTimeline`` over
graphql-transport-ws (``bench/outage.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.server import Gateway

TAG = (
    "mutation($c: ID!, $t: String!) { tagCustomer(customerId: $c, tags: [$t]) { id } }"
)
SUBSCRIPTION = (
    "subscription($id: ID!) { customerTimeline(customerId: $id) { summary } }"
)


class Subscriber:
    """One ``customerTimeline`` subscription, its events' summaries collected."""

    def __init__(self, socket: websockets.ClientConnection) -> None:
        self.socket = socket
        self.summaries: list[str] = []
        self.arrived: list[float] = []
        """When each of ``summaries`` arrived (``time.perf_counter()``)."""

    async def collect(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] == "next":
                timeline = message["payload"]["data"]["customerTimeline"]
                self.summaries.append(timeline["summary"])
                self.arrived.append(time.perf_counter())
            elif message["type"] in ("error", "complete"):
                raise RuntimeError(f"the subscription ended: {message}")

    async def arrival(self, wanted: Callable[[str], bool], wait: float) -> float | None:
        """When the first summary ``wanted`` accepts arrived, waiting up to
        ``wait`` s for it; ``None`` if none did."""
        deadline = time.monotonic() + wait
        while True:
            for summary, at in zip(self.summaries, self.arrived, strict=True):
                if wanted(summary):
                    return at
            if time.monotonic() >= deadline:
                return None
            await asyncio.sleep(0.001)

    async def received(self, tags: Sequence[str], wait: float) -> int:
        """How many of ``tags`` arrived, waiting up to ``wait`` s for all."""
        wanted = {f"Tag {tag} added" for tag in tags}
        deadline = time.monotonic() + wait
        while not wanted <= set(self.summaries) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return len(wanted & set(self.summaries))


@asynccontextmanager
async def subscribed(
    gateway: Gateway, key: str, customer: str
) -> AsyncIterator[Subscriber]:
    url = gateway.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as ws:
        init = {"Authorization": f"Bearer {key}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if ack["type"] != "connection_ack":
            raise RuntimeError(f"the gateway refused the socket: {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"id": customer}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        subscriber = Subscriber(ws)
        task = asyncio.create_task(subscriber.collect())
        try:
            yield subscriber
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a subscription that ended early raises here


async def tag_customer(http: httpx.AsyncClient, customer: str, tag: str) -> bool:
    """Whether the mutation answered without errors."""
    try:
        response = await http.post(
            "/graphql", json={"query": TAG, "variables": {"c": customer, "t": tag}}
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and not response.json().get("errors")
