"""A Klaviyo API on loopback for tests and the demo: profiles, lists, consent
and the bulk subscription jobs. The client never imports it.
"""
