"""The Admin GraphQL documents the connector sends, and their page sizes.

Shopify prices a query before running it: objects cost 1, a connection
``2 + first × item cost``, so nested connections multiply, and a query above
1,000 requested points is refused. The page-size ceilings below keep each
document under that cap: an order with ten line items, five refunds and five
returns costs about 94 points, so ten orders fit in one page.
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

MAX_IDS = 250
"""``nodes(ids:)`` takes at most 250 ids (4 points each: 1,000)."""
MAX_ORDERS_PAGE = 10
MAX_CHECKOUTS_PAGE = 25
MAX_CUSTOMERS_PAGE = 240
CUSTOMERS_PER_SEARCH = 50
"""Ids or emails OR-ed into one ``query:`` string."""
