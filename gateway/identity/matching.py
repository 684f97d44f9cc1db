"""Finding our customer for an upstream record, by the strong rules, in the
caller's transaction (webhooks, the Shopify backfill); the reverse — finding
upstream records for our customers — is ``gateway.identity.links``.

Both go through ``MatchRules``: a rule an operator made weak (or left out)
never links, and every link made here carries its ``Explanation``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models
from gateway.errors import BadUserInput
from gateway.identity.merge import RESOLVED
from gateway.identity.rules import Explanation, MatchRule, MatchRules, explain
from gateway.validation import normalize_email, normalize_phone


def clean_email(value: str | None) -> str | None:
    """The normalized email, or ``None`` when absent or not an address at all."""
    if not value:
        return None
    try:
        return normalize_email(value)
    except BadUserInput:
        return None


def clean_phone(value: str | None) -> str | None:
    """E.164, or ``None``: upstreams store international numbers, and a number
    we cannot read must not be guessed into someone else's."""
    if not value:
        return None
    try:
        return normalize_phone(value)
    except BadUserInput:
        return None


async def linked_customer(
    session: AsyncSession, source: str, external_id: str
) -> int | None:
    """Our customer linked to ``source``'s record ``external_id``, if any."""
    return await session.scalar(
        select(models.Identity.customer_id).where(
            models.Identity.source == source,
            models.Identity.external_id == external_id,
        )
    )


async def customer_by_contact(
    session: AsyncSession,
    rules: MatchRules,
    source: str,
    email: str | None,
    phone: str | None,
) -> tuple[int, Explanation] | None:
    """Our customer with this (normalized) email, else the only one with this
    (E.164) phone, each only while its rule is strong, in the rules' order,
    and why. A phone shared by several customers identifies none of them; a
    merged customer is its survivor."""
    for rule, _ in rules.order:
        if not rules.links(rule):
            continue
        if rule is MatchRule.EMAIL and email:
            found = await session.scalar(
                select(RESOLVED).where(models.Customer.email == email)
            )
            if found is not None:
                return found, explain(rule, source, email)
        elif rule is MatchRule.PHONE and phone:
            ids = (
                await session.scalars(
                    select(RESOLVED)
                    .where(models.Customer.phone == phone)
                    .distinct()
                    .limit(2)
                )
            ).all()
            if len(ids) == 1:
                return ids[0], explain(rule, source, phone)
    return None


async def customers_by_contacts(
    session: AsyncSession,
    rules: MatchRules,
    emails: Collection[str],
    phones: Collection[str],
) -> tuple[dict[str, int], dict[str, int]]:
    """Batched ``customer_by_contact``: our customers by email and by phone
    (phones held by one customer only), each empty while its rule may not link."""
    by_email: dict[str, int] = {}
    by_phone: dict[str, int] = {}
    if emails and rules.links(MatchRule.EMAIL):
        rows = await session.execute(
            select(models.Customer.email, RESOLVED).where(
                models.Customer.email.in_(emails)
            )
        )
        by_email = {email: customer_id for email, customer_id in rows}
    if phones and rules.links(MatchRule.PHONE):
        rows = await session.execute(
            select(models.Customer.phone, RESOLVED).where(
                models.Customer.phone.in_(phones)
            )
        )
        owners: dict[str, set[int]] = {}
        for phone, customer_id in rows:
            owners.setdefault(phone, set()).add(customer_id)
        by_phone = {p: min(ids) for p, ids in owners.items() if len(ids) == 1}
    return by_email, by_phone


def first_match(
    rules: MatchRules,
    source: str,
    found: Mapping[MatchRule, tuple[str | None, Mapping[str, int]]],
) -> tuple[int, Explanation] | None:
    """The customer the highest-priority strong rule finds: ``found`` maps a
    rule to (the record's value, our customers by value)."""
    for rule, _ in rules.order:
        value, owners = found.get(rule, (None, {}))
        if rules.links(rule) and value and value in owners:
            return owners[value], explain(rule, source, value)
    return None


def add_link(
    session: AsyncSession,
    customer_id: int,
    source: str,
    external_id: str,
    explanation: Explanation,
) -> None:
    """Link in the caller's transaction; a concurrent link of the same record
    collides on ``(source, external_id)`` at flush or commit."""
    session.add(
        models.Identity(
            customer_id=customer_id,
            source=source,
            external_id=external_id,
            linked_by=explanation.rule,
            explanation=explanation.to_json(),
        )
    )
