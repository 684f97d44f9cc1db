"""A Zendesk Support API on loopback for tests and the demo: its data, pages
and webhook deliveries. The client never imports it.
"""
