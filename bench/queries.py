"""The query shapes the benchmark runs: fixed documents, so runs compare.

Each shape says how many distinct (connector, nesting level) pairs it touches:
with loaders, a cold query should cost that many upstream calls, one per
connector per level, and a warm one none. Where the gateway needs more (Shopify
splits a level into concurrent calls planned under its query-cost cap, 50
customers' newest 5 order summaries, 35 orders with their line items or 20 full
orders a call; a first-ever link looks customers up by email and phone), the
report shows the difference instead of hiding it. PostHog answers activity,
``lastSeenAt`` and ``sessionsCount`` of a level in one HogQL query.

Orders are read as windows of each customer's newest orders, as many as the
page shows (rounded up to 5, 10, 20, 50, …), and as deep as the query shows:
summaries, summaries with their line items (no line totals), or full orders
(docs/shopify.md, "What a page of orders asks for").

1. **Customer 360** — one customer as a help-desk sidebar shows them: the
   profile, 20 orders with their line items, 20 tickets, 50 activity events and
   the trait-like fields (``openTicketCount``, ``satisfaction``, ``lastSeenAt``,
   ``sessionsCount``, ``loyaltyBalance``, ``tags``, ``consents``). Orders,
   tickets and activity sit at one level under the customer, so 3 pairs:
   (Shopify, 1), (Zendesk, 1), (PostHog, 1). Ticket comments are left out on
   purpose: they would add a second Zendesk level the issue did not ask for.
2. **Customer page** — 50 customers (e-mail order) with their last 5 orders,
   open ticket count and last-seen time: a list screen. 3 pairs, each batched
   over the 50 customers.
3. **Deep page** — the 4th page of one customer's history. The merged timeline
   (roadmap step 4) does not exist yet, so this reads the 4th page of
   ``activity`` (20 per page) and of ``orders`` (5 per page) with cursors the
   runner collects beforehand. 2 pairs: (Shopify, 1), (PostHog, 1). The orders
   cursor carries its position, so page 4 reads the newest 20 orders.

The subject customer (shapes 1 and 3) is chosen so that these pages are full,
as far as the demo world allows: see ``bench/subject.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shape:
    key: str
    title: str
    document: str
    expected_pairs: int
    """Distinct (connector, nesting level) pairs: the cold call target."""


CUSTOMER_360 = Shape(
    key="customer_360",
    title="Customer 360 view",
    expected_pairs=3,
    document="""
query Customer360($id: ID!) {
  customer(id: $id) {
    id email phone firstName lastName displayName locale timezone createdAt
    addresses { kind line1 city region postcode country isDefault }
    tags
    consents { channel state source changedAt }
    loyaltyBalance
    openTicketCount
    satisfaction { latestScore latestComment average ratedCount }
    lastSeenAt
    sessionsCount
    orders(first: 20) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        id name processedAt financialStatus fulfillmentStatus
        total { amount currencyCode }
        lineItems { title quantity sku category unitPrice { amount currencyCode } }
      } }
    }
    tickets(first: 20) {
      pageInfo { hasNextPage endCursor }
      edges { node { id subject status priority channel tags createdAt updatedAt } }
    }
    activity(first: 50) {
      pageInfo { hasNextPage endCursor }
      edges { node { id kind name occurredAt path sessionId } }
    }
  }
}
""",
)

CUSTOMER_PAGE = Shape(
    key="customer_page",
    title="Page of 50 customers",
    expected_pairs=3,
    document="""
query CustomerPage {
  customers(first: 50, orderBy: EMAIL_ASC) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id email displayName
      orders(first: 5) {
        totalCount
        edges { node { id name processedAt total { amount currencyCode } } }
      }
      openTicketCount
      lastSeenAt
    } }
  }
}
""",
)

DEEP_PAGE = Shape(
    key="deep_page",
    title="Deep page (4th page of activity and orders)",
    expected_pairs=2,
    document="""
query DeepPage($id: ID!, $activityAfter: String, $ordersAfter: String) {
  customer(id: $id) {
    id
    activity(first: 20, after: $activityAfter) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id kind name occurredAt path } }
    }
    orders(first: 5, after: $ordersAfter) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id name processedAt total { amount currencyCode } } }
    }
  }
}
""",
)

DEEP_PAGE_NUMBER = 4
"""Which page the deep-page shape asks for."""

SHAPES: tuple[Shape, ...] = (CUSTOMER_360, CUSTOMER_PAGE, DEEP_PAGE)
