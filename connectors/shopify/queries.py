"""The Admin GraphQL documents the connector sends, and their page sizes.

Shopify prices a query before running it: objects cost 1, a connection
``2 + first × item cost``, so nested connections multiply, and a query above
1,000 requested points is refused with ``MAX_COST_EXCEEDED`` (shopify.dev,
"GraphQL Admin API rate limits": the single query limit is on the requested
cost, whatever the plan). The cost model is ours, so the sizes below plan every
document at ``PLANNED_COST`` (900) or less, a margin under the cap; a document
Shopify still prices above it is split by the client (``client.py``).
``tests/unit/connectors/test_shopify_query_costs.py`` prices each document at
its planned sizes with the simulator's cost model.

The ``orders`` search (the full history, for the insights sync) asks for ten
line items, five refunds and five returns an order, 94 points, so nine orders
fit in one page. The windows the graph reads ask for what the query shows,
in three depths: full orders ask for fewer parts inline (44 points an order,
20 orders a call) and fetch the rest of the rare order that has more in a
follow-up; a summary (the total, no subtotal, refunds or parts) costs 3; a
summary with its line items but not their totals (what a list of what was
bought shows) costs 25.

Fields behind optional access scopes (``LineItem.product``: ``read_products``;
``Order.returns``: ``read_returns``) are left out of a document when the app
lacks the scope (``scopes.py``), so the rest of the order still answers.
"""

from __future__ import annotations

MONEY = "shopMoney { amount currencyCode }"

CUSTOMER_FIELDS = """
fragment CustomerFields on Customer {
  id firstName lastName createdAt updatedAt tags note locale state verifiedEmail
  numberOfOrders lifetimeDuration
  amountSpent { amount currencyCode }
  defaultEmailAddress { emailAddress marketingState }
  defaultPhoneNumber { phoneNumber marketingState }
}
"""

LINE_ITEM_FIELDS = (
    "id title quantity sku variantTitle product { id productType vendor }"
)

CUSTOMERS_BY_IDS = (
    """
query CustomersByIds($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Customer { ...CustomerFields } }
}
"""
    + CUSTOMER_FIELDS
)

