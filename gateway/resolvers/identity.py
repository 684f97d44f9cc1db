"""Identity through the API: duplicate candidates. Only the data stewards
(``policy.IDENTITY_STEWARDS``: admin and support) get here; the gate refuses the
others first, and each resolver checks again."""

from __future__ import annotations

from gateway.auth.policy import IDENTITY_STEWARDS
from gateway.errors import Forbidden
from gateway.identity.duplicates import Candidate, duplicate_candidates, page_after
from gateway.identity.rules import Explanation
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

__all__ = ["Candidate", "Explanation", "duplicate_cursor", "duplicate_page"]

DUPLICATES: Cursor[tuple[int, int, int]] = Cursor("duplicates", (int, int, int))


def _steward(info: Info) -> None:
    if info.context.role not in IDENTITY_STEWARDS:
        raise Forbidden("Only admin and support look for duplicate customers.")


def duplicate_cursor(candidate: Candidate) -> str:
    return DUPLICATES.encode(candidate.key)


async def duplicate_page(info: Info, first: int, after: str | None) -> Page[Candidate]:
    _steward(info)
    services = info.context.services
    check_first(first, services.settings.max_page_size)
    key = DUPLICATES.decode(after) if after is not None else None
    async with services.sessions() as session:
        found = await duplicate_candidates(session, services.match_rules)
    items, has_next = page_after(found, key, first)
    return Page(items=items, has_next=has_next)
