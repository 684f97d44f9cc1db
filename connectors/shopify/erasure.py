"""A customer's erasure in Shopify: ``customerRequestDataErasure(customerId:)``.

Shopify enqueues the request and erases the customer's personal data itself
(Shopify's help: "Erase customer personal data"); it answers the customer's
id, or ``userErrors`` (``[{field, code, message}]``) with a
``CustomerRequestDataErasureErrorCode``: ``DOES_NOT_EXIST`` (no such
customer: already erased, or deleted, which is what was asked) or
``FAILED_TO_REQUEST`` (``UpstreamUnavailable``: asked again later). The
mutation needs the ``write_customer_data_erasure`` access scope; without it
Shopify answers ``ACCESS_DENIED`` (``UpstreamForbidden``). The document is
validated against Shopify's published schema with the others
(``tests/unit/connectors/test_shopify_queries.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from connectors.errors import UpstreamBadResponse, UpstreamUnavailable
from connectors.shopify.admin_api import NAME

Json = dict[str, Any]
Query = Callable[[str, Json], Awaitable[Json]]

REQUEST_ERASURE = """
mutation CustomerRequestDataErasure($customerId: ID!) {
  customerRequestDataErasure(customerId: $customerId) {
    customerId
    userErrors { field code message }
  }
}
"""


async def request_erasure(query: Query, customer_gid: str) -> None:
    """Ask Shopify to erase ``customer_gid``; an unknown customer is done."""
    data = await query(REQUEST_ERASURE, {"customerId": customer_gid})
    payload = data.get("customerRequestDataErasure")
    if not isinstance(payload, dict):
        raise UpstreamBadResponse(NAME, "customerRequestDataErasure is null")
    codes = {e.get("code") for e in payload.get("userErrors") or ()}
    if codes - {"DOES_NOT_EXIST"}:
        raise UpstreamUnavailable(NAME, f"erasure refused: {sorted(map(str, codes))}")
