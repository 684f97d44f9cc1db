"""``customerRequestDataErasure(customerId:)`` in the simulated shop, with
Shopify's payload and ``CustomerRequestDataErasureUserError`` (codes
``DOES_NOT_EXIST``, ``FAILED_TO_REQUEST``) from the published Admin schema.

Shopify enqueues the request and erases the customer's personal data later;
the simulator erases at once, so a test sees the result of the request it
made: the customer is gone (``customer(id:)``, ``nodes``, ``customers``
searches), and their orders and abandoned checkouts stay — a shop keeps its
sales — without them (``customer`` null, the order's ``email`` null). Needs
the ``write_customer_data_erasure`` scope (``access.py``).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema

from connectors.shopify.simulator.data import Record, ShopifyStore

ERASURE_SDL = """
enum CustomerRequestDataErasureErrorCode { DOES_NOT_EXIST FAILED_TO_REQUEST }
type CustomerRequestDataErasureUserError {
  code: CustomerRequestDataErasureErrorCode
  field: [String!]
  message: String!
}
type CustomerRequestDataErasurePayload {
  customerId: ID
  userErrors: [CustomerRequestDataErasureUserError!]!
}
extend type Mutation {
  customerRequestDataErasure(customerId: ID!): CustomerRequestDataErasurePayload
}
"""


def erase(store: ShopifyStore, customer_gid: str) -> Record:
    """The mutation's payload; the customer erased from ``store``."""
    if not customer_gid.startswith("gid://shopify/"):
        raise GraphQLError(f"Invalid global id '{customer_gid}'")
    record = store.by_gid.get(customer_gid)
    if record is None or record["__typename"] != "Customer":
        return {
            "customerId": None,
            "userErrors": [
                {
                    "code": "DOES_NOT_EXIST",
                    "field": ["customerId"],
                    "message": "Customer does not exist.",
                }
            ],
        }
    number = record["_number"]
    del store.customers[number]
    del store.by_gid[customer_gid]
    for order in store.orders_by_customer.pop(number, []):
        order.update(customer=None, email=None, _customer=0)
    for checkout in store.checkouts:
        if checkout["customer"] is record:
            checkout["customer"] = None
    return {"customerId": customer_gid, "userErrors": []}


def register(schema: GraphQLSchema) -> None:
    mutation = schema.mutation_type
    assert isinstance(mutation, GraphQLObjectType)

    def resolve(_: None, info: Any, customerId: str) -> Record:  # noqa: N803
        return erase(info.context.store, customerId)

    mutation.fields["customerRequestDataErasure"].resolve = resolve
