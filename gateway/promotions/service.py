"""Creating a customer's promo code: checked, reserved, made in Shopify once.

::

    code = await create_promo_code(services, customer_id, 20, category="Skincare",
                                   valid_days=30, run_id=run.id)

1. The input is checked before anything is written or sent: a percentage
   outside 1–100 (``percentage``), a validity outside 1–365 days
   (``validDays``), a category and a collection both given, an unknown
   customer, one with no Shopify account, a category Shopify has no
   collection for (``category``) or a collection id it does not have
   (``collection``) — ``BAD_USER_INPUT`` naming the field, nothing created.
   With neither a category nor a collection the customer's favourite category
   (by quantity, from the insights' traits) is used: the birthday example's
   "20 % off their most-purchased category".
2. The code is reserved: a ``promo_codes`` row without a discount id, in its
   own transaction (``tables.py``). A run that has a row already takes it
   (a finished one is returned as it is, with no call to Shopify).
3. Shopify makes the discount (``connectors.shopify.discounts``): for this
   customer only, on the collection's products, from now for ``valid_days``,
   one use. The row gets the discount's gid and a ``promo_code_created``
   change is announced (the customer's cached responses are dropped).

Shopify refusing it (``userErrors``: ``UpstreamRejected``, whose ``detail``
has Shopify's messages for the run to record; or a missing ``write_discounts``
scope: ``UpstreamForbidden``) deletes the reservation and raises. A failure
that may have made the discount anyway (a timeout, a lost answer) keeps the
reservation: the retry sends the same code, which Shopify answers as made.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.errors import (
    UpstreamAuthError,
    UpstreamForbidden,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.models import Collection, NewDiscountCode
from connectors.shopify.client import ShopifyConnector
from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.db.races import retry_on_conflict
from gateway.errors import BadUserInput, NotFound
from gateway.identity.links import resolve_links
from gateway.insights.tables import CustomerTraits
from gateway.promotions.codes import promo_code
from gateway.promotions.tables import PromoCode

if TYPE_CHECKING:
    from gateway.runtime.services import Services

Sessions = async_sessionmaker[AsyncSession]
PERCENTAGES = range(1, 101)
VALID_DAYS = range(1, 366)
DEFAULT_VALID_DAYS = 30
COLLECTION_GID = "gid://shopify/Collection/"
NOTHING_MADE = (UpstreamRejected, UpstreamForbidden, UpstreamAuthError)
"""Failures after which Shopify surely made no discount."""


async def create_promo_code(
    services: Services,
    customer_id: int,
    percentage: int,
    *,
    category: str | None = None,
    collection: str | None = None,
    valid_days: int = DEFAULT_VALID_DAYS,
    run_id: int | None = None,
) -> PromoCode:
    """The customer's code: ``percentage`` % off ``category``'s collection (or
    the ``collection`` gid; by default the favourite category), valid
    ``valid_days`` days; with ``run_id``, the one code of that run."""
    _check(percentage, valid_days, category, collection)
    sessions = services.sessions
    if run_id is not None:
        made = await _of_run(sessions, run_id)
        if made is not None and made.discount_id is not None:
            return made
    customer, favourite = await _customer(sessions, customer_id)
    if category is None and collection is None and favourite is None:
        raise BadUserInput(
            "The customer has no favourite category yet: give one.",
            field="category",
        )
    shopify = services.upstreams.shopify
    if shopify is None:
        raise UpstreamUnavailable("shopify", "not configured")
    links = await resolve_links(sessions, shopify, [customer], services.match_rules)
    if customer.id not in links:
        raise BadUserInput("The customer has no Shopify account.", field="customerId")
    if category is None and collection is None:
        category = favourite
    found = await _collection(shopify, category, collection)
    secret = services.settings.secret_key.get_secret_value().encode()
    now = models.utcnow().replace(microsecond=0)
    values = {
        "customer_id": customer.id,
        "code": promo_code(found.title, percentage, run_id=run_id, secret=secret),
        "percentage": percentage,
        "category": category,
        "collection_id": found.id,
        "starts_at": now,
        "ends_at": now + timedelta(days=valid_days),
        "automation_run_id": run_id,
    }
    reserved = await retry_on_conflict(lambda: _reserve(sessions, values))
    if reserved.discount_id is not None:
        return reserved
    try:
        discount = await shopify.create_discount_code(
            _wanted(reserved, links[customer.id], found)
        )
    except NOTHING_MADE:
        await _forget(sessions, reserved.id)
        raise
    async with sessions() as session, session.begin():
        row = await session.get(PromoCode, reserved.id)
        assert row is not None  # reserved rows go only when nothing was made
        row.discount_id = discount.id
    await services.changes.publish(
        CustomerChange(customer.id, "crm", "promo_code_created")
    )
    return row


def _check(
    percentage: int, valid_days: int, category: str | None, collection: str | None
) -> None:
    if percentage not in PERCENTAGES:
        raise BadUserInput(
            "The percentage must be between 1 and 100.", field="percentage"
        )
    if valid_days not in VALID_DAYS:
        raise BadUserInput(
            "A promo code is valid for 1 to 365 days.", field="validDays"
        )
    if category is not None and collection is not None:
        raise BadUserInput(
            "Give a category or a collection, not both.", field="collection"
        )
    if category is not None and not category.strip():
        raise BadUserInput("The category is blank.", field="category")
    if collection is not None and not collection.startswith(COLLECTION_GID):
        raise BadUserInput(
            "A collection is a Shopify collection id (gid://shopify/Collection/…).",
            field="collection",
        )


async def _customer(
    sessions: Sessions, customer_id: int
) -> tuple[models.Customer, str | None]:
    """The customer and its favourite category by quantity, in one session."""
    async with sessions() as session:
        customer = await session.get(models.Customer, customer_id)
        if customer is None:
            raise NotFound("No customer with this id.", field="customerId")
        traits = await session.get(CustomerTraits, customer_id)
    return customer, traits.favourite_category_by_quantity if traits else None


async def _collection(
    shopify: ShopifyConnector, category: str | None, collection: str | None
) -> Collection:
    if collection is not None:
        found = await shopify.discounts.collection(collection)
        if found is None:
            raise BadUserInput("Shopify has no such collection.", field="collection")
        return found
    assert category is not None
    named = await shopify.discounts.collections(category)
    if not named:
        raise BadUserInput(
            "Shopify has no collection for this category.", field="category"
        )
    return named[0]


async def _of_run(sessions: Sessions, run_id: int) -> PromoCode | None:
    async with sessions() as session:
        found: PromoCode | None = await session.scalar(
            select(PromoCode).where(PromoCode.automation_run_id == run_id)
        )
    return found


async def _reserve(sessions: Sessions, values: dict[str, object]) -> PromoCode:
    """A new row of ``values``; or the run's row another attempt reserved
    first (a lost race on the run's unique key is run again by the caller)."""
    run_id = values["automation_run_id"]
    async with sessions() as session, session.begin():
        if run_id is not None:
            earlier: PromoCode | None = await session.scalar(
                select(PromoCode).where(PromoCode.automation_run_id == run_id)
            )
            if earlier is not None:
                return earlier
        row = PromoCode(**values)
        session.add(row)
    return row


async def _forget(sessions: Sessions, reserved_id: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(delete(PromoCode).where(PromoCode.id == reserved_id))


def _wanted(row: PromoCode, customer_gid: str, found: Collection) -> NewDiscountCode:
    """The discount of a reserved row: built from the row, so every attempt
    asks for the very same discount."""
    return NewDiscountCode(
        title=f"{row.percentage}% off {found.title}",
        code=row.code,
        percentage=Decimal(row.percentage) / 100,
        customer_ids=(customer_gid,),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        collection_ids=(row.collection_id,),
    )
