"""Identity in the graph: why a record is linked (``Identity.explanation``)
and which customers may be one person (``duplicateCandidates``, admin and
support). The rules: docs/identity.md."""

from __future__ import annotations

import enum
from typing import Annotated

import strawberry
from strawberry.relay import to_base64

from gateway.resolvers import identity as resolve
from gateway.resolvers.context import Info
from gateway.schema.connections import Connection
from gateway.schema.crm import ConsentChannel, ConsentState, MatchStrength
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
            reasons=_reasons(candidate.reasons),
            customer_id=candidate.customer_id,
            duplicate_id=candidate.duplicate_id,
        )


async def _customer(info: Info, pk: int) -> Customer | None:
    row = await info.context.loaders.customer_by_id.load(pk)
    return Customer.from_row(row) if row is not None else None


@strawberry.type(description="Pairs of customers that may be one person.")
class DuplicateCandidateConnection(Connection[DuplicateCandidate]):
    pass


@strawberry.enum(description="Which record's value a profile field keeps on a merge.")
class Survivorship(enum.Enum):
    SURVIVOR = strawberry.enum_value(
        "survivor",
        description="The survivor's value; the merged customer's only where the"
        " survivor has none.",
    )
    NEWEST = strawberry.enum_value(
        "newest",
        description="The value of the record updated last; the other's where it"
        " has none.",
    )
    MERGED = strawberry.enum_value(
        "merged", description="The merged customer's value, where it has one."
    )


@strawberry.enum(description="A profile field survivorship decides.")
class ProfileField(enum.Enum):
    PHONE = strawberry.enum_value("phone", description="E.164 phone.")
    FIRST_NAME = strawberry.enum_value("first_name", description="First name.")
    LAST_NAME = strawberry.enum_value("last_name", description="Last name.")
    BIRTH_DATE = strawberry.enum_value("birth_date", description="Date of birth.")
    LOCALE = strawberry.enum_value("locale", description="BCP 47 locale.")
    TIMEZONE = strawberry.enum_value("timezone", description="IANA time zone.")


@strawberry.input(description="Which record one profile field is taken from.")
class FieldChoice:
    field: ProfileField = strawberry.field(description="The field.")
    take: Survivorship = strawberry.field(description="The rule for it.")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


_VALUE = "The value as text (a date as YYYY-MM-DD). Null when the record has none."


@strawberry.enum(description="Whose value a profile field keeps on a merge.")
class TakenFrom(enum.Enum):
    SURVIVOR = strawberry.enum_value("survivor", description="The survivor's.")
    MERGED = strawberry.enum_value("merged", description="The merged customer's.")
    BOTH = strawberry.enum_value("both", description="Both had the same value.")


@strawberry.type(
    description="One profile field on a merge: both values and the result."
)
class MergeFieldOutcome:
    field: ProfileField = strawberry.field(description="The field.")
    survivor_value: str | None = strawberry.field(
        description="The survivor's value. " + _VALUE
    )
    merged_value: str | None = strawberry.field(
        description="The merged customer's value. " + _VALUE
    )
    result: str | None = strawberry.field(
        description="What the survivor will hold. " + _VALUE
    )
    taken_from: TakenFrom = strawberry.field(description="Whose value it is.")


@strawberry.type(description="A table's rows a merge moves to the survivor.")
class MovedRows:
    table: str = strawberry.field(description="The table (notes, tasks, identities…).")
    rows: int = strawberry.field(description="How many rows.")


@strawberry.type(description="A channel's consent after a merge.")
class MergedConsent:
    channel: ConsentChannel = strawberry.field(description="The channel.")
    state: ConsentState = strawberry.field(
        description="The more restrictive of the two (denied, then pending)."
    )


def _outcomes(plan: resolve.Plan) -> list[MergeFieldOutcome]:
    return [
        MergeFieldOutcome(
            field=ProfileField[o.field.upper()],
            survivor_value=_text(o.survivor),
            merged_value=_text(o.merged),
            result=_text(o.result),
            taken_from=TakenFrom[o.taken_from.upper()],
        )
        for o in plan.fields
    ]


def _reasons(reasons: tuple[resolve.Reason, ...]) -> list[MatchReason]:
    return [
        MatchReason(
            rule=MatchRule[r.rule.name],
            strength=MatchStrength[r.strength.name],
            values=list(r.values),
        )
        for r in reasons
    ]


@strawberry.type(
    description="What merging two customers would give; nothing is written."
)
class MergePreview:
    fields: list[MergeFieldOutcome] = strawberry.field(
        description="Each profile field: both values and the survivor's result."
    )
    tags: list[str] = strawberry.field(description="The union of both customers' tags.")
    consents: list[MergedConsent] = strawberry.field(
        description="Each channel's consent: the more restrictive of the two."
    )
    loyalty_balance: int = strawberry.field(description="Both ledgers summed.")
    moved: list[MovedRows] = strawberry.field(
        description="The merged customer's rows that move to the survivor."
    )
    score: float = strawberry.field(
        description="What the suggesting rules say of the pair (0: nothing)."
    )
    reasons: list[MatchReason] = strawberry.field(
        description="The rules that agree, strongest first."
    )

    @classmethod
    def of(
        cls, plan: resolve.Plan, score: float, reasons: tuple[resolve.Reason, ...]
    ) -> MergePreview:
        return cls(
            fields=_outcomes(plan),
            tags=plan.tags,
            consents=[
                MergedConsent(channel=ConsentChannel(c), state=ConsentState(state))
                for c, state in sorted(plan.consents.items())
            ],
            loyalty_balance=plan.loyalty_balance,
            moved=[MovedRows(table=t, rows=n) for t, n in sorted(plan.moved.items())],
            score=score,
            reasons=_reasons(reasons),
        )


