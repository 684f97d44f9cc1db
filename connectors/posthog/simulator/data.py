"""The demo world's web analytics, as PostHog would have recorded them.

Each customer gets ``random.Random(world.seed_for(customer, "posthog"))``: most
are persons with two distinct ids (their email once identified, and the anonymous
UUIDv7 the browser made up), visiting the shop over the last 90 days. Sessions
page through the home page, searches and the categories the customer buys
(``CATALOG``), view products, sometimes add one to the cart, and now and then
fire a custom event. Some visits stay anonymous. Events are built lazily, per
person, the first time a query asks for them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.demo_world import CATALOG, World, WorldCustomer

HOST = "shop.northwind.example"
_CUSTOM = ("Newsletter Subscribed", "Wishlist Added", "Coupon Applied")
_BROWSERS = (
    ("Chrome", "Mac OS X", "Desktop"),
    ("Safari", "iOS", "Mobile"),
    ("Firefox", "Windows", "Desktop"),
    ("Chrome", "Android", "Mobile"),
)


@dataclass(frozen=True, slots=True, eq=False)
class Person:
    id: int
    uuid: str
    distinct_ids: tuple[str, ...]
    """Identified id (the email) first, as PostHog sorts them."""
    properties: dict[str, Any]
    customer: WorldCustomer


def _uuid7(rng: random.Random, moment: datetime) -> str:
    millis = int(moment.timestamp() * 1000)
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64)
    value |= (0b10 << 62) | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


class Analytics:
    def __init__(self, world: World) -> None:
        self.world = world
        self.persons: list[Person] = []
        self.by_distinct_id: dict[str, Person] = {}
        self._events: dict[int, list[dict[str, Any]]] = {}
        for customer in world.customers:
            rng = random.Random(world.seed_for(customer, "posthog"))
            if rng.random() < 0.08:
                continue
            person = Person(
                id=1000 + customer.index,
                uuid=_uuid7(rng, customer.signed_up_at),
                distinct_ids=(customer.email, _uuid7(rng, customer.signed_up_at)),
                properties={
                    "email": customer.email,
                    "name": f"{customer.first_name} {customer.last_name}",
                    "$geoip_country_code": customer.address.country,
                    "$initial_referring_domain": "$direct",
                    **({"phone": customer.phone} if customer.phone else {}),
                },
                customer=customer,
            )
            self.persons.append(person)
            self.by_distinct_id.update(dict.fromkeys(person.distinct_ids, person))

    def person(self, person_id: str) -> Person | None:
        """The person whose numeric id or uuid is ``person_id``."""
        return next((p for p in self.persons if person_id in (str(p.id), p.uuid)), None)

    def delete(self, person: Person, *, events: bool) -> None:
        """Forget ``person`` (and their events when ``events``): what the
        persons API and every query read no longer holds them."""
        self.persons.remove(person)
        for distinct_id in person.distinct_ids:
            self.by_distinct_id.pop(distinct_id, None)
        if events:
            self._events[person.id] = []

    def table(
        self, name: str, distinct_ids: frozenset[str] | None
    ) -> Iterator[dict[str, Any]]:
        """Rows of a HogQL table (``events`` or ``person_distinct_ids``)."""
        if name == "events":
            return self.rows(distinct_ids)
        return self.person_distinct_ids(distinct_ids)

    def person_distinct_ids(
        self, distinct_ids: frozenset[str] | None
    ) -> Iterator[dict[str, Any]]:
        """One row per distinct id, with the person it belongs to joined."""
        for person in self.persons:
            joined = {
                "id": person.uuid,
                "created_at": person.customer.signed_up_at,
                "properties": person.properties,
            }
            for distinct_id in person.distinct_ids:
                if distinct_ids is None or distinct_id in distinct_ids:
                    yield {
                        "distinct_id": distinct_id,
                        "person_id": person.uuid,
                        "person": joined,
                    }

    def rows(self, distinct_ids: frozenset[str] | None) -> Iterator[dict[str, Any]]:
        """Events as query rows, optionally only those of some distinct ids."""
        if distinct_ids is None:
            people = self.persons
        else:
            found = {self.by_distinct_id.get(d) for d in distinct_ids}
            people = [p for p in self.persons if p in found]
        for person in people:
            for event in self.events_of(person):
                if distinct_ids is None or event["distinct_id"] in distinct_ids:
                    yield event

    def last_seen(self, person: Person) -> datetime | None:
        events = self.events_of(person)
        return events[0]["timestamp"] if events else None

    def events_of(self, person: Person) -> list[dict[str, Any]]:
        """The person's events, newest first."""
        if person.id not in self._events:
            self._events[person.id] = _events(self.world, person)
        return self._events[person.id]

    def capture(
        self,
        distinct_id: str,
        event: str,
        properties: dict[str, Any],
        timestamp: datetime,
    ) -> dict[str, Any]:
        """Record a new event of a known distinct id, as PostHog's capture
        API would; the query API sees it from now on. Returns its row."""
        person = self.by_distinct_id[distinct_id]
        row = {
            "uuid": str(uuid.uuid4()),
            "event": event,
            "distinct_id": distinct_id,
            "timestamp": timestamp,
            "person_id": person.uuid,
            "anonymous": distinct_id != person.distinct_ids[0],
            "properties": properties,
        }
        events = self.events_of(person)
        events.append(row)
        events.sort(key=lambda e: e["timestamp"], reverse=True)
        return row


