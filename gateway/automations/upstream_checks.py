"""What a definition's actions name upstream, checked before it is saved or
dry-run: the Klaviyo list an ``addToList`` subscribes to, the Shopify
collection of a ``createDiscountCode``'s category. Without this check such an
automation is saved and every one of its runs dies ("Klaviyo has no list",
"no collection for this category"); with it the caller gets BAD_USER_INPUT on
the action's field and nothing is written, or NOT_CONFIGURED when this
deployment has no such upstream. An upstream that fails to answer fails the
call with its own code (``UPSTREAM_*``): nothing is written either.

Called outside any transaction: an upstream's latency must not hold a
database connection (nor SQLite's write lock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.audiences.service import audiences_for
from gateway.automations.definitions import Definition, Spec
from gateway.errors import BadUserInput, NotConfigured

if TYPE_CHECKING:
    from gateway.runtime.services import Services


async def check_upstream(services: Services, definition: Definition) -> None:
    for index, (kind, spec) in enumerate(definition.actions):
        key = f"actions[{index}].{kind}"
        if kind == "addToList":
            await _klaviyo_list(services, key, spec)
        elif kind == "createDiscountCode" and "category" in spec:
            await _collection(services, key, spec)


async def _klaviyo_list(services: Services, key: str, spec: Spec) -> None:
    audiences = audiences_for(services)
    if audiences is None:
        raise NotConfigured(
            "Klaviyo is not configured (CG_KLAVIYO_API_KEY).", source="klaviyo"
        )
    if await audiences.klaviyo.get_list(spec["listId"]) is None:
        raise BadUserInput("Klaviyo has no list with this id.", field=f"{key}.listId")


async def _collection(services: Services, key: str, spec: Spec) -> None:
    shopify = services.upstreams.shopify
    if shopify is None:
        raise NotConfigured(
            "Shopify is not configured (CG_SHOPIFY_SHOP).", source="shopify"
        )
    if not await shopify.discounts.collections(spec["category"]):
        raise BadUserInput(
            "Shopify has no collection for this category.", field=f"{key}.category"
        )
