"""The customer list's filter and the customer mutations' inputs, each with the
plain value the resolvers take instead (``gateway.resolvers.customer`` never
sees a Strawberry input): a ``CustomerFilterSpec``, a ``NewCustomer``, a
mapping of the fields to change. The conversion only copies; the checks, and
their coded errors, stay in the resolvers and ``gateway.crm``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

import strawberry

from gateway.auth.policy import PiiKind
from gateway.crm.customers import NewAddress, NewCustomer
from gateway.db.customer_queries import CustomerFilterSpec
from gateway.schema.crm import AddressInput, ConsentChannel, ConsentState
from gateway.schema.descriptions import role_refused


@strawberry.input(description="Customers with a given consent.")
class ConsentFilter:
    channel: ConsentChannel = strawberry.field(description="The channel.")
    state: ConsentState | None = strawberry.field(
        default=None, description="The state it must be in; any state when left out."
    )


@strawberry.input(description="All given conditions must hold.")
class CustomerFilter:
    country: str | None = strawberry.field(
        default=None,
        description="ISO 3166-1 alpha-2 code of an address, e.g. DE. "
        + role_refused(PiiKind.ADDRESS),
    )
    region: str | None = strawberry.field(
        default=None,
        description="Region of an address, as recorded. "
        + role_refused(PiiKind.ADDRESS),
    )
    city: str | None = strawberry.field(
        default=None,
        description="City of an address, as recorded. " + role_refused(PiiKind.ADDRESS),
    )
    tags_any: list[str] | None = strawberry.field(
        default=None,
        description="Has at least one of these tags; an empty list matches no"
        " customer, as in a segment's filter.",
    )
    consent: ConsentFilter | None = strawberry.field(
        default=None, description="Has this consent."
    )
    birth_month: int | None = strawberry.field(
        default=None, description="1–12. " + role_refused(PiiKind.BIRTH_MONTH)
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Recorded at or after this time."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Recorded before this time."
    )
    has_phone: bool | None = strawberry.field(
        default=None,
        description="True: has a phone number; false: has none. "
        + role_refused(PiiKind.PHONE),
    )

    def spec(self) -> CustomerFilterSpec:
        consent = self.consent
        return CustomerFilterSpec(
            country=self.country,
            region=self.region,
            city=self.city,
            tags_any=None if self.tags_any is None else tuple(self.tags_any),
            consent_channel=consent.channel.value if consent else None,
            consent_state=consent.state.value if consent and consent.state else None,
            birth_month=self.birth_month,
            created_after=self.created_after,
            created_before=self.created_before,
            has_phone=self.has_phone,
        )


@strawberry.input(description="A new customer; only `email` is required.")
class CreateCustomerInput:
    email: str = strawberry.field(description="Unique among customers.")
    phone: str | None = strawberry.field(
        default=None, description="E.164, e.g. +14155550123."
    )
    first_name: str | None = strawberry.field(default=None, description="Given name.")
    last_name: str | None = strawberry.field(default=None, description="Family name.")
    birth_date: date | None = strawberry.field(
        default=None, description="ISO date, e.g. 1990-04-01."
    )
    locale: str | None = strawberry.field(
        default=None, description='BCP 47 tag, e.g. "en-US".'
    )
    timezone: str | None = strawberry.field(
        default=None, description='IANA zone, e.g. "Europe/Berlin".'
    )
    addresses: list[AddressInput] | None = strawberry.field(
        default=None, description="Postal addresses."
    )
    tags: list[str] | None = strawberry.field(
        default=None, description="Tags, lower-cased when stored."
    )

    def new_customer(self) -> NewCustomer:
        return NewCustomer(
            email=self.email,
            phone=self.phone,
            first_name=self.first_name,
            last_name=self.last_name,
            birth_date=self.birth_date,
            locale=self.locale,
            timezone=self.timezone,
            addresses=[_new_address(a) for a in self.addresses or ()],
            tags=self.tags or (),
        )


@strawberry.input(description="Only the fields given change; null clears one.")
class UpdateCustomerInput:
    email: str | None = strawberry.field(
        default=strawberry.UNSET, description="Unique among customers."
    )
    phone: str | None = strawberry.field(
        default=strawberry.UNSET, description="E.164, e.g. +14155550123."
    )
    first_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Given name."
    )
    last_name: str | None = strawberry.field(
        default=strawberry.UNSET, description="Family name."
    )
    birth_date: date | None = strawberry.field(
        default=strawberry.UNSET, description="ISO date, e.g. 1990-04-01."
    )
    locale: str | None = strawberry.field(
        default=strawberry.UNSET, description='BCP 47 tag, e.g. "en-US".'
    )
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description='IANA zone, e.g. "Europe/Berlin".'
    )

    def changes(self) -> Mapping[str, object]:
        """The fields given, by their snake_case names; ``None`` clears one."""
        given = {
            "email": self.email,
            "phone": self.phone,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "birth_date": self.birth_date,
            "locale": self.locale,
            "timezone": self.timezone,
        }
        return {k: v for k, v in given.items() if v is not strawberry.UNSET}


def _new_address(data: AddressInput) -> NewAddress:
    return NewAddress(
        kind=data.kind.value,
        country=data.country,
        line1=data.line1,
        line2=data.line2,
        city=data.city,
        region=data.region,
        postcode=data.postcode,
        is_default=data.is_default,
    )
