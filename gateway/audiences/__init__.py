"""Audiences: saved segments kept subscribed to lists of an email tool
(Klaviyo).

``tables.py`` holds what was synced (a connection per segment and list, each
customer's state in it); ``readback.py`` reads Klaviyo's unsubscribes and
suppressions back into the CRM's consents first; ``sync.py`` computes who
entered, left or withdrew consent since, and sends it; ``connections.py``
connects and disconnects, and counts; ``service.py``'s ``Audiences`` is what
the rest of the gateway calls (``add_to_list`` among it). Imported by
``runtime``, ``resolvers`` and ``cli``; imports the database, insights (a
segment's members), changes (the history and the bus a consent withdrawn is
recorded and announced on) and the Klaviyo connector, never a transport.
"""
