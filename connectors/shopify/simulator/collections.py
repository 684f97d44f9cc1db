"""The simulated shop's catalogue as Shopify holds it: a product per demo
product, a variant each, and a custom collection per category holding that
category's products (what a merchant builds so a discount can be limited to a
category: Shopify discounts apply to collections or products, not to a product
type). ``collections(query:)`` searches them by ``title``, ``handle``, ``id``
and ``collection_type``; a handle is the title as Shopify derives it (lower case,
dashes for anything else)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.demo_world import CATALOG, CATEGORIES, Product
from connectors.shopify.simulator.history import PRODUCT_ID_BASE, VARIANT_ID_BASE, gid
from connectors.shopify.simulator.search import Getter

Record = dict[str, Any]

COLLECTION_ID_BASE = 4_800_000_000_000

COLLECTION_FILTERS: dict[str, Getter] = {
    "id": lambda r: r["_number"],
    "title": lambda r: r["title"],
    "handle": lambda r: r["handle"],
    "collection_type": lambda r: "custom",
    "_text": lambda r: f"{r['title']} {r['handle']}",
}


def handle(title: str) -> str:
    """Shopify's handle for a title: ``Home & Garden`` → ``home-garden``."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def product_record(product: Product) -> Record:
    return {
        "__typename": "Product",
        "id": gid("Product", PRODUCT_ID_BASE + product.id),
        "title": product.title,
        "productType": product.category,
        "vendor": product.vendor,
    }


def variant_record(product: Product) -> Record:
    return {
        "__typename": "ProductVariant",
        "id": gid("ProductVariant", VARIANT_ID_BASE + product.id),
        "sku": f"NW-{product.id}",
        "title": "Default Title",
    }


def catalogue_records(now: datetime) -> list[Record]:
    """Every product, variant and category collection, each once."""
    products = {p.id: product_record(p) for p in CATALOG}
    records = [*products.values(), *(variant_record(p) for p in CATALOG)]
    for position, category in enumerate(CATEGORIES, start=1):
        members = [p for p in CATALOG if p.category == category]
        number = COLLECTION_ID_BASE + position
        records.append(
            {
                "__typename": "Collection",
                "id": gid("Collection", number),
                "title": category,
                "handle": handle(category),
                "description": f"Every {category.lower()} product of the shop.",
                "updatedAt": (now - timedelta(days=30))
                .astimezone(UTC)
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "productsCount": {"count": len(members), "precision": "EXACT"},
                "products": [products[p.id] for p in members],
                "_number": number,
            }
        )
    return records
