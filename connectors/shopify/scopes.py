"""The access scopes the Shopify connector reads with, and what a missing one
hides.

Every Admin API type names the scope it needs (``requiredAccess`` in Shopify's
published 2025-07 schema, Shopify/cli
packages/shopify-dev-tools/src/data/admin_2025-07.json.gz): ``Customer``
``read_customers``; ``Order``, ``LineItem``, ``Refund`` and abandoned checkouts
``read_orders``; ``Product`` ``read_products``; ``Return`` ``read_returns``.
Orders older than 60 days need ``read_all_orders`` too, and without it they are
absent, not refused (the ``Order`` type's description). A field the token may
not read is null with an error, the rest of the document answers::

    {"message": "Access denied for returns field. Required access: `read_returns`
                 access scope.", "path": [..., "returns"],
     "extensions": {"code": "ACCESS_DENIED", "requiredAccess":
                    "`read_returns` access scope.", "documentation": ...}}

(shopify.dev/changelog/new-error-messages-for-graphql-operations-without-
necessary-access-scopes). A denied non-null field such as ``Order.returns``
would null the whole order, so the connector does not ask for the fields of an
``OPTIONAL`` scope it lacks (``without``): the orders answer, and the mapping
marks what was left out as unavailable. Without ``read_customers`` or
``read_orders`` there is nothing to answer: ``UpstreamForbidden``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import FieldNode, Visitor, parse, print_ast, visit
from graphql.language.visitor import REMOVE

NEEDED: dict[str, str] = {
    "read_customers": "Shopify customers are not readable: every Shopify field"
    " is null (UPSTREAM_FORBIDDEN)",
    "read_orders": "orders, returns and abandoned checkouts are null"
    " (UPSTREAM_FORBIDDEN)",
    "read_all_orders": "orders older than 60 days are not visible",
    "read_products": "line items' category and vendor are null (UPSTREAM_FORBIDDEN)",
    "read_returns": "orders' and customers' returns are null (UPSTREAM_FORBIDDEN)",
    "write_discounts": "promo codes cannot be created (UPSTREAM_FORBIDDEN)",
    "write_customer_data_erasure": "erasure requests cannot reach Shopify (the"
    " request's shopify source stays failed)",
}
"""The scopes the connector reads and writes with, and what is missing without
each."""

OPTIONAL: dict[str, frozenset[str]] = {
    "read_products": frozenset({"product"}),
    "read_returns": frozenset({"returns"}),
}
"""Scopes whose fields a document can do without: the fields, by name (each
name means one thing in every document ``queries.py`` holds)."""

_SCOPE = re.compile(r"`(\w+)`")


@dataclass(frozen=True, slots=True)
class ScopeCheck:
    """What ``currentAppInstallation { accessScopes { handle } }`` answered."""

    granted: frozenset[str]

    @property
    def missing(self) -> tuple[str, ...]:
        """Needed scopes not granted, in ``NEEDED``'s order."""
        return tuple(s for s in NEEDED if s not in self.granted)

    def hidden(self) -> list[str]:
        """What each missing scope hides: "orders older than 60 days are not
        visible: read_all_orders missing"."""
        return [f"{NEEDED[s]}: {s} missing" for s in self.missing]


def denied(errors: Iterable[Mapping[str, Any]]) -> set[str]:
    """The scopes ``ACCESS_DENIED`` errors name (``""`` when one names none)."""
    scopes: set[str] = set()
    for error in errors:
        extensions = error.get("extensions") or {}
        if extensions.get("code") != "ACCESS_DENIED":
            continue
        text = str(extensions.get("requiredAccess") or error.get("message") or "")
        found = _SCOPE.search(text)
        scopes.add(found.group(1) if found else "")
    return scopes


def withheld_fields(missing: Iterable[str]) -> frozenset[str]:
    """The field names the documents leave out when ``missing`` scopes lack."""
    return frozenset().union(*(OPTIONAL.get(s, frozenset()) for s in missing))


@cache
def without(document: str, fields: frozenset[str]) -> str:
    """``document`` with every field named in ``fields`` removed."""
    if not fields:
        return document

    class Strip(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> object:
            return REMOVE if node.name.value in fields else None

    return print_ast(visit(parse(document), Strip()))
