"""Promo codes in Shopify: ``discountCodeBasicCreate`` for one customer's
percentage-off code, the code read back by ``codeDiscountNodeByCode``, and the
collections a code can be limited to (``collections(query:)``,
``collection(id:)``).

A create answers either the discount or ``userErrors`` (``[{field, code,
message}]``, ``codeDiscountNode: null``), which become ``UpstreamRejected``.
Creating is idempotent by its code: Shopify refuses a code the shop already has
(``TAKEN`` on ``["basicCodeDiscount", "code"]``), so when a create was sent
before and its answer lost (a timeout, a retry after a 502), the second one
answers TAKEN; the code is then read back, and if that discount is the one
asked for (same customers, share and items: ``DiscountCode.grants``) it is the
answer — one discount upstream however many attempts. A code taken by another
discount stays a rejection. That is also why the document may be sent again by
the HTTP layer's retries like a read.

Scopes: the mutation needs ``write_discounts`` (which reads discounts too),
collections ``read_products``; without them Shopify answers ``ACCESS_DENIED``,
which ``AdminApi`` turns into ``UpstreamForbidden``. The documents (cost 10 for
the mutation plus about 20 for what it reads back) are priced with the others
in ``tests/unit/connectors/test_shopify_queries.py`` and validated against
Shopify's published 2025-07 schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.errors import Rejection, UpstreamBadResponse, UpstreamRejected
from connectors.models import Collection, DiscountCode, NewDiscountCode
from connectors.shopify.admin_api import NAME

Json = dict[str, Any]
Query = Callable[[str, Json], Awaitable[Json]]

ITEMS_READ_BACK = 25
"""Collections or products of a discount read back (ours have one)."""
COLLECTIONS_PAGE = 10

DISCOUNT_FIELDS = f"""
fragment DiscountFields on DiscountCodeNode {{
  id
  codeDiscount {{
    ... on DiscountCodeBasic {{
      title status startsAt endsAt usageLimit
      codes(first: 1) {{ nodes {{ code }} }}
      customerSelection {{ ... on DiscountCustomers {{ customers {{ id }} }} }}
      customerGets {{
        value {{ ... on DiscountPercentage {{ percentage }} }}
        items {{
          ... on DiscountCollections {{
            collections(first: {ITEMS_READ_BACK}) {{ nodes {{ id }} }}
          }}
          ... on DiscountProducts {{
            products(first: {ITEMS_READ_BACK}) {{ nodes {{ id }} }}
          }}
        }}
      }}
    }}
  }}
}}
"""

CREATE = (
    """
mutation DiscountCodeBasicCreate($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { ...DiscountFields }
    userErrors { field code message }
  }
}
"""
    + DISCOUNT_FIELDS
)

BY_CODE = (
    """
query DiscountByCode($code: String!) {
  codeDiscountNodeByCode(code: $code) { ...DiscountFields }
}
"""
    + DISCOUNT_FIELDS
)

COLLECTION_FIELDS = "id title handle productsCount { count }"

COLLECTIONS = f"""
query Collections($first: Int!, $query: String!) {{
  collections(first: $first, query: $query) {{ nodes {{ {COLLECTION_FIELDS} }} }}
}}
"""

COLLECTION = f"""
query CollectionById($id: ID!) {{
  collection(id: $id) {{ {COLLECTION_FIELDS} }}
}}
"""


class Discounts:
    """The discount calls, over the connector's ``query`` (``AdminApi``)."""

    def __init__(self, query: Query) -> None:
        self.query = query

    async def create_code(self, wanted: NewDiscountCode) -> DiscountCode:
        """The discount ``wanted`` describes, created now or by an earlier
        attempt with the same code; ``UpstreamRejected`` with Shopify's
        reasons otherwise."""
        data = await self.query(CREATE, {"input": basic_input(wanted)})
        payload = data.get("discountCodeBasicCreate")
        if not isinstance(payload, dict):
            raise UpstreamBadResponse(NAME, "discountCodeBasicCreate is null")
        rejections = tuple(_rejection(e) for e in payload.get("userErrors") or ())
        if not rejections:
            return discount_code(payload["codeDiscountNode"])
        if all(r.code == "TAKEN" and r.field[-1:] == ("code",) for r in rejections):
            earlier = await self.code(wanted.code)
            if earlier is not None and earlier.grants(wanted):
                return earlier
        raise UpstreamRejected(NAME, rejections)

    async def code(self, code: str) -> DiscountCode | None:
        """The code discount with ``code`` (any case), or ``None``."""
        data = await self.query(BY_CODE, {"code": code})
        node = data.get("codeDiscountNodeByCode")
        return discount_code(node) if node else None

    async def collections(self, title_or_handle: str) -> list[Collection]:
        """Collections whose title or handle is ``title_or_handle``, an exact
        title (any case) first: Shopify's search matches words, not names."""
        wanted = title_or_handle.strip()
        quoted = wanted.replace("\\", "").replace('"', "")
        search = f'title:"{quoted}" OR handle:"{handle_of(quoted)}"'
        variables = {"first": COLLECTIONS_PAGE, "query": search}
        data = await self.query(COLLECTIONS, variables)
        found = [collection(n) for n in data["collections"]["nodes"]]
        exact = [
            c
            for c in found
            if c.title.casefold() == wanted.casefold() or c.handle == handle_of(wanted)
        ]
        return sorted(exact, key=lambda c: c.title.casefold() != wanted.casefold())

    async def collection(self, collection_id: str) -> Collection | None:
        """The collection with this gid, or ``None`` when the shop has none."""
        data = await self.query(COLLECTION, {"id": collection_id})
        node = data.get("collection")
        return collection(node) if node else None


