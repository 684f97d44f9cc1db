"""The upstreams' webhooks of the soak (``bench/soak.py``), each kind a
Poisson process at its rate per simulated hour, sent on schedule whatever the
answers take (``bench/soak_traffic.py`` says what they are about)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.soak_traffic import Picker
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
class Delivered:
    """Webhooks sent, by kind, and those not answered 2xx."""

    sent: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    """``<kind> <status>`` of those not accepted (0: no answer)."""
    about: Counter[int] = field(default_factory=Counter)
    """Accepted webhooks by the customer (world index) they were about."""


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
