"""Identity through the API: duplicate candidates, merge previews, merges and
unmerges. Only the data stewards (``policy.IDENTITY_STEWARDS``: admin and
support) get here; the gate refuses the others first, and each resolver
checks again."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.auth.policy import IDENTITY_STEWARDS
from gateway.errors import Forbidden
from gateway.identity import merges
from gateway.identity.duplicates import (
    Candidate,
    Reason,
    duplicate_candidates,
    page_after,
)
from gateway.identity.merge import PROFILE, Plan, Survivorship
from gateway.identity.merges import Done
from gateway.identity.rules import Explanation
from gateway.insights.refresh import refresh_customers
from gateway.relay.ids import customer_pk
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info

__all__ = [
    "PROFILE",
    "Candidate",
    "Explanation",
    "Done",
    "Plan",
    "Reason",
    "Survivorship",
    "dismiss_duplicate",
    "duplicate_cursor",
    "duplicate_page",
    "merge_customers",
    "preview_merge",
    "unmerge_customer",
]


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


async def preview_merge(
    info: Info,
    survivor_id: str,
    merged_id: str,
    default: Survivorship,
    choices: Mapping[str, Survivorship],
) -> Done:
    _steward(info)
    services = info.context.services
    return await merges.preview(
        services.sessions,
        services.match_rules,
        customer_pk(survivor_id, "survivorId"),
        customer_pk(merged_id, "mergedId"),
        default,
        choices,
    )


async def merge_customers(
    info: Info,
    survivor_id: str,
    merged_id: str,
    default: Survivorship,
    choices: Mapping[str, Survivorship],
) -> Done:
    _steward(info)
    services = info.context.services
    survivor = customer_pk(survivor_id, "survivorId")
    merged = customer_pk(merged_id, "mergedId")
    done = await merges.merge_customers(
        services.sessions,
        services.changes,
        services.match_rules,
        survivor,
        merged,
        actor=info.context.actor,
        recompute=refresh_customers,
        default=default,
        choices=choices,
    )
    _forget(info, (survivor, merged), "mergeCustomers")
    return done


async def unmerge_customer(info: Info, id: str) -> tuple[int, int]:
    """(survivor, restored) ids."""
    _steward(info)
    services = info.context.services
    merged = customer_pk(id, "id")
    survivor = await merges.unmerge_customer(
        services.sessions,
        services.changes,
        merged,
        actor=info.context.actor,
        recompute=refresh_customers,
    )
    # the gate audited the write of ``id`` (the merged customer) already
    _forget(info, (survivor, merged), "unmergeCustomer", audited=merged)
    return survivor, merged


async def dismiss_duplicate(info: Info, customer_id: str, duplicate_id: str) -> None:
    _steward(info)
    await merges.dismiss_duplicate(
        info.context.services.sessions,
        customer_pk(customer_id, "customerId"),
        customer_pk(duplicate_id, "duplicateId"),
        actor=info.context.actor,
    )


def _forget(
    info: Info,
    customer_ids: tuple[int, int],
    mutation: str,
    audited: int | None = None,
) -> None:
    """Audited as a write of both customers (but the one the gate audited by
    the mutation's ``id``); the request's loaders forget them."""
    for customer_id in customer_ids:
        if customer_id != audited:
            info.context.audit.wrote(customer_id, mutation)
        info.context.loaders.forget_customer(customer_id)
