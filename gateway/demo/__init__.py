"""``customer-graph demo``: the demo world seeded into a local database, the
three upstream simulators on loopback and a gateway configured for them.

Imported only by ``gateway.cli.main``; nothing in production paths imports it.
"""
