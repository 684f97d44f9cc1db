"""Duplicate candidates: pairs of our customers that the suggesting rules say
may be one person, with a score and the evidence.

Each rule is one SQL pass over the whole base: a key per customer (the phone,
the mailbox without its ``+tag``, name + postcode), a window count per key,
and only the customers whose key is shared by 2 … ``MAX_SHARED`` of them
(merged customers are their survivors: left out). A
key held by more (a store's own phone, a shared office mailbox) says nothing
about any one person. The pairs of each key are scored in Python: every rule
agreeing adds its evidence (``MatchRules.weight``, combined as independent:
``1 - Π(1 - w)``), strongest first, then by ids for a stable order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models
from gateway.db.upsert import dialect_insert
from gateway.errors import BadUserInput, NotFound
from gateway.identity.rules import MatchRule, MatchRules, Strength

MAX_SHARED = 5
"""Customers one key may join before it stops being evidence."""


@dataclass(frozen=True, slots=True)
class Reason:
    rule: MatchRule
    strength: Strength
    values: tuple[str, ...]
    """The values compared: the first customer's, then the other's."""


@dataclass(frozen=True, slots=True)
class Candidate:
    customer_id: int
    """The older customer (lower id) of the pair."""
    duplicate_id: int
    score: float
    """0 … 1: the rules' evidence combined."""
    reasons: tuple[Reason, ...]

    @property
    def key(self) -> tuple[int, int, int]:
        """The pair's place in the order: by score (in thousandths) down, then ids."""
        return (-round(self.score * 1000), self.customer_id, self.duplicate_id)


KeyRows = Callable[[str], Any]
"""A rule's query for a dialect: rows of (customer id, key, shown value)."""


def _instr(dialect: str, text: Any, part: str) -> ColumnElement[int]:
    position = func.strpos if dialect == "postgresql" else func.instr
    return position(text, literal(part))


def _joined(*parts: Any) -> ColumnElement[str]:
    """SQL string concatenation (``||`` on both dialects, whatever the parts'
    types: ``+`` would add numbers when SQLAlchemy does not know them)."""
    joined: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        joined = joined.op("||")(part if not isinstance(part, str) else literal(part))
    return joined


def _phone_rows(dialect: str) -> Any:
    c = models.Customer
    return select(c.id, c.phone.label("key"), c.phone.label("shown")).where(
        c.phone.is_not(None), models.not_merged(c.id)
    )


def _alias_rows(dialect: str) -> Any:
    c = models.Customer
    plus, at = _instr(dialect, c.email, "+"), _instr(dialect, c.email, "@")
    mailbox = case(
        (
            (plus > 0) & (plus < at),
            _joined(func.substr(c.email, 1, plus - 1), func.substr(c.email, at)),
        ),
        else_=c.email,
    )
    return select(c.id, mailbox.label("key"), c.email.label("shown")).where(
        models.not_merged(c.id)
    )


def _name_postcode_rows(dialect: str) -> Any:
    c, a = models.Customer, models.Address
    postcode = func.upper(func.replace(a.postcode, " ", ""))
    key = _joined(func.lower(c.first_name), "|", func.lower(c.last_name), "|", postcode)
    shown = _joined(c.first_name, " ", c.last_name, ", ", a.postcode)
    return (
        select(c.id, key.label("key"), func.min(shown).label("shown"))
        .join(a, a.customer_id == c.id)
        .where(
            c.first_name.is_not(None),
            c.last_name.is_not(None),
            a.postcode.is_not(None),
            a.postcode != "",
            models.not_merged(c.id),
        )
        .group_by(c.id, key)
    )


_KEYS: dict[MatchRule, KeyRows] = {
    MatchRule.PHONE: _phone_rows,
    MatchRule.EMAIL_ALIAS: _alias_rows,
    MatchRule.NAME_POSTCODE: _name_postcode_rows,
}


