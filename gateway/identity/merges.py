"""Merges as the API runs them: each in its own transaction, announced to
both customers after the commit (their cached links and stored responses
forgotten, live timelines told), with the suggesting rules' verdict on the
pair in its explanation. The work itself: ``gateway.identity.merge``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.changes.bus import ChangeBus, CustomerChange
from gateway.identity import merge
from gateway.identity.duplicates import Reason, dismiss, pair_reasons
from gateway.identity.merge import Plan, Recompute, Survivorship
from gateway.identity.rules import MatchRules

Sessions = async_sessionmaker[AsyncSession]
SOURCE = "crm"


@dataclass(frozen=True, slots=True)
class Done:
    """A merge's plan (carried out, or only previewed: ``merge_id`` None), and
    what the suggesting rules say of the pair."""

    plan: Plan
    score: float
    reasons: tuple[Reason, ...]
    merge_id: int | None = None


async def preview(
    sessions: Sessions,
    rules: MatchRules,
    survivor: int,
    merged: int,
    default: Survivorship,
    choices: Mapping[str, Survivorship],
) -> Done:
    async with sessions() as session:
        planned = await merge.plan(session, survivor, merged, default, choices)
        score, reasons = await pair_reasons(session, rules, survivor, merged)
    return Done(planned, score, reasons)


async def merge_customers(
    sessions: Sessions,
    changes: ChangeBus,
    rules: MatchRules,
    survivor: int,
    merged: int,
    *,
    actor: str,
    recompute: Recompute,
    default: Survivorship = Survivorship.SURVIVOR,
    choices: Mapping[str, Survivorship] | None = None,
) -> Done:
    async with sessions() as session, session.begin():
        score, reasons = await pair_reasons(session, rules, survivor, merged)
        explanation = {
            "rule": "manual",
            "score": score,
            "reasons": [
                {"rule": r.rule.value, "strength": r.strength.value, "values": r.values}
                for r in reasons
            ],
            "survivorship": default.value,
            "fields": {name: take.value for name, take in (choices or {}).items()},
        }
        record, planned = await merge.merge(
            session,
            survivor,
            merged,
            actor=actor,
            explanation=explanation,
            recompute=recompute,
            default=default,
            choices=choices,
        )
        merge_id = record.id
    await _announce(changes, (survivor, merged), "customer_merged")
    return Done(planned, score, reasons, merge_id)


async def unmerge_customer(
    sessions: Sessions,
    changes: ChangeBus,
    merged: int,
    *,
    actor: str,
    recompute: Recompute,
) -> int:
    """Undo ``merged``'s merge; returns its survivor's id."""
    async with sessions() as session, session.begin():
        record = await merge.unmerge(session, merged, actor=actor, recompute=recompute)
        survivor = record.survivor_id
    await _announce(changes, (survivor, merged), "customer_unmerged")
    return survivor


async def _announce(
    changes: ChangeBus, customer_ids: tuple[int, int], kind: str
) -> None:
    for customer_id in customer_ids:
        await changes.publish(CustomerChange(customer_id, SOURCE, kind))


async def dismiss_duplicate(
    sessions: Sessions, customer_id: int, duplicate_id: int, *, actor: str
) -> None:
    """``dismissDuplicate``: the pair is not suggested again."""
    async with sessions() as session, session.begin():
        await dismiss(session, customer_id, duplicate_id, actor)