@strawberry.type(description="A merge done: the survivor and what the merge did.")
class MergeResult:
    merge_id: strawberry.ID = strawberry.field(description="The merge's id.")
    preview: MergePreview = strawberry.field(description="What the merge did.")
    survivor_id: strawberry.Private[int]

    @strawberry.field(
        description="The survivor, as it is now. Null when it was deleted since."
    )
    async def survivor(self, info: Info) -> Customer | None:
        return await _customer(info, self.survivor_id)


@strawberry.type(description="A merge undone: both customers as they are again.")
class UnmergeResult:
    survivor_id: strawberry.Private[int]
    restored_id: strawberry.Private[int]

    @strawberry.field(
        description="The customer that had survived the merge. Null when it was"
        " deleted since."
    )
    async def survivor(self, info: Info) -> Customer | None:
        return await _customer(info, self.survivor_id)

    @strawberry.field(
        description="The customer given back, with what it held. Null when it was"
        " deleted since."
    )
    async def restored(self, info: Info) -> Customer | None:
        return await _customer(info, self.restored_id)


def _choices(fields: list[FieldChoice] | None) -> dict[str, resolve.Survivorship]:
    return {
        choice.field.name.lower(): resolve.Survivorship[choice.take.name]
        for choice in fields or ()
    }


_FIELDS_ARG = strawberry.argument(
    description="Per-field choices over `survivorship` (a field listed twice: the"
    " last wins)."
)


@strawberry.type
class IdentityMutation:
    @strawberry.mutation(
        description="Merge `mergedId` into `survivorId` (admin and support only):"
        " the merged customer's notes, tasks, orders' facts, events, loyalty"
        " ledger and upstream links move to the survivor; tags are united;"
        " each consent takes the more restrictive state; profile fields follow"
        " `survivorship` and `fields`. The merged id keeps resolving to the"
        " survivor; `unmergeCustomer` undoes it. BAD_USER_INPUT for a customer"
        " with itself, CONFLICT for one already merged."
    )
    async def merge_customers(
        self,
        info: Info,
        survivor_id: strawberry.ID,
        merged_id: strawberry.ID,
        survivorship: Survivorship = Survivorship.SURVIVOR,
        fields: Annotated[list[FieldChoice] | None, _FIELDS_ARG] = None,
    ) -> MergeResult:
        done = await resolve.merge_customers(
            info,
            survivor_id,
            merged_id,
            resolve.Survivorship[survivorship.name],
            _choices(fields),
        )
        return MergeResult(
            merge_id=strawberry.ID(to_base64("CustomerMerge", done.merge_id)),
            preview=MergePreview.of(done.plan, done.score, done.reasons),
            survivor_id=done.plan.survivor.id,
        )

    @strawberry.mutation(
        description="Say that two customers are not one person (admin and support"
        " only): `duplicateCandidates` never suggests the pair again. True;"
        " again is no error. BAD_USER_INPUT for one customer twice, NOT_FOUND"
        " for an unknown one."
    )
    async def dismiss_duplicate(
        self, info: Info, customer_id: strawberry.ID, duplicate_id: strawberry.ID
    ) -> bool:
        await resolve.dismiss_duplicate(info, customer_id, duplicate_id)
        return True

    @strawberry.mutation(
        description="Undo the merge of the customer `id` (admin and support only):"
        " both customers get back exactly what each held, with what was written"
        " since through the merged customer's own links. CONFLICT when it is not"
        " merged, or when its survivor was merged since (unmerge that first)."
    )
    async def unmerge_customer(self, info: Info, id: strawberry.ID) -> UnmergeResult:
        survivor, restored = await resolve.unmerge_customer(info, id)
        return UnmergeResult(survivor_id=survivor, restored_id=restored)


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

    @strawberry.field(
        description="What merging `mergedId` into `survivorId` would give, field by"
        " field; nothing is written (admin and support only)."
    )
    async def preview_merge(
        self,
        info: Info,
        survivor_id: strawberry.ID,
        merged_id: strawberry.ID,
        survivorship: Survivorship = Survivorship.SURVIVOR,
        fields: Annotated[list[FieldChoice] | None, _FIELDS_ARG] = None,
    ) -> MergePreview:
        preview = await resolve.preview_merge(
            info,
            survivor_id,
            merged_id,
            resolve.Survivorship[survivorship.name],
            _choices(fields),
        )
        return MergePreview.of(preview.plan, preview.score, preview.reasons)
