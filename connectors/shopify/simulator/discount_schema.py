"""The discount and collection part of the simulator's Admin schema: the
``discountCodeBasicCreate`` mutation with its input, payload and
``DiscountUserError``, the code discounts it stores (``codeDiscountNodeByCode``,
``codeDiscountNode``, ``discountNodes``) and the collections a discount applies
to (``collections``, ``collection``).

Every type, field, argument and enum value here has the name, type and
nullability it has in Shopify's published 2025-07 Admin schema
(``admin_2025-07.json.gz``, Shopify/cli packages/shopify-dev-tools/src/data/),
down to the deprecated ``customerSelection`` (2025-07 has no ``context`` on
``DiscountCodeBasic`` yet) and the whole ``DiscountErrorCode`` enum; unions keep
the members the simulator can hold (no Buy X Get Y, app or free-shipping
discounts, no quantity discounts). ``tests/unit/connectors/
test_shopify_published_schema.py`` validates the connector's documents against
the published schema itself.
"""

from __future__ import annotations

DISCOUNT_SDL = """
interface DisplayableError { field: [String!] message: String! }

enum CountPrecision { EXACT AT_LEAST }
type Count { count: Int! precision: CountPrecision! }

type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection {
  edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo!
}

type Collection implements Node {
  id: ID!
  title: String!
  handle: String!
  description: String!
  updatedAt: DateTime!
  productsCount: Count
  products(first: Int, after: String, last: Int, before: String,
           reverse: Boolean = false): ProductConnection!
}
type CollectionEdge { cursor: String! node: Collection! }
type CollectionConnection {
  edges: [CollectionEdge!]! nodes: [Collection!]! pageInfo: PageInfo!
}
enum CollectionSortKeys { ID RELEVANCE TITLE UPDATED_AT }

enum DiscountErrorCode {
  BLANK PRESENT EQUAL_TO GREATER_THAN GREATER_THAN_OR_EQUAL_TO INVALID
  LESS_THAN_OR_EQUAL_TO LESS_THAN TAKEN TOO_LONG TOO_SHORT INTERNAL_ERROR
  TOO_MANY_ARGUMENTS MISSING_ARGUMENT ACTIVE_PERIOD_OVERLAP
  END_DATE_BEFORE_START_DATE EXCEEDED_MAX
  MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT VALUE_OUTSIDE_RANGE CONFLICT
  IMPLICIT_DUPLICATE DUPLICATE INCLUSION INVALID_COMBINES_WITH_FOR_DISCOUNT_CLASS
  INVALID_DISCOUNT_CLASS_FOR_PRICE_RULE MAX_APP_DISCOUNTS APPLIES_ON_NOTHING
  RECURRING_CYCLE_LIMIT_NOT_A_VALID_INTEGER
  MULTIPLE_RECURRING_CYCLE_LIMIT_FOR_NON_SUBSCRIPTION_ITEMS
}
type DiscountUserError implements DisplayableError {
  code: DiscountErrorCode extraInfo: String field: [String!] message: String!
}

input DiscountCombinesWithInput {
  productDiscounts: Boolean = false
  orderDiscounts: Boolean = false
  shippingDiscounts: Boolean = false
}
input DiscountCustomersInput { add: [ID!] remove: [ID!] }
input DiscountCustomerSegmentsInput { add: [ID!] remove: [ID!] }
input DiscountCustomerSelectionInput {
  all: Boolean
  customers: DiscountCustomersInput
  customerSegments: DiscountCustomerSegmentsInput
}
input DiscountAmountInput { amount: Decimal appliesOnEachItem: Boolean }
input DiscountEffectInput { percentage: Float amount: Decimal }
input DiscountOnQuantityInput {
  quantity: UnsignedInt64 effect: DiscountEffectInput
}
input DiscountCustomerGetsValueInput {
  discountOnQuantity: DiscountOnQuantityInput
  percentage: Float
  discountAmount: DiscountAmountInput
}
input DiscountCollectionsInput { add: [ID!] remove: [ID!] }
input DiscountProductsInput {
  productsToAdd: [ID!] productsToRemove: [ID!]
  productVariantsToAdd: [ID!] productVariantsToRemove: [ID!]
}
input DiscountItemsInput {
  products: DiscountProductsInput
  collections: DiscountCollectionsInput
  all: Boolean
}
input DiscountCustomerGetsInput {
  value: DiscountCustomerGetsValueInput
  items: DiscountItemsInput
  appliesOnOneTimePurchase: Boolean
  appliesOnSubscription: Boolean
}
input DiscountMinimumQuantityInput { greaterThanOrEqualToQuantity: UnsignedInt64 }
input DiscountMinimumSubtotalInput { greaterThanOrEqualToSubtotal: Decimal }
input DiscountMinimumRequirementInput {
  quantity: DiscountMinimumQuantityInput
  subtotal: DiscountMinimumSubtotalInput
}
input DiscountCodeBasicInput {
  combinesWith: DiscountCombinesWithInput
  title: String
  startsAt: DateTime
  endsAt: DateTime
  appliesOncePerCustomer: Boolean
  code: String
  customerSelection: DiscountCustomerSelectionInput
    @deprecated(reason: "Use `context` instead.")
  usageLimit: Int
  minimumRequirement: DiscountMinimumRequirementInput
  customerGets: DiscountCustomerGetsInput
  recurringCycleLimit: Int
}

type DiscountCombinesWith {
  orderDiscounts: Boolean! productDiscounts: Boolean! shippingDiscounts: Boolean!
}
type DiscountCustomerAll { allCustomers: Boolean! }
type DiscountCustomers { customers: [Customer!]! }
union DiscountCustomerSelection = DiscountCustomerAll | DiscountCustomers
type DiscountPercentage { percentage: Float! }
type DiscountAmount { amount: MoneyV2! appliesOnEachItem: Boolean! }
union DiscountCustomerGetsValue = DiscountAmount | DiscountPercentage
type AllDiscountItems { allItems: Boolean! }
type DiscountCollections {
  collections(first: Int, after: String, last: Int, before: String,
              reverse: Boolean = false): CollectionConnection!
}
type DiscountProducts {
  products(first: Int, after: String, last: Int, before: String,
           reverse: Boolean = false): ProductConnection!
  productVariants(first: Int, after: String, last: Int, before: String,
                  reverse: Boolean = false): ProductVariantConnection!
}
union DiscountItems = AllDiscountItems | DiscountCollections | DiscountProducts
type DiscountCustomerGets {
  appliesOnOneTimePurchase: Boolean!
  appliesOnSubscription: Boolean!
  items: DiscountItems!
  value: DiscountCustomerGetsValue!
}
enum DiscountStatus { ACTIVE EXPIRED SCHEDULED }
type DiscountRedeemCode { asyncUsageCount: Int! code: String! id: ID! }
type DiscountRedeemCodeEdge { cursor: String! node: DiscountRedeemCode! }
type DiscountRedeemCodeConnection {
  edges: [DiscountRedeemCodeEdge!]! nodes: [DiscountRedeemCode!]! pageInfo: PageInfo!
}
enum DiscountCodeSortKeys { CODE CREATED_AT ID RELEVANCE }
type DiscountCodeBasic {
  appliesOncePerCustomer: Boolean!
  asyncUsageCount: Int!
  codes(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
        sortKey: DiscountCodeSortKeys = ID, query: String,
        savedSearchId: ID): DiscountRedeemCodeConnection!
  codesCount: Count
  combinesWith: DiscountCombinesWith!
  createdAt: DateTime!
  customerGets: DiscountCustomerGets!
  customerSelection: DiscountCustomerSelection!
    @deprecated(reason: "Use `context` instead.")
  endsAt: DateTime
  shortSummary: String!
  startsAt: DateTime!
  status: DiscountStatus!
  summary: String!
  title: String!
  updatedAt: DateTime!
  usageLimit: Int
}
union DiscountCode = DiscountCodeBasic
union Discount = DiscountCodeBasic
type DiscountCodeNode implements Node { id: ID! codeDiscount: DiscountCode! }
type DiscountNode implements Node { id: ID! discount: Discount! }
type DiscountNodeEdge { cursor: String! node: DiscountNode! }
type DiscountNodeConnection {
  edges: [DiscountNodeEdge!]! nodes: [DiscountNode!]! pageInfo: PageInfo!
}
enum DiscountSortKeys { CREATED_AT ENDS_AT ID RELEVANCE STARTS_AT TITLE UPDATED_AT }

type DiscountCodeBasicCreatePayload {
  codeDiscountNode: DiscountCodeNode
  userErrors: [DiscountUserError!]!
}

extend type Query {
  codeDiscountNode(id: ID!): DiscountCodeNode
  codeDiscountNodeByCode(code: String!): DiscountCodeNode
  discountNodes(first: Int, after: String, last: Int, before: String,
                reverse: Boolean = false, sortKey: DiscountSortKeys = ID,
                query: String, savedSearchId: ID): DiscountNodeConnection!
  collection(id: ID!): Collection
  collections(first: Int, after: String, last: Int, before: String,
              reverse: Boolean = false, sortKey: CollectionSortKeys = ID,
              query: String, savedSearchId: ID): CollectionConnection!
}

type Mutation {
  discountCodeBasicCreate(
    basicCodeDiscount: DiscountCodeBasicInput!
  ): DiscountCodeBasicCreatePayload
}
"""
