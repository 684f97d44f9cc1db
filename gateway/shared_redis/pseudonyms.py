"""Pseudonyms: what stands in for an identifier where the infrastructure names
things — Redis key names (cache entries, their locks, rate-limit buckets).

An upstream's identifier may be contact data: a PostHog distinct id is often
the customer's email, a JWT subject may be a staff member's, a client's
address is personal data too. None of them appears in a key name; the key holds
its HMAC-SHA256 under a key derived from ``CG_SECRET_KEY``
(``gateway.sealing.derive_key``). The same value always gives the same
pseudonym, on every replica, so a webhook that knows only an external id still
finds and evicts what a read stored under it; a copy of Redis (a dump,
``MONITOR``, ``redis-cli --scan``, a replica) names nobody, and without the
secret key even hashing guessed emails finds no match.

Rotating ``CG_SECRET_KEY`` changes every pseudonym: what was cached under the
old ones is never read again and expires with its TTL (a cold cache, nothing
worse); rate-limit buckets start full.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from gateway.sealing import derive_key
from gateway.settings import Settings

_INFO = b"customer-graph key pseudonyms v1"
DIGITS = 32
"""Hex digits kept (128 bits): collisions are out of reach for any cache."""
REMEMBERED = 65_536
"""Pseudonyms kept in memory: a key is named once per read, lock and write,
and 1.2 µs per HMAC adds up on a page of customers (0.1 µs remembered)."""


class Pseudonyms:
    """``pseudonyms(value)``: a stable hex name for ``value``, keyed by the
    secret key, that reveals nothing of it."""

    def __init__(self, secret_key: str) -> None:
        self._mac = hmac.new(derive_key(secret_key, _INFO), digestmod=hashlib.sha256)
        self._named = lru_cache(maxsize=REMEMBERED)(self._name)

    @classmethod
    def of(cls, settings: Settings) -> Pseudonyms:
        return cls(settings.secret_key.get_secret_value())

    def __call__(self, value: str) -> str:
        return self._named(value)

    def _name(self, value: str) -> str:
        mac = self._mac.copy()
        mac.update(value.encode())
        return mac.hexdigest()[:DIGITS]