async def _shared(
    session: AsyncSession, rule: MatchRule
) -> dict[str, list[tuple[int, str]]]:
    """Key → its customers (id, shown value), for keys held by 2 … MAX_SHARED."""
    dialect = session.get_bind().dialect.name
    rows = _KEYS[rule](dialect).subquery()
    counted = select(
        rows.c.id,
        rows.c.key,
        rows.c.shown,
        func.count().over(partition_by=rows.c.key).label("n"),
    ).subquery()
    found = await session.execute(
        select(counted.c.id, counted.c.key, counted.c.shown)
        .where(counted.c.n.between(2, MAX_SHARED))
        .order_by(counted.c.key, counted.c.id)
    )
    groups: dict[str, list[tuple[int, str]]] = {}
    for customer_id, key, shown in found:
        groups.setdefault(key, []).append((customer_id, shown))
    return groups


async def duplicate_candidates(
    session: AsyncSession, rules: MatchRules
) -> list[Candidate]:
    """Every pair the suggesting rules find, strongest first, but those a
    steward dismissed (``dismiss``)."""
    d = models.DuplicateDismissal
    dismissed = {
        (first, second)
        for first, second in await session.execute(select(d.first_id, d.second_id))
    }
    evidence: dict[tuple[int, int], list[Reason]] = {}
    for rule in rules.suggests():
        strength = rules.strength(rule)
        if strength is None or rule not in _KEYS:
            continue
        for members in (await _shared(session, rule)).values():
            for (first, ours), (second, theirs) in combinations(members, 2):
                reason = Reason(rule, strength, (ours, theirs))
                evidence.setdefault((first, second), []).append(reason)
    candidates = [
        Candidate(first, second, _score(rules, reasons), tuple(reasons))
        for (first, second), reasons in evidence.items()
        if (first, second) not in dismissed
    ]
    return sorted(candidates, key=lambda c: c.key)


async def pair_reasons(
    session: AsyncSession, rules: MatchRules, first: int, second: int
) -> tuple[float, tuple[Reason, ...]]:
    """What the suggesting rules say about these two customers: the score and
    the reasons (none: a merge on a person's word alone)."""
    dialect = session.get_bind().dialect.name
    reasons = []
    for rule in rules.suggests():
        strength = rules.strength(rule)
        if strength is None or rule not in _KEYS:
            continue
        rows = _KEYS[rule](dialect).subquery()
        found = {
            customer_id: (key, shown)
            for customer_id, key, shown in await session.execute(
                select(rows.c.id, rows.c.key, rows.c.shown).where(
                    rows.c.id.in_((first, second))
                )
            )
        }
        if first in found and second in found and found[first][0] == found[second][0]:
            reasons.append(Reason(rule, strength, (found[first][1], found[second][1])))
    return _score(rules, reasons), tuple(reasons)


def _score(rules: MatchRules, reasons: Sequence[Reason]) -> float:
    doubt = 1.0
    for reason in reasons:
        doubt *= 1.0 - rules.weight(reason.rule)
    return round(1.0 - doubt, 3)


async def dismiss(
    session: AsyncSession, customer_id: int, duplicate_id: int, actor: str
) -> None:
    """Record that the two are not one person, in the caller's transaction
    (again: nothing new). BAD_USER_INPUT for one customer twice, NOT_FOUND for
    an unknown one."""
    if customer_id == duplicate_id:
        raise BadUserInput(
            "A customer is not a duplicate of itself.", field="duplicateId"
        )
    for pk, argument in ((customer_id, "customerId"), (duplicate_id, "duplicateId")):
        if await session.get(models.Customer, pk) is None:
            raise NotFound("No customer with this id.", field=argument)
    first, second = sorted((customer_id, duplicate_id))
    statement = dialect_insert(session, models.DuplicateDismissal).values(
        first_id=first,
        second_id=second,
        dismissed_by=actor,
        dismissed_at=models.utcnow(),
    )
    await session.execute(statement.on_conflict_do_nothing())


def page_after(
    candidates: Sequence[Candidate], after: tuple[int, int, int] | None, first: int
) -> tuple[list[Candidate], bool]:
    """``first`` candidates after the one whose key is ``after``, and whether
    more follow."""
    rest = [c for c in candidates if after is None or c.key > after]
    return rest[:first], len(rest) > first
