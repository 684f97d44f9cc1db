"""Match rules: which facts say two records are the same person, how strongly,
and the explanation every link keeps.

A rule is *strong* when it may link an upstream record to our customer by
itself (the gateway does it unasked, on a read, a webhook or a backfill) and
*weak* when it only suggests (``duplicateCandidates``), for a person to decide.
``CG_IDENTITY_MATCH_RULES`` orders them by priority and says which is which
(``Settings.identity_match_rules``, which validates it). A rule left out is
not used at all. ``external_id`` (an upstream record already linked, or a
sender naming the id) is always strong: it is not a guess.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.db.models import utcnow
from gateway.settings import Settings


class MatchRule(enum.StrEnum):
    EMAIL = "email"
    """The same normalized email (lower-cased, IDNA domain)."""
    EXTERNAL_ID = "external_id"
    """The upstream record's id: already linked, or named by the sender."""
    PHONE = "phone"
    """The same E.164 phone, held by one customer only."""
    EMAIL_ALIAS = "email_alias"
    """The same mailbox under a sub-address: ``jo+shop@x.org`` is ``jo@x.org``."""
    NAME_POSTCODE = "name_postcode"
    """The same first and last name (any case) and postcode (any spacing)."""


class Strength(enum.StrEnum):
    STRONG = "strong"
    WEAK = "weak"


WEIGHTS: Mapping[Strength, float] = {Strength.STRONG: 0.9, Strength.WEAK: 0.5}
"""A rule's evidence; several rules agreeing combine as independent evidence
(``1 - Π(1 - w)``): phone and name + postcode together score 0.95."""


@dataclass(frozen=True, slots=True)
class MatchRules:
    """The rules in priority order, each with its strength."""

    order: tuple[tuple[MatchRule, Strength], ...]

    @classmethod
    def parse(cls, text: str) -> MatchRules:
        """``rule:strength`` items, comma-separated, highest priority first, as
        ``Settings`` validated them (``ValueError`` for an unknown name)."""
        order = []
        for item in text.split(","):
            name, _, strength = item.strip().partition(":")
            order.append((MatchRule(name), Strength(strength or "strong")))
        return cls(tuple(order))

    @classmethod
    def default(cls) -> MatchRules:
        """The rules when ``CG_IDENTITY_MATCH_RULES`` is not set."""
        return cls.parse(Settings.model_fields["identity_match_rules"].default)

    def strength(self, rule: MatchRule) -> Strength | None:
        """``None`` when the rule is not used."""
        return dict(self.order).get(rule)

    def links(self, rule: MatchRule) -> bool:
        """Whether ``rule`` may link by itself."""
        return self.strength(rule) is Strength.STRONG

    def suggests(self) -> tuple[MatchRule, ...]:
        """The rules ``duplicateCandidates`` looks for pairs by, in priority
        order (``email`` and ``external_id`` identify one customer already:
        two customers never share them)."""
        return tuple(
            rule
            for rule, _ in self.order
            if rule not in (MatchRule.EMAIL, MatchRule.EXTERNAL_ID)
        )

    def weight(self, rule: MatchRule) -> float:
        strength = self.strength(rule)
        return WEIGHTS[strength] if strength is not None else 0.0


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a record was linked (or two customers suggested as one): the rule,
    its strength, the values compared (ours and theirs, normalized), the source
    whose record it was, and when. Stored with the link (``identities.
    explanation``); holds contact data, so it is erased with the customer."""

    rule: str
    strength: Strength
    source: str
    values: tuple[str, ...]
    at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "strength": self.strength.value,
            "source": self.source,
            "values": list(self.values),
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Explanation:
        values = data.get("values")
        return cls(
            rule=str(data.get("rule", "")),
            strength=Strength(str(data.get("strength", Strength.STRONG))),
            source=str(data.get("source", "")),
            values=tuple(str(v) for v in values) if isinstance(values, list) else (),
            at=datetime.fromisoformat(str(data["at"])),
        )


def explain(
    rule: MatchRule | str,
    source: str,
    *values: str | None,
    strength: Strength = Strength.STRONG,
) -> Explanation:
    """An explanation made now; ``values`` left out when absent."""
    return Explanation(
        rule=str(rule),
        strength=strength,
        source=source,
        values=tuple(v for v in values if v),
        at=utcnow(),
    )