def _events(world: World, person: Person) -> list[dict[str, Any]]:
    customer = person.customer
    rng = random.Random(world.seed_for(customer, "posthog-events"))
    profile = customer.profile
    if profile.lapsed_days > 90:
        count = rng.randint(0, 2)
    else:
        count = rng.randint(1, 3 + min(15, int(profile.orders_per_year * 1.5)))
    window = min(90, max(1, (world.now - customer.signed_up_at).days))
    starts = sorted(
        world.now - timedelta(days=rng.uniform(0, window), hours=1)
        for _ in range(count)
    )
    events: list[dict[str, Any]] = []
    for start in starts:
        events.extend(_session(rng, person, start))
    events.sort(key=lambda e: e["timestamp"], reverse=True)
    return events


def _session(
    rng: random.Random, person: Person, start: datetime
) -> list[dict[str, Any]]:
    customer = person.customer
    anonymous = rng.random() < 0.15
    distinct_id = person.distinct_ids[1 if anonymous else 0]
    browser, os_name, device = rng.choice(_BROWSERS)
    session_id = _uuid7(rng, start)
    liked = [p for p in CATALOG if p.category in customer.profile.categories]
    snake = rng.random() < 0.2
    clock = start.replace(microsecond=rng.randint(1, 999) * 1000)
    steps: list[tuple[str, str, dict[str, Any]]] = [("$pageview", "/", {})]
    if rng.random() < 0.5:
        term = rng.choice(liked or list(CATALOG)).category.lower()
        steps.append(
            ("$search" if snake else "Products Searched", "/search", {"query": term})
        )
    for product in rng.sample(
        liked or list(CATALOG), k=min(len(liked) or 1, rng.randint(1, 3))
    ):
        slug = product.category.lower()
        info = {
            "product_id": product.id,
            "name": product.title,
            "category": product.category,
            "price": float(product.price),
            "currency": customer.currency,
        }
        steps.append(("$pageview", f"/collections/{slug}", {}))
        steps.append(("$pageview", f"/products/{product.id}", {}))
        steps.append(
            (
                "product_viewed" if snake else "Product Viewed",
                f"/products/{product.id}",
                info,
            )
        )
        if rng.random() < 0.3:
            steps.append(
                (
                    "add_to_cart" if snake else "Product Added",
                    f"/products/{product.id}",
                    {**info, "quantity": 1},
                )
            )
    if rng.random() < 0.1:
        steps.append((rng.choice(_CUSTOM), "/account", {}))
    steps.append(("$pageleave", steps[-1][1], {}))
    events = []
    for name, path, extra in steps:
        clock += timedelta(seconds=rng.randint(3, 90), milliseconds=rng.randint(1, 999))
        events.append(
            {
                "uuid": _uuid7(rng, clock),
                "event": name,
                "distinct_id": distinct_id,
                "timestamp": clock,
                "person_id": person.uuid,
                "anonymous": anonymous,
                "properties": {
                    "$current_url": f"https://{HOST}{path}",
                    "$pathname": path,
                    "$host": HOST,
                    "$browser": browser,
                    "$os": os_name,
                    "$device_type": device,
                    "$session_id": session_id,
                    "$window_id": session_id,
                    "$device_id": person.distinct_ids[1],
                    "$lib": "web",
                    "$lib_version": "1.200.0",
                    "$referrer": "$direct",
                    **extra,
                },
            }
        )
    return events
