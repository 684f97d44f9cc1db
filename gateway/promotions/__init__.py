"""Promo codes: one customer's percentage-off Shopify discount code, limited to
the products of a category's collection, recorded locally so a retry reuses it.

``service.create_promo_code`` is what the ``createPromoCode`` mutation and the
automations' discount action call; ``tables.PromoCode`` the rows
``Customer.promoCodes`` reads (``gateway.loaders``). It imports the connectors,
the database, identity links and the insights' traits (a customer's favourite
category); the resolvers, the schema (its row type), the loaders and the
automations import it. docs/shopify.md, "Promo codes".

For an automation's discount action::

    code = await create_promo_code(services, customer_id, 20, valid_days=30,
                                   run_id=run.id)   # category: the favourite
    payload["promoCode"] = code.code                # for the following actions

``BadUserInput`` is a definition or customer that cannot get a code (mark the
run failed); ``connectors.errors.UpstreamRejected`` is Shopify refusing it
(its ``detail``: Shopify's messages, the run's failure message); other
``ConnectorError``s are worth retrying with the same ``run_id``, which sends
the same code and makes no second discount.
"""