CUSTOMERS_SEARCH = (
    """
query CustomersSearch($first: Int!, $after: String, $query: String,
                      $sortKey: CustomerSortKeys) {
  customers(first: $first, after: $after, query: $query, sortKey: $sortKey) {
    nodes { ...CustomerFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + CUSTOMER_FIELDS
)

ORDERS = f"""
query OrdersByCustomers($first: Int!, $after: String, $query: String!) {{
  orders(first: $first, after: $after, query: $query,
         sortKey: PROCESSED_AT, reverse: true) {{
    nodes {{
      id name createdAt processedAt cancelledAt
      displayFinancialStatus displayFulfillmentStatus
      customer {{ id }}
      totalPriceSet {{ {MONEY} }}
      subtotalPriceSet {{ {MONEY} }}
      totalRefundedSet {{ {MONEY} }}
      lineItems(first: 10) {{
        nodes {{
          {LINE_ITEM_FIELDS}
          originalUnitPriceSet {{ {MONEY} }}
          discountedTotalSet {{ {MONEY} }}
        }}
      }}
      refunds(first: 5) {{ id createdAt note totalRefundedSet {{ {MONEY} }} }}
      returns(first: 5) {{ nodes {{ id name status createdAt totalQuantity }} }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

ORDER_SUMMARY = f"""
fragment OrderSummary on Order {{
  id name createdAt processedAt cancelledAt
  displayFinancialStatus displayFulfillmentStatus
  totalPriceSet {{ {MONEY} }}
}}
"""
"""3 points: the order and its total (a money bag: two objects)."""
ORDER_AMOUNTS = f"""
  subtotalPriceSet {{ {MONEY} }}
  totalRefundedSet {{ {MONEY} }}
"""
"""4 points: what a full order adds to a summary besides its parts."""

LINE_ITEM_NODE = f"""
  {LINE_ITEM_FIELDS}
  originalUnitPriceSet {{ {MONEY} }}
  discountedTotalSet {{ {MONEY} }}
"""
"""6 points: the line item, its product and two money bags."""
REFUND_NODE = f"id createdAt note totalRefundedSet {{ {MONEY} }}"
"""3 points."""
RETURN_NODE = "id name status createdAt totalQuantity"
"""1 point."""
PAGE_INFO = "pageInfo { hasNextPage endCursor }"


def _order_parts(line_items: int, refunds: int, returns: int) -> str:
    """The first line items, refunds and returns of an order. ``refunds`` is a
    plain list: as many as asked means there may be more."""
    return f"""
  lineItems(first: {line_items}) {{ nodes {{ {LINE_ITEM_NODE} }} {PAGE_INFO} }}
  refunds(first: {refunds}) {{ {REFUND_NODE} }}
  returns(first: {returns}) {{ nodes {{ {RETURN_NODE} }} {PAGE_INFO} }}
"""


INLINE_LINE_ITEMS = 4
INLINE_REFUNDS = 2
INLINE_RETURNS = 1
"""Read with every order of a window: enough for nearly every order (demo
orders have 1–5 line items, at most one refund and one return), small enough
that 20 full orders fit one call."""
ORDER_COST = (
    3
    + 4
    + (2 + INLINE_LINE_ITEMS * 6)
    + (2 + INLINE_REFUNDS * 3)
    + (2 + INLINE_RETURNS * 1)
)
"""44 points per full order."""
SUMMARY_COST = 3
CUSTOMER_COST = 3
"""A customer of ``nodes`` (1) and its ``orders`` connection (2)."""


def _windows(name: str, order: str, fragment: str) -> str:
    return (
        f"""
query {name}($ids: [ID!]!, $first: Int!, $after: String) {{
  nodes(ids: $ids) {{
    ... on Customer {{
      id numberOfOrders
      orders(first: $first, after: $after, sortKey: PROCESSED_AT, reverse: true) {{
        nodes {{ {order} }}
        {PAGE_INFO}
      }}
    }}
  }}
}}
"""
        + fragment
    )


ORDER_WINDOWS = _windows(
    "OrderWindows",
    "...OrderSummary "
    + ORDER_AMOUNTS
    + _order_parts(INLINE_LINE_ITEMS, INLINE_REFUNDS, INLINE_RETURNS),
    ORDER_SUMMARY,
)
"""The newest ``$first`` full orders of each customer in ``$ids``."""
ORDER_SUMMARY_WINDOWS = _windows(
    "OrderSummaryWindows", "...OrderSummary", ORDER_SUMMARY
)
"""The same as summaries: no subtotal, refunds, line items or returns (3 points
an order: the newest 5 orders of 50 customers fit one call)."""

LINE_SUMMARY_NODE = f"""
  id title quantity sku variantTitle product {{ productType vendor }}
  originalUnitPriceSet {{ {MONEY} }}
"""
"""4 points: the line item, its product and its unit price; not its total."""
INLINE_LINE_SUMMARIES = 5
"""Line items read inline with an order whose list shows what was bought."""
LINE_SUMMARY_COST = 4
ORDER_LINES_COST = SUMMARY_COST + 2 + INLINE_LINE_SUMMARIES * LINE_SUMMARY_COST
"""25 points per order: its summary and its first line items' summaries."""
ORDER_LINES_WINDOWS = _windows(
    "OrderLinesWindows",
    "...OrderSummary "
    f"lineItems(first: {INLINE_LINE_SUMMARIES}) "
    f"{{ nodes {{ {LINE_SUMMARY_NODE} }} {PAGE_INFO} }}",
    ORDER_SUMMARY,
)
"""The newest ``$first`` orders of each customer as summaries with their line
items' summaries: what a list showing what was bought, but no order amounts,
line totals, refunds or returns, reads (35 orders a call; about 60 % of the
fields of full orders, for a typical order)."""
DETAIL_LINE_SUMMARIES = 30
ORDER_LINE_DETAILS = f"""
query OrderLineDetails($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Order {{
      id
      lineItems(first: {DETAIL_LINE_SUMMARIES}) {{
        nodes {{ {LINE_SUMMARY_NODE} }} {PAGE_INFO}
      }}
    }}
  }}
}}
"""
"""The follow-up for orders with more line items than fit inline."""
LINE_DETAILS_PER_CALL = 7
"""123 points an order: 1 + (2 + 30 × 4)."""
LINE_SUMMARIES_PAGE = 224
"""1 + 2 + 224 × 4 = 899 points."""
ORDER_LINE_SUMMARIES = f"""
query OrderLineSummaries($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {LINE_SUMMARIES_PAGE}, after: $after) {{
      nodes {{ {LINE_SUMMARY_NODE} }} {PAGE_INFO}
    }}
  }}
}}
"""
"""Past the follow-up's 30: the rest of an order's line items."""

DETAIL_LINE_ITEMS = 30
DETAIL_REFUNDS = 10
DETAIL_RETURNS = 10
ORDER_DETAILS = f"""
query OrderDetails($ids: [ID!]!) {{
  nodes(ids: $ids) {{
    ... on Order {{
      id {_order_parts(DETAIL_LINE_ITEMS, DETAIL_REFUNDS, DETAIL_RETURNS)}
    }}
  }}
}}
"""
"""The follow-up for orders whose parts did not fit inline."""
DETAILS_PER_CALL = 3
"""227 points an order: 1 + (2 + 30 × 6) + (2 + 10 × 3) + (2 + 10 × 1)."""

LINE_ITEMS_PAGE = 140
"""1 + 2 + 140 × 6 = 843 points."""
ORDER_LINE_ITEMS = f"""
query OrderLineItems($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {LINE_ITEMS_PAGE}, after: $after) {{
      nodes {{ {LINE_ITEM_NODE} }} {PAGE_INFO}
    }}
  }}
}}
"""
ORDER_RETURNS = f"""
query OrderReturns($id: ID!, $after: String) {{
  order(id: $id) {{
    returns(first: 250, after: $after) {{ nodes {{ {RETURN_NODE} }} {PAGE_INFO} }}
  }}
}}
"""
MAX_REFUNDS = 250
ORDER_REFUNDS = f"""
query OrderRefunds($id: ID!) {{
  order(id: $id) {{ refunds(first: {MAX_REFUNDS}) {{ {REFUND_NODE} }} }}
}}
"""
"""Past the follow-up's limits (an order with 30+ line items, 10+ refunds or
returns): the rest, one order and one part at a time."""

CHECKOUTS = f"""
query AbandonedCheckouts($first: Int!, $after: String, $query: String) {{
  abandonedCheckouts(first: $first, after: $after, query: $query,
                     sortKey: CREATED_AT, reverse: true) {{
    nodes {{
      id abandonedCheckoutUrl createdAt completedAt
      customer {{ id }}
      totalPriceSet {{ {MONEY} }}
      lineItems(first: 5) {{
        nodes {{
          {LINE_ITEM_FIELDS}
          originalUnitPriceSet {{ {MONEY} }}
          discountedTotalPriceSet {{ {MONEY} }}
        }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

ACCESS_SCOPES = """
query AccessScopes { currentAppInstallation { accessScopes { handle } } }
"""
"""The scopes the app was granted (2 points)."""

MAX_COST = 1000
"""Shopify refuses a query whose requested cost is above this."""
PLANNED_COST = 900
"""What the connector plans a document to cost at most."""
MAX_IDS = 250
"""Any input array holds at most 250 items (shopify.dev "API limits")."""
MAX_PAGE = 250
"""A connection's ``first`` is at most 250."""
IDS_PER_CALL = 225
"""Customers per ``nodes(ids:)`` of ``CUSTOMERS_BY_IDS``: 4 points each."""
MAX_ORDERS_PAGE = 9
"""``ORDERS``: 2 + 9 × 94 = 848 points."""
MAX_CHECKOUTS_PAGE = 24
"""``CHECKOUTS``: 2 + 24 × 36 = 866 points."""
MAX_CUSTOMERS_PAGE = 224
"""``CUSTOMERS_SEARCH``: 2 + 224 × 4 = 898 points."""
CUSTOMERS_PER_SEARCH = 50
"""Ids or emails OR-ed into one ``query:`` string."""
