"""The Admin GraphQL schema the simulator executes (the subset the connector and
the demo use), with Shopify's types, nullability and enum names: every field
the connector reads has the type it has in Shopify's published 2025-07 schema
(``admin_2025-07.json.gz``, Shopify/cli packages/shopify-dev-tools/src/data/),
nullable ones included (``Refund.createdAt``, ``AbandonedCheckoutLineItem.title``,
``LineItem.product``, ``Order.subtotalPriceSet``, ``displayFinancialStatus``).

Executing a real schema instead of pattern-matching query strings means a
connector query with a typo fails here exactly as it would against Shopify.
"""

from __future__ import annotations

SDL = """
scalar DateTime
scalar Decimal
scalar UnsignedInt64
scalar URL

interface Node { id: ID! }

enum CurrencyCode { USD CAD GBP EUR AUD JPY CHF SEK DKK NOK }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type PageInfo {
  hasNextPage: Boolean! hasPreviousPage: Boolean!
  startCursor: String endCursor: String
}

enum CustomerEmailAddressMarketingState {
  NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED REDACTED INVALID
}
enum CustomerSmsMarketingState {
  NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED REDACTED
}
enum CustomerState { DISABLED INVITED ENABLED DECLINED }
type CustomerEmailAddress {
  emailAddress: String! marketingState: CustomerEmailAddressMarketingState!
}
type CustomerPhoneNumber {
  phoneNumber: String! marketingState: CustomerSmsMarketingState!
}
type MailingAddress {
  address1: String city: String province: String zip: String countryCodeV2: String
}

type Customer implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  firstName: String
  lastName: String
  displayName: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  tags: [String!]!
  note: String
  locale: String!
  state: CustomerState!
  verifiedEmail: Boolean!
  numberOfOrders: UnsignedInt64!
  amountSpent: MoneyV2!
  lifetimeDuration: String!
  lastOrder: Order
  defaultAddress: MailingAddress
  defaultEmailAddress: CustomerEmailAddress
  defaultPhoneNumber: CustomerPhoneNumber
  email: String @deprecated(reason: "Use `defaultEmailAddress.emailAddress` instead.")
  phone: String @deprecated(reason: "Use `defaultPhoneNumber.phoneNumber` instead.")
  orders(first: Int, after: String, query: String, sortKey: OrderSortKeys = ID,
         reverse: Boolean = false): OrderConnection!
}
type CustomerEdge { cursor: String! node: Customer! }
type CustomerConnection {
  edges: [CustomerEdge!]! nodes: [Customer!]! pageInfo: PageInfo!
}
enum CustomerSortKeys { CREATED_AT ID UPDATED_AT }

type Product implements Node {
  id: ID! title: String! productType: String! vendor: String!
}
type ProductVariant implements Node { id: ID! sku: String title: String! }

type LineItem implements Node {
  id: ID!
  title: String!
  name: String!
  quantity: Int!
  sku: String
  variantTitle: String
  variant: ProductVariant
  product: Product
  originalUnitPriceSet: MoneyBag!
  discountedTotalSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection {
  edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo!
}

type Refund implements Node {
  id: ID! createdAt: DateTime note: String totalRefundedSet: MoneyBag!
}

enum ReturnStatus { CANCELED CLOSED DECLINED OPEN REQUESTED }
type ReturnLineItem { id: ID! quantity: Int! }
type ReturnLineItemEdge { cursor: String! node: ReturnLineItem! }
type ReturnLineItemConnection {
  edges: [ReturnLineItemEdge!]! nodes: [ReturnLineItem!]! pageInfo: PageInfo!
}
type Return implements Node {
  id: ID!
  name: String!
  status: ReturnStatus!
  createdAt: DateTime!
  totalQuantity: Int!
  returnLineItems(first: Int, after: String): ReturnLineItemConnection!
}
type ReturnEdge { cursor: String! node: Return! }
type ReturnConnection { edges: [ReturnEdge!]! nodes: [Return!]! pageInfo: PageInfo! }

enum OrderDisplayFinancialStatus {
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}
enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT
  REQUEST_DECLINED RESTOCKED SCHEDULED UNFULFILLED
}
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }
enum OrderSortKeys { CREATED_AT ID PROCESSED_AT UPDATED_AT }

type Order implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  createdAt: DateTime!
  processedAt: DateTime!
  updatedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closedAt: DateTime
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  currencyCode: CurrencyCode!
  email: String
  tags: [String!]!
  note: String
  customer: Customer
  totalPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag
  totalRefundedSet: MoneyBag!
  lineItems(first: Int, after: String): LineItemConnection!
  refunds(first: Int): [Refund!]!
  returns(first: Int, after: String): ReturnConnection!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type AbandonedCheckoutLineItem {
  id: ID!
  title: String
  quantity: Int!
  sku: String
  variantTitle: String
  variant: ProductVariant
  product: Product
  originalUnitPriceSet: MoneyBag!
  discountedTotalPriceSet: MoneyBag!
}
type AbandonedCheckoutLineItemEdge { cursor: String! node: AbandonedCheckoutLineItem! }
type AbandonedCheckoutLineItemConnection {
  edges: [AbandonedCheckoutLineItemEdge!]!
  nodes: [AbandonedCheckoutLineItem!]!
  pageInfo: PageInfo!
}
type AbandonedCheckout implements Node {
  id: ID!
  name: String!
  abandonedCheckoutUrl: URL!
  createdAt: DateTime!
  updatedAt: DateTime!
  completedAt: DateTime
  customer: Customer
  totalPriceSet: MoneyBag!
  subtotalPriceSet: MoneyBag!
  lineItems(first: Int, after: String): AbandonedCheckoutLineItemConnection!
}
type AbandonedCheckoutEdge { cursor: String! node: AbandonedCheckout! }
type AbandonedCheckoutConnection {
  edges: [AbandonedCheckoutEdge!]! nodes: [AbandonedCheckout!]! pageInfo: PageInfo!
}
enum AbandonedCheckoutSortKeys { CREATED_AT ID }

type AccessScope { handle: String! description: String! }
type AppInstallation { id: ID! accessScopes: [AccessScope!]! }

type Query {
  currentAppInstallation: AppInstallation!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  customer(id: ID!): Customer
  customers(first: Int, after: String, query: String,
            sortKey: CustomerSortKeys = ID,
            reverse: Boolean = false): CustomerConnection!
  order(id: ID!): Order
  orders(first: Int, after: String, query: String,
         sortKey: OrderSortKeys = ID, reverse: Boolean = false): OrderConnection!
  abandonedCheckouts(first: Int, after: String, query: String,
                     sortKey: AbandonedCheckoutSortKeys = ID,
                     reverse: Boolean = false): AbandonedCheckoutConnection!
}
"""
