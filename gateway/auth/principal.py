"""The caller of a request, as authentication found it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.auth.policy import Role


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    """``key:<name>``, ``jwt:<sub>`` or ``embed:<customer id>``, as audited."""
    role: Role
    rate_key: str
    """What the rate limiter counts by (one bucket per API key / subject)."""
    customer_id: int | None = None
    """Embed tokens: the one customer this caller may read."""
    sources: frozenset[str] = field(default_factory=frozenset)
    """Embed tokens: the timeline sources allowed (empty: all)."""
    customer_born: int | None = None
    """Embed tokens: their customer's creation (``EmbedScope.born``)."""
    expires_at: datetime | None = None
    """When the credentials stop being valid (a key's expiry, a JWT's ``exp``,
    an embed token's): an open WebSocket is closed then."""
