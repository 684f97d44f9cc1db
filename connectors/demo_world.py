"""The deterministic fake store behind ``customer-graph demo`` and every simulator.

One seed gives one world: the same people appear as CRM customers (seeded by the
gateway), as Shopify customers with orders, as Zendesk requesters with tickets
and as PostHog persons with web sessions. Each simulator derives its own data
from a ``WorldCustomer`` with ``random.Random(world.seed_for(customer, "shop"))``,
so the sources agree with each other without sharing state.

Customers carry a *shopper profile* (how often and how much they buy, which
categories they like) so the demo data spans every RFM segment: frequent big
spenders, one-off buyers, lapsed regulars, people who never ordered.
"""

from __future__ import annotations

import random
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberType


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    title: str
    category: str
    vendor: str
    price: Decimal
    replenish_days: int | None = None
    """Typical days a unit lasts (a three-month face cream: 90); ``None`` if durable."""


CATALOG: tuple[Product, ...] = (
    Product(101, "Wool Overcoat", "Outerwear", "Northwind Tailors", Decimal("289.00")),
    Product(102, "Rain Parka", "Outerwear", "Fjellrev", Decimal("179.50")),
    Product(103, "Quilted Vest", "Outerwear", "Fjellrev", Decimal("89.90")),
    Product(201, "Leather Belt", "Accessories", "Saddleback", Decimal("45.00")),
    Product(
        202, "Cashmere Scarf", "Accessories", "Northwind Tailors", Decimal("79.00")
    ),
    Product(203, "Canvas Tote", "Accessories", "Harbor & Co", Decimal("32.00")),
    Product(
        301,
        "Hydrating Face Cream 90-day",
        "Skincare",
        "Lumen Labs",
        Decimal("54.00"),
        90,
    ),
    Product(302, "Vitamin C Serum", "Skincare", "Lumen Labs", Decimal("38.50"), 60),
    Product(303, "Mineral Sunscreen SPF50", "Skincare", "Solara", Decimal("24.00"), 45),
    Product(401, "Oak Dining Table", "Furniture", "Hearth Works", Decimal("1899.00")),
    Product(402, "Velvet Armchair", "Furniture", "Hearth Works", Decimal("949.00")),
    Product(403, "Walnut Bookshelf", "Furniture", "Grain Studio", Decimal("649.00")),
    Product(501, "Trail Running Shoes", "Footwear", "Strider", Decimal("139.00")),
    Product(502, "Chelsea Boots", "Footwear", "Saddleback", Decimal("219.00")),
    Product(
        601, "Noise-Cancelling Headphones", "Electronics", "Auralis", Decimal("299.99")
    ),
    Product(
        602, "13-inch Laptop Sleeve", "Electronics", "Harbor & Co", Decimal("49.00")
    ),
    Product(701, "Ground Coffee 1kg", "Grocery", "Roastery 9", Decimal("18.00"), 30),
)

CATEGORIES: tuple[str, ...] = tuple(sorted({p.category for p in CATALOG}))

# (country code, Faker locale, language tag, IANA time zone, currency)
_REGIONS = (
    ("US", "en_US", "en-US", "America/New_York", "USD"),
    ("US", "en_US", "en-US", "America/Los_Angeles", "USD"),
    ("CA", "en_CA", "en-CA", "America/Toronto", "CAD"),
    ("GB", "en_GB", "en-GB", "Europe/London", "GBP"),
    ("DE", "de_DE", "de-DE", "Europe/Berlin", "EUR"),
    ("FR", "fr_FR", "fr-FR", "Europe/Paris", "EUR"),
)


@dataclass(frozen=True, slots=True)
class ShopperProfile:
    orders_per_year: float
    """0 for people who never ordered."""
    lapsed_days: int
    """Days since they stopped buying (0: still active)."""
    basket: int
    """Typical number of line items."""
    categories: tuple[str, ...]
    """Favourite categories, most liked first."""


@dataclass(frozen=True, slots=True)
class WorldAddress:
    country: str
    region: str
    city: str
    postcode: str
    line1: str


@dataclass(frozen=True, slots=True)
class WorldCustomer:
    index: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    birth_date: date | None
    locale: str
    timezone: str
    currency: str
    address: WorldAddress
    signed_up_at: datetime
    profile: ShopperProfile
    tags: tuple[str, ...]
    email_consent: bool
    sms_consent: bool


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


