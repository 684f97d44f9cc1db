"""A help desk's traffic for the soak (``bench/soak.py``), paced by the
simulators' clock: agents opening Customer 360 views, and the upstreams'
webhooks arriving as a store, a help desk and an analytics tool send them
(``bench/soak_webhooks.py``).

- **Agents** each open a view, then think for a random while (exponential,
  ``think`` simulated seconds on average) before the next; most views are of
  a working set (the customers whose tickets are being worked on), the rest of
  anyone (cold: not linked, nothing cached).
- **Webhooks** arrive as Poisson processes at rates per simulated hour:
  Shopify ``orders/create`` (a new order in the simulated store) and
  ``customers/update``, Zendesk ``ticket.created`` (a new ticket, written to
  the simulated desk as its API would write it, not counted against the
  gateway's limits) and ``ticket.status_changed``, and PostHog page views its
  HTTP Webhook destination delivers to ``/webhooks/posthog``. Half are about
  the working set, so the views see the changes.

Every answer is noted: its latency, its status, its errors' codes, and each
``extensions.stale`` entry's age in simulated seconds when the view was sent
(the gateway served it later: never an age it did not serve).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import orjson
from strawberry.relay import GlobalID

from bench.queries import CUSTOMER_360
from connectors.demo_world import World
from connectors.simulator_clock import ScaledClock

WATCHED = 2
"""Working-set customers whose live timelines may be subscribed to."""


@dataclass(slots=True)
class Answers:
    """What the agents' views got back."""

    latencies: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    """``extensions.code`` of each error (``(none)`` without one)."""
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    """By httpx's exception class."""
    stale: list[tuple[str, float]] = field(default_factory=list)
    """``(source, age in simulated seconds)`` of each stale entry."""

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


class Picker:
    """Which customer a view or a webhook is about."""

    def __init__(self, world: World, working_set: int, cold_share: float) -> None:
        self.rng = random.Random(world.seed)
        self.everyone = [c.index for c in world.customers]
        self.working = self.rng.sample(self.everyone, min(working_set, world.size))
        self.cold_share = cold_share

    def viewed(self) -> int:
        pool = self.everyone if self.rng.random() < self.cold_share else self.working
        return self.rng.choice(pool)

    def changed(self) -> int:
        """Half about the working set, a tenth of those about the watched
        customers (whose live timelines are subscribed), the rest anyone."""
        draw = self.rng.random()
        if draw < 0.05:
            return self.rng.choice(self.watched)
        return self.rng.choice(self.working if draw < 0.5 else self.everyone)

    @property
    def watched(self) -> list[int]:
        return self.working[:WATCHED]


def customer_id(index: int) -> str:
    """The seeded customer of a world index (``gateway.demo.seed``)."""
    return str(GlobalID("Customer", str(index + 1)))


async def until(
    clock: ScaledClock,
    end: float,
    step: Callable[[], float],
    act: Callable[[], Awaitable[None]],
) -> None:
    """Wait ``step()`` simulated seconds, act, again, until ``end`` (simulated)."""
    while True:
        pause = step()
        if clock() + pause >= end:
            return
        await asyncio.sleep(clock.real(pause))
        await act()


async def agent(
    http: httpx.AsyncClient,
    clock: ScaledClock,
    end: float,
    picker: Picker,
    think: float,
    answers: Answers,
) -> None:
    async def view() -> None:
        await open_view(http, clock, customer_id(picker.viewed()), answers)

    await until(clock, end, lambda: picker.rng.expovariate(1 / think), view)


async def open_view(
    http: httpx.AsyncClient, clock: ScaledClock, customer: str, answers: Answers
) -> None:
    body = orjson.dumps({"query": CUSTOMER_360.document, "variables": {"id": customer}})
    started, sent = time.perf_counter(), time.time()
    try:
        response = await http.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    except httpx.HTTPError as exc:
        answers.transport_errors[type(exc).__name__] += 1
        return
    answers.latencies.append(time.perf_counter() - started)
    answers.statuses[response.status_code] += 1
    if response.status_code != 200:
        return
    answer = orjson.loads(response.content)
    for error in answer.get("errors") or []:
        answers.codes[(error.get("extensions") or {}).get("code") or "(none)"] += 1
    for entry in (answer.get("extensions") or {}).get("stale") or []:
        fetched = datetime.fromisoformat(entry["fetchedAt"]).timestamp()
        answers.stale.append((entry["source"], clock.simulated(sent - fetched)))
