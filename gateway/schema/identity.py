"""Identity in the graph: why a record is linked (``Identity.explanation``)
and which customers may be one person (``duplicateCandidates``, admin and
support). The rules: docs/identity.md."""

from __future__ import annotations

import enum

import strawberry

from gateway.resolvers import identity as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection
from gateway.schema.crm import MatchStrength
from gateway.schema.customer import Customer


@strawberry.enum(description="A fact that says two records are one person.")
class MatchRule(enum.Enum):
    EMAIL = strawberry.enum_value("email", description="The same normalized email.")
    EXTERNAL_ID = strawberry.enum_value(
        "external_id",
        description="The upstream record's own id: already linked, or named by"
        " the sender.",
    )
    PHONE = strawberry.enum_value(
        "phone", description="The same E.164 phone, held by one customer only."
    )
    EMAIL_ALIAS = strawberry.enum_value(
        "email_alias",
        description="The same mailbox under a sub-address (`jo+shop@x.org`).",
    )
    NAME_POSTCODE = strawberry.enum_value(
        "name_postcode", description="The same first and last name and postcode."
    )


@strawberry.type(description="One rule that found a pair.")
class MatchReason:
    rule: MatchRule = strawberry.field(description="The rule.")
    strength: MatchStrength = strawberry.field(
        description="Its strength (`CG_IDENTITY_MATCH_RULES`)."
    )
    values: list[str] = strawberry.field(
        description="The values compared: the customer's, then the duplicate's."
    )


@strawberry.type(description="Two customers the rules say may be one person.")
class DuplicateCandidate:
    score: float = strawberry.field(
        description="0 to 1: the evidence of every rule that agrees, combined"
        " (a strong rule 0.9, a weak one 0.5)."
    )
    reasons: list[MatchReason] = strawberry.field(description="Strongest first.")
    customer_id: strawberry.Private[int]
    duplicate_id: strawberry.Private[int]

    @strawberry.field(
        description="The older customer of the pair. Null when it was deleted"
        " since the page was read."
    )
    async def customer(self, info: Info) -> Customer | None:
        return await _customer(info, self.customer_id)

    @strawberry.field(
        description="The newer customer of the pair. Null when it was deleted"
        " since the page was read."
    )
    async def duplicate(self, info: Info) -> Customer | None:
        return await _customer(info, self.duplicate_id)

    @classmethod
    def of(cls, candidate: resolve.Candidate) -> DuplicateCandidate:
        return cls(
            score=candidate.score,
            reasons=[
                MatchReason(
                    rule=MatchRule(reason.rule.value),
                    strength=MatchStrength(reason.strength.value),
                    values=list(reason.values),
                )
                for reason in candidate.reasons
            ],
            customer_id=candidate.customer_id,
            duplicate_id=candidate.duplicate_id,
        )


async def _customer(info: Info, pk: int) -> Customer | None:
    row = await info.context.loaders.customer_by_id.load(pk)
    return Customer.from_row(row) if row is not None else None


@strawberry.type(description="Pairs of customers that may be one person.")
class DuplicateCandidateConnection(Connection[DuplicateCandidate]):
    pass


@strawberry.type
class IdentityQuery:
    @strawberry.field(
        description="Pairs of customers the suggesting rules say may be one"
        " person, highest score first (admin and support only). `first` at most"
        " CG_MAX_PAGE_SIZE. A phone, mailbox or name + postcode shared by more"
        " than 5 customers is no evidence and is left out."
    )
    async def duplicate_candidates(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> DuplicateCandidateConnection:
        page = await resolve.duplicate_page(info, first, after)
        return DuplicateCandidateConnection.build(
            page.items,
            resolve.duplicate_cursor,
            DuplicateCandidate.of,
            has_next=page.has_next,
            has_previous=after is not None,
        )