def handle_of(title: str) -> str:
    """The handle Shopify derives from a title (``Home & Garden`` →
    ``home-garden``)."""
    kept = "".join(ch if ch.isalnum() else "-" for ch in title.lower())
    return "-".join(part for part in kept.split("-") if part)


def basic_input(wanted: NewDiscountCode) -> Json:
    """``DiscountCodeBasicInput`` for ``wanted``."""
    items: Json = (
        {"collections": {"add": list(wanted.collection_ids)}}
        if wanted.collection_ids
        else {"products": {"productsToAdd": list(wanted.product_ids)}}
    )
    return {
        "title": wanted.title,
        "code": wanted.code,
        "startsAt": _iso(wanted.starts_at),
        "endsAt": _iso(wanted.ends_at) if wanted.ends_at else None,
        "customerSelection": {"customers": {"add": list(wanted.customer_ids)}},
        "customerGets": {
            "value": {"percentage": float(wanted.percentage)},
            "items": items,
        },
        "usageLimit": wanted.usage_limit,
        "appliesOncePerCustomer": wanted.once_per_customer,
        "combinesWith": {
            "productDiscounts": False,
            "orderDiscounts": False,
            "shippingDiscounts": wanted.combines_with_shipping,
        },
    }


def discount_code(node: Json) -> DiscountCode:
    """A ``DiscountFields`` node::

    {"id": "gid://shopify/DiscountCodeNode/1", "codeDiscount": {"title": …,
     "status": "ACTIVE", "startsAt": "2026-12-03T08:00:00Z", "endsAt": …,
     "usageLimit": 1, "codes": {"nodes": [{"code": "SKINCARE20-K7Q3XPMN"}]},
     "customerSelection": {"customers": [{"id": "gid://shopify/Customer/1"}]},
     "customerGets": {"value": {"percentage": 0.2},
                      "items": {"collections": {"nodes": [{"id": …}]}}}}}
    """
    basic = node["codeDiscount"]
    gets = basic.get("customerGets") or {}
    items = gets.get("items") or {}
    share = (gets.get("value") or {}).get("percentage")
    codes = basic["codes"]["nodes"]
    if not codes:
        raise UpstreamBadResponse(NAME, "discount without a code")
    return DiscountCode(
        id=node["id"],
        code=codes[0]["code"],
        title=basic["title"],
        status=basic["status"],
        percentage=None if share is None else Decimal(str(share)),
        starts_at=_when(basic["startsAt"]),
        ends_at=_when(basic["endsAt"]) if basic.get("endsAt") else None,
        usage_limit=basic.get("usageLimit"),
        customer_ids=tuple(
            c["id"] for c in (basic.get("customerSelection") or {}).get("customers", ())
        ),
        collection_ids=_ids(items.get("collections")),
        product_ids=_ids(items.get("products")),
    )


def collection(node: Json) -> Collection:
    count = node.get("productsCount")
    return Collection(
        id=node["id"],
        title=node["title"],
        handle=node["handle"],
        products_count=count["count"] if count else None,
    )


def _rejection(error: Json) -> Rejection:
    return Rejection(
        field=tuple(str(part) for part in error.get("field") or ()),
        code=error.get("code"),
        message=str(error.get("message") or ""),
    )


def _ids(connection: Json | None) -> tuple[str, ...]:
    return tuple(n["id"] for n in (connection or {}).get("nodes", ()))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)
