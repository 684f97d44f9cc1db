"""Which customer the single-customer shapes ask for, read from the simulators.

One whose pages are full — at least 20 orders, 80 activity events and as many
tickets as anyone has (the demo world gives nobody more than six) — and, of
those, the one with the fewest orders, a typical customer rather than the
outlier with 180 (the gateway reads only the orders a page shows, so this
matters less than it did). The report prints the subject's counts. Reading
the simulators' data (not the gateway) keeps the choice free of upstream calls
and the same for every mode.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from strawberry.relay import GlobalID

from connectors.demo_world import World
from connectors.shopify.simulator.data import customer_number
from connectors.zendesk.simulator.data import USER_ID_BASE
from gateway.demo.simulation import Simulators
from gateway.loaders.analytics import ACTIVITY_LIMIT


@dataclass(frozen=True, slots=True)
class Subject:
    customer_id: int
    orders: int
    tickets: int
    events: int
    """Activity events the gateway reads (at most ``ACTIVITY_LIMIT``)."""

    @property
    def global_id(self) -> str:
        return str(GlobalID("Customer", str(self.customer_id)))


def richest_customer(world: World, simulators: Simulators) -> Subject:
    store = simulators.shopify.store
    desk = simulators.zendesk.desk
    analytics = simulators.posthog.analytics
    tickets = Counter(t["requester_id"] for t in desk.tickets.values())
    events = {
        p.customer.index: min(len(analytics.events_of(p)), ACTIVITY_LIMIT)
        for p in analytics.persons
    }
    candidates = [
        Subject(
            customer_id=c.index + 1,
            orders=len(store.orders_by_customer[customer_number(c.index)]),
            tickets=tickets[USER_ID_BASE + c.index],
            events=events[c.index],
        )
        for c in world.customers
        if customer_number(c.index) in store.customers
        and USER_ID_BASE + c.index in desk.users
        and c.index in events
    ]
    if not candidates:
        raise RuntimeError("no customer is known to all three upstreams")
    return max(
        candidates,
        key=lambda s: (min(s.orders, 20), min(s.events, 80), s.tickets, -s.orders),
    )