_PROFILES = (
    # weight, orders/year, lapsed days range, basket
    (12, 10.0, (0, 20), 3),  # champions
    (18, 5.0, (0, 60), 2),  # loyal
    (20, 2.0, (0, 120), 2),  # occasional
    (15, 1.0, (0, 40), 1),  # new / promising
    (15, 4.0, (150, 400), 2),  # lapsed regulars (at risk)
    (10, 1.0, (300, 700), 1),  # hibernating / lost
    (10, 0.0, (0, 0), 0),  # never ordered
)


class World:
    """``World(seed, size)``: the same customers for every caller with that seed."""

    def __init__(self, seed: int = 42, size: int = 500, now: datetime | None = None):
        self.seed = seed
        self.size = size
        base = now or datetime.now(UTC)
        self.now = base.replace(minute=0, second=0, microsecond=0)

    def seed_for(self, customer: WorldCustomer, purpose: str) -> int:
        """A stable per-customer seed for one simulator's random choices."""
        return zlib.crc32(f"{self.seed}:{customer.index}:{purpose}".encode())

    @cached_property
    def customers(self) -> tuple[WorldCustomer, ...]:
        fakers: dict[str, Faker] = {}
        rng = random.Random(self.seed)
        seen: set[str] = set()
        people = []
        for index in range(self.size):
            country, faker_locale, locale, tz, currency = rng.choice(_REGIONS)
            faker = fakers.get(faker_locale)
            if faker is None:
                faker = Faker(faker_locale)
                faker.seed_instance(self.seed + len(fakers))
                fakers[faker_locale] = faker
            first, last = faker.first_name(), faker.last_name()
            local = f"{_ascii(first)}.{_ascii(last)}"
            email = f"{local}@example.com"
            n = 1
            while email in seen:
                n += 1
                email = f"{local}{n}@example.com"
            seen.add(email)
            people.append(
                self._customer(
                    index, rng, faker, first, last, email, country, locale, tz, currency
                )
            )
        return tuple(people)

    def _customer(
        self,
        index: int,
        rng: random.Random,
        faker: Faker,
        first: str,
        last: str,
        email: str,
        country: str,
        locale: str,
        tz: str,
        currency: str,
    ) -> WorldCustomer:
        weights = [p[0] for p in _PROFILES]
        _, per_year, lapsed, basket = rng.choices(_PROFILES, weights=weights)[0]
        liked = tuple(rng.sample(CATEGORIES, k=rng.randint(1, 3)))
        profile = ShopperProfile(per_year, rng.randint(*lapsed), basket, liked)
        region = faker.state_abbr() if country == "US" else _region(faker, country)
        address = WorldAddress(
            country=country,
            region=region,
            city=faker.city(),
            postcode=faker.postcode(),
            line1=faker.street_address(),
        )
        phone = _e164(rng, country) if rng.random() < 0.8 else None
        birth = (
            date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28))
            if rng.random() < 0.85
            else None
        )
        signed_up = self.now - timedelta(
            days=rng.randint(30, 1500), hours=rng.randint(0, 23)
        )
        tags = tuple(
            sorted(
                rng.sample(
                    ("vip", "wholesale", "newsletter", "influencer", "b2b"),
                    k=rng.randint(0, 2),
                )
            )
        )
        return WorldCustomer(
            index=index,
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            birth_date=birth,
            locale=locale,
            timezone=tz,
            currency=currency,
            address=address,
            signed_up_at=signed_up,
            profile=profile,
            tags=tags,
            email_consent=rng.random() < 0.7,
            sms_consent=phone is not None and rng.random() < 0.4,
        )


def _e164(rng: random.Random, country: str) -> str:
    """A valid mobile number in E.164, drawn next to libphonenumber's example
    number for the country."""
    sample = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    if sample is None:
        raise ValueError(f"libphonenumber has no mobile example for {country}")
    example = phonenumbers.format_number(sample, phonenumbers.PhoneNumberFormat.E164)
    keep = 4
    while True:
        digits = "".join(str(rng.randint(0, 9)) for _ in range(keep))
        candidate = example[:-keep] + digits
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            return candidate


def _region(faker: Faker, country: str) -> str:
    for provider in ("province_abbr", "state", "region", "county"):
        if hasattr(faker, provider):
            return str(getattr(faker, provider)())
    return ""


def product_by_id(product_id: int) -> Product:
    return _PRODUCTS_BY_ID[product_id]


_PRODUCTS_BY_ID = {p.id: p for p in CATALOG}
