"""Klaviyo's API revision and rate limits, shared by the client, the gateway's
budget and the simulator.

Every request names the API revision it was written against in a
``revision`` header; this connector is written against ``REVISION``, the
revision of the published OpenAPI spec its request bodies are checked against
(github.com/klaviyo/openapi, ``openapi/stable.json``, ``info.version``).

Klaviyo limits each endpoint on its own, per account, in two fixed windows — a
burst (1 second) and a steady (1 minute) one — and answers 429 with
``Retry-After`` when either is spent (developers.klaviyo.com/en/docs/
rate_limits_and_error_handling: "All new API endpoints are rate limited on a
per-account basis, and use a fixed-window rate limiting algorithm with two
distinct windows"; the tiers XS 1/s 15/m, S 3/s 60/m, M 10/s 150/m, L 75/s
700/m, XL 350/s 3500/m). Each operation's own figures are in the spec's
``x-klaviyo-ratelimit`` (revision 2026-07-15), copied into ``ENDPOINTS``: most
of what the connector calls is 75/s and 750/m, list membership edits 10/s and
150/m.
"""

from __future__ import annotations

from dataclasses import dataclass

REVISION = "2026-07-15"

SUBSCRIBE_BATCH = 1000
"""Profiles one bulk subscribe job takes ("Maximum number of profiles can be
submitted for subscription: 1000")."""
UNSUBSCRIBE_BATCH = 100
"""Profiles one bulk unsubscribe job takes ("Maximum number of profiles per
call: 100")."""
LIST_MEMBERS_BATCH = 1000
"""Profiles one remove-from-list call takes ("a maximum of 1000 profiles per
call")."""
PROFILES_PAGE = 100
"""``page[size]`` of Get Profiles at most; also the ids or emails one
``any(…)`` filter is sent with."""
LISTS_PAGE = 10
"""``page[size]`` of Get Lists at most."""


@dataclass(frozen=True, slots=True)
class Limit:
    burst: int
    """Requests in one second."""
    steady: int
    """Requests in one minute."""


WIDE = Limit(burst=75, steady=750)
LIST_EDITS = Limit(burst=10, steady=150)

ENDPOINTS: dict[str, Limit] = {
    "get-profiles": WIDE,
    "create-profile": WIDE,
    "profile-import": WIDE,
    "bulk-subscribe": WIDE,
    "bulk-unsubscribe": WIDE,
    "remove-from-list": LIST_EDITS,
    "get-lists": WIDE,
    "get-list": WIDE,
}
"""Each operation the connector sends, by the name its budget and the
simulator's counters use, with its limit."""
