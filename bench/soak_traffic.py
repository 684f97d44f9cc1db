"""A help desk's traffic for the soak (``bench/soak.py``), paced by the
simulators' clock: agents opening Customer 360 views, and the upstreams'
webhooks arriving as a store, a help desk and an analytics tool send them.

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
from typing import Any

import httpx
import orjson
from strawberry.relay import GlobalID

from bench.queries import CUSTOMER_360
from connectors.demo_world import CATALOG, World
from connectors.posthog.destination import SECRET_HEADER
from connectors.posthog.simulator.destination import WebhookDestination
from connectors.shopify.simulator.data import customer_number
from connectors.simulator_clock import ScaledClock
from connectors.zendesk.simulator.writes import create_ticket, update_ticket
from gateway.db.models import utcnow
from gateway.demo.simulation import (
    POSTHOG_WEBHOOK_SECRET,
    ZENDESK_WEBHOOK_SECRET,
    Simulators,
)

TRIES = 3
RETRY_AFTER = 60.0
"""Simulated seconds before a webhook is sent again."""
WATCHED = 2
"""Working-set customers whose live timelines may be subscribed to."""
Delivery = Callable[[], Awaitable[int]]
"""Sends one prepared webhook; its status (0: no answer)."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Webhooks per simulated hour."""

    orders: float = 30.0
    customer_updates: float = 10.0
    tickets_created: float = 20.0
    tickets_changed: float = 40.0
    page_views: float = 600.0


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


