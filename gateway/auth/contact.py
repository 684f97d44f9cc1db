"""The contact data a role may use: a customer's email and phone as
``gateway.auth.policy``'s table gives them, with the customer's consents read
together with the row, at read time.

Everything that hands contact data to someone who may send to it goes through
``contact_for``: segment exports (``gateway.insights.export``) and the payloads
automations build. For ``marketing`` the email is there only where the email
consent is granted and the phone only where SMS consent is — never masked,
since a masked address is still personal data and reaches nobody.

    row = ContactRow.of(customer, consents)           # models.Customer, its consents
    contact_for(Role.MARKETING, row, "email").email   # the address, or None
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.auth.policy import CONSENT_CHANNELS, PiiKind, Role, apply
from gateway.db import models
from gateway.errors import BadUserInput

GRANTED = "granted"
"""The one consent state that allows contact (``denied`` and ``pending`` do
not, nor does no row at all)."""

CHANNEL_KINDS: dict[str, PiiKind] = {
    channel: kind for kind, channel in CONSENT_CHANNELS.items()
}
"""Consent channel → the kind of contact data it is sent to."""


def granted_channels(consents: Iterable[models.Consent]) -> frozenset[str]:
    """The channels a customer's consent rows grant."""
    return frozenset(c.channel for c in consents if c.state == GRANTED)


@dataclass(frozen=True, slots=True)
class ContactRow:
    """A customer's contact data and the channels its consent is granted for,
    read in the same statement or request (never from an older read)."""

    customer_id: int
    email: str | None
    phone: str | None
    granted: frozenset[str]

    @classmethod
    def of(
        cls, customer: models.Customer, consents: Iterable[models.Consent]
    ) -> ContactRow:
        return cls(
            customer.id, customer.email, customer.phone, granted_channels(consents)
        )


@dataclass(frozen=True, slots=True)
class Contact:
    """What a role may use of a customer's contact data; ``None`` where it may
    not (or none is recorded)."""

    email: str | None
    phone: str | None


def contact_for(
    role: Role, customer: ContactRow, channel: str | None = None
) -> Contact:
    """The contact fields ``role`` may use of ``customer``: each as the policy
    gives it with the customer's consents. Given a ``channel`` (``email`` or
    ``sms``), only that channel's field: what a send on it may use."""
    if channel is not None and channel not in CHANNEL_KINDS:
        raise BadUserInput("channel is email or sms.", argument="channel")
    wanted = CHANNEL_KINDS.values() if channel is None else (CHANNEL_KINDS[channel],)
    granted = customer.granted
    return Contact(
        email=apply(role, PiiKind.EMAIL, customer.email, granted)
        if PiiKind.EMAIL in wanted
        else None,
        phone=apply(role, PiiKind.PHONE, customer.phone, granted)
        if PiiKind.PHONE in wanted
        else None,
    )
