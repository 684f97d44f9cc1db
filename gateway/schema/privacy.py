"""Data subject requests in the graph (admin only): a customer's erasure and
export, and where each request stands, source by source. What is erased and
how a request is retried: docs/privacy.md."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from gateway.auth.pii import pii_field
from gateway.auth.policy import PiiKind
from gateway.resolvers import privacy as resolve
from gateway.resolvers.context import Info
from gateway.resolvers.privacy import Request, SourceState
from gateway.schema.descriptions import role_null


@strawberry.enum(description="Where a request, or one of its sources, stands.")
class PrivacyStatus(enum.Enum):
    PENDING = strawberry.enum_value(
        "pending", description="Not done yet: its jobs are queued or running."
    )
    DONE = strawberry.enum_value(
        "done", description="Finished: erased, or the export's document built."
    )
    FAILED = strawberry.enum_value(
        "failed",
        description="The last attempt failed (`error` says why); it is retried"
        " with backoff until it succeeds.",
    )
    NOT_LINKED = strawberry.enum_value(
        "not_linked",
        description="The customer has no record in this upstream: nothing to do.",
    )


@strawberry.type(description="A request's progress in one place the data lives.")
class PrivacySource:
    source: str = strawberry.field(
        description="`local` (the gateway's own tables), `shopify`, `zendesk` or"
        " `posthog`."
    )
    status: PrivacyStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    error: str | None = strawberry.field(
        description="The last failure's code (`UPSTREAM_UNAVAILABLE`,"
        " `NOT_CONFIGURED`…); null when it has not failed."
    )
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")

    @classmethod
    def of(cls, state: SourceState) -> PrivacySource:
        return cls(
            source=state.source,
            status=PrivacyStatus(state.status),
            attempts=state.attempts,
            error=state.error,
            updated_at=state.updated_at,
        )


@strawberry.type(
    description="A data subject request: an erasure or an export of one customer."
    " It holds ids only, never the person's contact data."
)
class PrivacyRequest:
    id: strawberry.ID = strawberry.field(
        description="Its global id, for `privacyRequest(id:)` (not a Node:"
        " `node(id:)` does not read requests)."
    )
    kind: str = strawberry.field(
        description="`erasure` or `export` (this API); `customer_redact`,"
        " `data_request` or `shop_redact` (Shopify's compliance webhooks)."
    )
    origin: str = strawberry.field(
        description="Who asked: `api` or `shopify` (a compliance webhook)."
    )
    status: PrivacyStatus = strawberry.field(
        description="`DONE` once every source is done or not linked; `FAILED`"
        " while a source failed (it is retried); else `PENDING`."
    )
    customer: strawberry.ID | None = strawberry.field(
        description="The customer's global id (it no longer resolves once"
        " erased); null when the request named no customer of ours."
    )
    sources: list[PrivacySource] = strawberry.field(
        description="Each place the data lives, in alphabetical order; empty for"
        " a request that named no customer of ours."
    )
    requested_at: datetime = strawberry.field(description="When it was made (UTC).")
    completed_at: datetime | None = strawberry.field(
        description="When its last source was done (UTC). Null when a source is"
        " still pending or failed."
    )
    export: JSON | None = pii_field(
        PiiKind.TEXT,
        description="An export's document (docs/privacy.md: `local`, `derived`,"
        " `sources` with their provenance, `audit`). Null when not built yet,"
        " for an erasure, and once the customer is erased. " + role_null(PiiKind.TEXT),
    )
    customer_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, request: Request) -> PrivacyRequest:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("PrivacyRequest", str(request.id)))),
            kind=request.kind,
            origin=request.source,
            status=PrivacyStatus(request.status),
            customer=None
            if request.customer_id is None
            else strawberry.ID(
                str(relay.GlobalID("Customer", str(request.customer_id)))
            ),
            sources=[PrivacySource.of(s) for s in request.sources],
            requested_at=request.received_at,
            completed_at=request.completed_at,
            export=None if request.export is None else JSON(request.export),
            customer_id=request.customer_id,
        )


def _customer_gid(customer_id: int | None) -> strawberry.ID | None:
    if customer_id is None:
        return None
    return strawberry.ID(str(relay.GlobalID("Customer", str(customer_id))))


@strawberry.type
class PrivacyQuery:
    @strawberry.field(
        description="A privacy request by its id (admin only). NOT_FOUND for an"
        " unknown id."
    )
    async def privacy_request(self, info: Info, id: strawberry.ID) -> PrivacyRequest:  # noqa: A002
        return PrivacyRequest.of(await resolve.read(info, id))


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Erase a customer everywhere (admin only): the gateway's"
        " tables at once in a job, and each linked upstream (Shopify"
        " `customerRequestDataErasure`, Zendesk permanent deletion, PostHog"
        " person and events), each retried until done. Returns the request;"
        " follow it with `privacyRequest`. CONFLICT when the customer was"
        " erased already; NOT_FOUND for an unknown customer."
    )
    async def erase_customer(self, info: Info, id: strawberry.ID) -> PrivacyRequest:  # noqa: A002
        return PrivacyRequest.of(await resolve.erase_customer(info, id))

    @strawberry.mutation(
        description="Build a JSON document of everything held about a customer,"
        " here and in each linked upstream (admin only); read it from"
        " `privacyRequest(id:) { export }` once the request is done. NOT_FOUND"
        " for an unknown customer."
    )
    async def export_customer_data(
        self,
        info: Info,
        id: strawberry.ID,  # noqa: A002
    ) -> PrivacyRequest:
        return PrivacyRequest.of(await resolve.export_customer(info, id))