@dataclass(slots=True)
class Delivered:
    """Webhooks sent, by kind, and those not answered 2xx."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    """``<kind> <status>`` of those not accepted (0: no answer)."""
    about: Counter[int] = field(default_factory=Counter)
    """Accepted webhooks by the customer (world index) they were about."""


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


async def on_schedule(
    clock: ScaledClock,
    end: float,
    step: Callable[[], float],
    act: Callable[[], None],
) -> None:
    """``act`` at times ``step()`` simulated seconds apart until ``end``, each
    on time (a late wake-up acts at once for every time it passed)."""
    at = clock()
    while (at := at + step()) < end:
        await asyncio.sleep(max(0.0, clock.real(at - clock())))
        act()


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


class Webhooks:
    """Sends each kind of webhook at its rate until ``end``. A delivery the
    gateway answers 5xx (or not at all) is sent again, as the vendors do,
    ``RETRY_AFTER`` simulated seconds later, ``TRIES`` times in all (PostHog's
    destination: 3 tries too)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        simulators: Simulators,
        picker: Picker,
        world: World,
    ) -> None:
        """``http``: a client of the gateway's (its own connections)."""
        self.http = http
        self.url = str(http.base_url).rstrip("/")
        self.sims = simulators
        self.picker = picker
        self.delivered = Delivered()
        self.zendesk_users = {
            user["email"]: user_id
            for user_id, user in simulators.zendesk.desk.users.items()
        }
        self.emails = {c.index: c.email for c in world.customers}
        self.destination = WebhookDestination(
            f"{self.url}/webhooks/posthog", {SECRET_HEADER: POSTHOG_WEBHOOK_SECRET}
        )

    async def run(self, clock: ScaledClock, end: float, rates: Rates) -> None:
        kinds: list[tuple[float, Callable[[int], Delivery | None]]] = [
            (rates.orders, self.order),
            (rates.customer_updates, self.customer_update),
            (rates.tickets_created, self.ticket_created),
            (rates.tickets_changed, self.ticket_changed),
            (rates.page_views, self.page_view),
        ]
        await asyncio.gather(
            *(
                self._at_rate(clock, end, rate, prepare)
                for rate, prepare in kinds
                if rate > 0
            )
        )

    async def _at_rate(
        self,
        clock: ScaledClock,
        end: float,
        per_hour: float,
        prepare: Callable[[int], Delivery | None],
    ) -> None:
        kind = prepare.__name__
        rng = random.Random(kind)

        async def once() -> None:
            customer = self.picker.changed()
            delivery = prepare(customer)
            if delivery is None:
                return  # nothing to send about (e.g. no ticket of that customer)
            self.delivered.sent[kind] += 1
            for attempt in range(TRIES):
                if attempt:
                    await asyncio.sleep(clock.real(RETRY_AFTER))
                try:
                    status = await delivery()
                except httpx.HTTPError:
                    status = 0
                if 200 <= status < 300:
                    self.delivered.about[customer] += 1
                    return
                if 400 <= status < 500:
                    break
            self.delivered.failed[kind] += 1
            self.delivered.statuses[f"{kind} {status}"] += 1

        sending: set[asyncio.Task[None]] = set()

        def spawn() -> None:  # open loop: a slow answer delays no other
            task = asyncio.create_task(once())
            sending.add(task)
            task.add_done_callback(sending.discard)

        await on_schedule(clock, end, lambda: rng.expovariate(per_hour / 3600), spawn)
        await asyncio.gather(*sending)

    def order(self, customer: int) -> Delivery | None:
        shopify = self.sims.shopify
        if customer_number(customer) not in shopify.store.customers:
            return None  # deleted in the store
        product = self.picker.rng.choice(CATALOG)
        order = shopify.add_order(customer, [(product, self.picker.rng.randint(1, 3))])
        return self._shopify("orders/create", shopify.order_payload(order))

    def customer_update(self, customer: int) -> Delivery | None:
        if customer_number(customer) not in self.sims.shopify.store.customers:
            return None
        return self._shopify(
            "customers/update", self.sims.shopify.customer_payload(customer)
        )

    def _shopify(self, topic: str, payload: dict[str, Any]) -> Delivery:
        shopify = self.sims.shopify

        async def deliver() -> int:
            return (await shopify.send_webhook(self.http, topic, payload)).status_code

        return deliver

    def ticket_created(self, customer: int) -> Delivery | None:
        user = self.zendesk_users.get(self.emails[customer])
        if user is None:
            return None
        zendesk = self.sims.zendesk
        comment = {"body": "Where is my order?"}
        ticket = create_ticket(
            zendesk.desk, {"ticket": {"requester_id": user, "comment": comment}}
        )
        zendesk.search_index.write(ticket)
        return self._zendesk("ticket.created", int(ticket["id"]))

    def ticket_changed(self, customer: int) -> Delivery | None:
        user = self.zendesk_users.get(self.emails[customer])
        zendesk = self.sims.zendesk
        theirs = [t for t in zendesk.desk.tickets.values() if t["requester_id"] == user]
        if not theirs:
            return None
        ticket_id = int(self.picker.rng.choice(theirs)["id"])
        status = self.picker.rng.choice(("open", "pending", "solved"))
        ticket = update_ticket(zendesk.desk, ticket_id, {"ticket": {"status": status}})
        zendesk.search_index.write(ticket)
        return self._zendesk("ticket.status_changed", ticket_id)

    def _zendesk(self, kind: str, ticket_id: int) -> Delivery:
        zendesk = self.sims.zendesk
        detail = zendesk.ticket_event_detail(ticket_id)

        async def deliver() -> int:
            url = f"{self.url}/webhooks/zendesk"
            answer = await zendesk.send_webhook(
                url, kind, detail, ZENDESK_WEBHOOK_SECRET
            )
            return answer.status_code

        return deliver

    def page_view(self, customer: int) -> Delivery | None:
        analytics = self.sims.posthog.analytics
        person = analytics.by_distinct_id.get(self.emails[customer])
        if person is None:
            return None
        path = self.picker.rng.choice(("/", "/sale", "/cart", "/account"))
        event = analytics.capture(
            person.distinct_ids[0],
            "$pageview",
            {"$current_url": f"https://shop.example{path}", "$pathname": path},
            utcnow(),
        )

        destination = self.destination
        body = destination.body(analytics, event)  # the template's, as PostHog sends

        async def deliver() -> int:
            answer = await self.http.post(
                destination.url, json=body, headers=dict(destination.headers)
            )
            return answer.status_code

        return deliver
