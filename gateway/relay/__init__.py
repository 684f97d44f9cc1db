"""Relay conventions shared by every connection: global IDs and opaque,
versioned keyset cursors.

A leaf: imports only ``gateway.errors``.
"""
