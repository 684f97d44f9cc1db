"""A PostHog private API on loopback for tests and the demo, with a parser and
evaluator of the HogQL subset the connector sends. The client never imports it.
"""
