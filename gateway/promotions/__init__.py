"""Promo codes: one customer's percentage-off Shopify discount code, limited to
the products of a category's collection, recorded locally so a retry reuses it.

``service.create_promo_code`` is what the ``createPromoCode`` mutation and the
automations' discount action call; ``tables.PromoCode`` the rows
``Customer.promoCodes`` reads (``gateway.loaders``). It imports the connectors,
the database, identity links and the insights' traits (a customer's favourite
category); the resolvers, the schema (its row type), the loaders and the
automations import it. docs/shopify.md, "Promo codes".
"""
