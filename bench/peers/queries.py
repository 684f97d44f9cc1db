"""The 360 view and the page of 50 (``bench/queries.py``) as each peer's schema
asks them: the same customer data, in the peer's own field names.

- **plain** (``bench/peers/plain.py``) mirrors our field names where it can;
  its customers are Shopify's, so ``customer(id:)`` takes Shopify's numeric
  id, the page is Shopify's first 50 (Shopify cannot sort customers by
  e-mail), and ``satisfaction``, ``consents``, ``loyaltyBalance`` and
  ``sessionsCount`` (ours, computed from our own tables or a HogQL query) are
  left out.
- **Hive Gateway + Mesh** asks Shopify's schema as it is plus the joined
  fields of ``bench/peers/hive/mesh.config.mjs``: the open ticket count is
  the client's count of ``zendeskUser.tickets.status``, last seen is
  ``posthogPerson.last_seen_at``.
"""

from __future__ import annotations

from bench.load import Request
from bench.queries import CUSTOMER_360, CUSTOMER_PAGE
from bench.subject import Subject
from connectors.shopify.simulator.data import customer_number

PLAIN_360 = """
query Customer360($id: ID!) {
  customer(id: $id) {
    id email phone firstName lastName displayName locale createdAt tags
    address { line1 city region postcode country }
    openTicketCount
    lastSeenAt
    orders(first: 20) {
      id name processedAt financialStatus fulfillmentStatus
      total { amount currencyCode }
      lineItems { title quantity sku unitPrice { amount currencyCode } }
    }
    tickets(first: 20) {
      id subject status priority channel tags createdAt updatedAt
    }
    activity(first: 50) { id kind name occurredAt path sessionId }
  }
}
"""

PLAIN_PAGE = """
query CustomerPage {
  customers(first: 50) {
    id email displayName
    orders(first: 5) { id name processedAt total { amount currencyCode } }
    openTicketCount
    lastSeenAt
  }
}
"""

HIVE_360 = """
query Customer360($id: ID!) {
  customer(id: $id) {
    id email phone firstName lastName displayName locale createdAt tags
    defaultAddress { address1 city province zip countryCodeV2 }
    orders(first: 20, sortKey: PROCESSED_AT, reverse: true) {
      pageInfo { hasNextPage endCursor }
      edges { node {
        id name processedAt displayFinancialStatus displayFulfillmentStatus
        totalPriceSet { shopMoney { amount currencyCode } }
        lineItems(first: 10) { edges { node {
          title quantity sku
          originalUnitPriceSet { shopMoney { amount currencyCode } }
        } } }
      } }
    }
    zendeskUser {
      id
      tickets { id subject status priority via { channel } tags created_at updated_at }
    }
    posthogPerson { last_seen_at }
    activity(limit: 50) {
      id event timestamp properties { _DOLLAR_pathname _DOLLAR_session_id }
    }
  }
}
"""

HIVE_PAGE = """
query CustomerPage {
  customers(first: 50) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id email displayName
      orders(first: 5, sortKey: PROCESSED_AT, reverse: true) {
        edges { node {
          id name processedAt totalPriceSet { shopMoney { amount currencyCode } }
        } }
      }
      zendeskUser { id tickets { status } }
      posthogPerson { last_seen_at }
    } }
  }
}
"""


def plain_requests(subject: Subject) -> dict[str, Request]:
    shopify_id = str(customer_number(subject.customer_id - 1))
    return {
        CUSTOMER_360.key: Request(PLAIN_360, {"id": shopify_id}),
        CUSTOMER_PAGE.key: Request(PLAIN_PAGE, {}),
    }


def hive_requests(subject: Subject) -> dict[str, Request]:
    gid = f"gid://shopify/Customer/{customer_number(subject.customer_id - 1)}"
    return {
        CUSTOMER_360.key: Request(HIVE_360, {"id": gid}),
        CUSTOMER_PAGE.key: Request(HIVE_PAGE, {}),
    }
