"""The one declarative table of who may see and change what.

Roles: ``admin``, ``support``, ``sales`` see personal data in full;
``marketing`` sees a customer's email in full only where that customer's email
consent is granted and the phone only where SMS consent is granted (null
otherwise: a masked address is still personal data, and useless for sending),
URLs and upstream ids masked (``https://shop.example/cart``), the birth month
but not the date, the city but not the street;
``analyst`` sees none of it (null); ``embed`` (a signed timeline token) sees its
one customer as support does, read-only. ``embed`` is the role of an embed
token only: no API key or JWT can hold it (``GRANTABLE_ROLES``). Fields name
their kind of personal data (``gateway.auth.pii.pii_field``); this module
decides what each role gets, so the timeline, exports, subscriptions and
automations' payloads (``gateway.auth.contact``) apply the very same rules.
``COMPARED`` says which arguments compare with which kind: a role searches,
filters, orders and looks up only by what it sees in full — for every
customer, so never by a kind it sees only where consent allows.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from typing import Any

from gateway.auth.masks import mask_email, mask_external_id, mask_phone, mask_url


class Role(enum.StrEnum):
    ADMIN = "admin"
    SUPPORT = "support"
    SALES = "sales"
    MARKETING = "marketing"
    ANALYST = "analyst"
    EMBED = "embed"


GRANTABLE_ROLES: frozenset[Role] = frozenset(Role) - {Role.EMBED}
"""Roles an API key or a JWT may carry: ``embed`` comes only with an embed
token, which limits it to one customer's timeline."""


class PiiKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    BIRTH_DATE = "birth_date"
    BIRTH_MONTH = "birth_month"
    ADDRESS = "address"
    """An address as a whole (country, region, city)."""
    STREET = "street"
    """The parts of an address that locate a home: lines and postcode."""
    NAME = "name"
    """First and last names (``displayName`` falls back to ``Customer <id>``)."""
    NOTE = "note"
    """Our notes on a customer."""
    TEXT = "text"
    """Free text written by, to or about a customer elsewhere: ticket subjects
    and comments, task titles, refund notes, satisfaction comments, timeline
    summaries that quote them, web event properties. It may hold anything."""
    URL = "url"
    """A visited URL or its path: its query string may carry an email or a
    token, its user info a password."""
    EXTERNAL_ID = "external_id"
    """The customer's id in an upstream: mostly opaque (a Shopify gid), but a
    Segment userId or a PostHog distinct id is an email for some senders."""


class Treatment(enum.Enum):
    FULL = "full"
    MASK = "mask"
    HIDE = "hide"
    CONSENTED = "consented"
    """``FULL`` where the customer's consent for the kind's channel
    (``CONSENT_CHANNELS``) is granted when the value is read, else ``HIDE``."""


FULL, MASK, HIDE = Treatment.FULL, Treatment.MASK, Treatment.HIDE
CONSENTED = Treatment.CONSENTED

CONSENT_CHANNELS: dict[PiiKind, str] = {PiiKind.EMAIL: "email", PiiKind.PHONE: "sms"}
"""The consent channel (``consents.channel``) that unlocks a ``CONSENTED``
kind: the email address for marketing email, the phone for text messages."""

PII_POLICY: dict[Role, dict[PiiKind, Treatment]] = {
    Role.ADMIN: dict.fromkeys(PiiKind, FULL),
    Role.SUPPORT: dict.fromkeys(PiiKind, FULL),
    Role.SALES: dict.fromkeys(PiiKind, FULL),
    Role.EMBED: dict.fromkeys(PiiKind, FULL),
    Role.MARKETING: {
        PiiKind.EMAIL: CONSENTED,
        PiiKind.PHONE: CONSENTED,
        PiiKind.BIRTH_DATE: HIDE,
        PiiKind.BIRTH_MONTH: FULL,
        PiiKind.ADDRESS: FULL,
        PiiKind.STREET: HIDE,
        PiiKind.NAME: FULL,
        PiiKind.NOTE: HIDE,
        PiiKind.TEXT: HIDE,
        PiiKind.URL: MASK,
        PiiKind.EXTERNAL_ID: MASK,
    },
    Role.ANALYST: dict.fromkeys(PiiKind, HIDE),
}
"""Role → kind of personal data → what the role gets. The only such table."""

SEARCHED: dict[str, PiiKind] = {
    "email": PiiKind.EMAIL,
    "name": PiiKind.NAME,
    "phone": PiiKind.PHONE,
}
"""What ``customers(search:)`` matches (``gateway.db.customer_queries``)."""

_EMAIL, _PHONE, _NAME = (
    frozenset({PiiKind.EMAIL}),
    frozenset({PiiKind.PHONE}),
    frozenset({PiiKind.NAME}),
)
_ADDRESS, _BIRTH_MONTH = frozenset({PiiKind.ADDRESS}), frozenset({PiiKind.BIRTH_MONTH})
_BIRTH_DATE = frozenset({PiiKind.BIRTH_DATE})

COMPARED: dict[str, frozenset[PiiKind]] = {
    "Query.customer(email:)": _EMAIL,
    "Query.customers(search:)": frozenset(SEARCHED.values()),
    "CustomerOrderBy.EMAIL_ASC": _EMAIL,
    "CustomerOrderBy.LAST_NAME_ASC": _NAME,
    "CustomerFilter.country": _ADDRESS,
    "CustomerFilter.region": _ADDRESS,
    "CustomerFilter.city": _ADDRESS,
    "CustomerFilter.birthMonth": _BIRTH_MONTH,
    "CustomerFilter.hasPhone": _PHONE,
    "SegmentFilter.country": _ADDRESS,
    "SegmentFilter.region": _ADDRESS,
    "SegmentFilter.city": _ADDRESS,
    "SegmentFilter.birthMonth": _BIRTH_MONTH,
    "BirthdayRule.withinDays": _BIRTH_DATE,  # a window of days tells the day
    "BirthdayRule.monthsAhead": _BIRTH_MONTH,
    "BirthdayTrigger.daysAhead": _BIRTH_DATE,  # a run dated N days ahead tells the day
    "BirthdayTrigger.monthAhead": _BIRTH_MONTH,
    "BirthdayTrigger.inBirthdayMonth": _BIRTH_MONTH,
    "Customer.email": _EMAIL,
}
"""Every argument, input field, enum value and federation entity key
(``Customer.email``: a router's ``_entities`` representation) that compares
with personal data, by schema coordinate → the kinds it compares with. A role
may search, filter, order or look up by one only when it sees one of those
kinds in FULL, and it then compares with those only (``search`` matches what
the role sees in full: names for marketing). The gate refuses the rest before
execution (``gateway.admission.gate``), and saved segments are read by the same rule
(``gateway.insights.segment_filter.hidden_conditions``)."""


def compared_in_full(role: Role, coordinate: str) -> frozenset[PiiKind]:
    """The kinds ``coordinate`` compares with that ``role`` sees in full."""
    kinds = COMPARED.get(coordinate, frozenset())
    return frozenset(k for k in kinds if treatment(role, k) is FULL)


def may_compare(role: Role, coordinate: str) -> bool:
    return coordinate not in COMPARED or bool(compared_in_full(role, coordinate))


def searched(role: Role) -> frozenset[str]:
    """The fields ``customers(search:)`` matches for ``role``."""
    return frozenset(
        name for name, kind in SEARCHED.items() if treatment(role, kind) is FULL
    )


WRITERS: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPPORT, Role.SALES})
"""Roles that may run any mutation."""

MUTATIONS_BY_ROLE: dict[Role, frozenset[str]] = {
    Role.MARKETING: frozenset(
        {
            "createSegment",
            "updateSegment",
            "deleteSegment",
            "setProductReplenishment",
            "setCategoryReplenishment",
            "setConsent",
            "createPromoCode",
            "connectSegmentToList",
            "disconnectSegmentFromList",
            "createAutomation",
            "updateAutomation",
            "pauseAutomation",
            "resumeAutomation",
            "deleteAutomation",
            "retryRun",
        }
    ),
    Role.ANALYST: frozenset(),
    Role.EMBED: frozenset(),
}
"""The mutations each non-writer role may run (by root field name)."""

ARGUMENTS_BY_ROLE: dict[Role, dict[str, dict[str, frozenset[str]]]] = {
    Role.MARKETING: {"setConsent": {"state": frozenset({"DENIED"})}},
}
"""For a mutation a non-writer role may run, the only values some of its
arguments may take (enum values by their GraphQL names). Marketing records an
opt-out (``DENIED``) but never grants consent, nor asks for it (``PENDING``),
on a customer's behalf: a granted consent is what puts a customer in a
marketing export, so granting it to oneself would unlock the contacts."""


CAMPAIGN_MANAGERS: frozenset[Role] = frozenset({Role.ADMIN, Role.MARKETING})
IDENTITY_STEWARDS: frozenset[Role] = frozenset({Role.ADMIN, Role.SUPPORT})
"""Who decides which customers are one person (docs/identity.md)."""
ROOT_FIELD_ROLES: dict[str, frozenset[Role]] = {
    **dict.fromkeys(
        (
            "connectSegmentToList",
            "disconnectSegmentFromList",
            "automations",
            "automationRuns",
            "dryRunAutomation",
            "createAutomation",
            "updateAutomation",
            "pauseAutomation",
            "resumeAutomation",
            "deleteAutomation",
            "retryRun",
        ),
        CAMPAIGN_MANAGERS,
    ),
    **dict.fromkeys(
        (
            "duplicateCandidates",
            "dismissDuplicate",
            "previewMerge",
            "mergeCustomers",
            "unmergeCustomer",
        ),
        IDENTITY_STEWARDS,
    ),
    **dict.fromkeys(
        (
            "webhookEndpoints",
            "webhookDeliveries",
            "createWebhookEndpoint",
            "rotateWebhookSecret",
            "disableWebhookEndpoint",
            "enableWebhookEndpoint",
            "deleteWebhookEndpoint",
            "retryDelivery",
            "replayDelivery",
            "eraseCustomer",
            "exportCustomerData",
            "privacyRequest",
        ),
        frozenset({Role.ADMIN}),
    ),
}
"""Root fields (queries and mutations) only some roles may use, whatever
else they may run: automations, and which customers are sent to an email
tool, are marketing's and the admin's decisions, not the help desk's or
sales' (docs/automations.md, docs/audiences.md); which customers are one
person is the data stewards' (docs/identity.md); outbound webhooks are the
admin's alone: they send customers' data to any URL they name, and their log
shows where it went (docs/webhooks-outbound.md); so are data subject requests
— an erasure cannot be undone, an export holds everything about a person
(docs/privacy.md)."""


def may_use_root_field(role: Role, field: str) -> bool:
    """Whether ``role`` may select the root field ``field`` at all."""
    return role in ROOT_FIELD_ROLES.get(field, frozenset(Role))


def may_run_mutation(
    role: Role, field: str, arguments: Mapping[str, object] | None = None
) -> bool:
    """Whether ``role`` may run the root mutation ``field`` with ``arguments``
    (GraphQL names → values as sent; an argument left out matches no limit)."""
    if not may_use_root_field(role, field):
        return False
    if role in WRITERS:
        return True
    if field not in MUTATIONS_BY_ROLE.get(role, frozenset()):
        return False
    given = arguments or {}
    return all(
        isinstance(value := given.get(name), str) and value in allowed
        for name, allowed in argument_limits(role, field).items()
    )


def argument_limits(role: Role, field: str) -> Mapping[str, frozenset[str]]:
    return ARGUMENTS_BY_ROLE.get(role, {}).get(field, {})


def treatment(role: Role, kind: PiiKind) -> Treatment:
    return PII_POLICY[role][kind]


def needs_consent(role: Role, kind: PiiKind) -> bool:
    """Whether what ``role`` sees of ``kind`` depends on the customer's
    consents (read them only then: other roles never pay for it)."""
    return treatment(role, kind) is CONSENTED


def may_hide(role: Role, kind: PiiKind) -> bool:
    """Whether ``role`` gets null for some customer's ``kind``."""
    return treatment(role, kind) in (HIDE, CONSENTED)


def apply(role: Role, kind: PiiKind, value: Any, granted: Collection[str] = ()) -> Any:
    """``value`` as ``role`` may see it: itself, masked, or ``None``.
    ``granted``: the channels the customer's consent is granted for, read at
    read time (none known: none granted, so a ``CONSENTED`` value is hidden)."""
    if value is None:
        return None
    rule = treatment(role, kind)
    if rule is CONSENTED:
        rule = FULL if CONSENT_CHANNELS[kind] in granted else HIDE
    if rule is Treatment.FULL:
        return value
    if rule is Treatment.HIDE:
        return None
    return _mask(kind, value)


def _mask(kind: PiiKind, value: Any) -> Any:
    if kind is PiiKind.EMAIL and isinstance(value, str):
        return mask_email(value)
    if kind is PiiKind.PHONE and isinstance(value, str):
        return mask_phone(value)
    if kind is PiiKind.URL and isinstance(value, str):
        return mask_url(value)
    if kind is PiiKind.EXTERNAL_ID and isinstance(value, str):
        return mask_external_id(value)
    return None


EXPORT_COLUMNS: dict[str, PiiKind] = {
    "email": PiiKind.EMAIL,
    "phone": PiiKind.PHONE,
    "first_name": PiiKind.NAME,
    "last_name": PiiKind.NAME,
    "country": PiiKind.ADDRESS,
    "city": PiiKind.ADDRESS,
}
"""Which exported columns hold which kind of personal data (``email`` and
``phone`` go through ``gateway.auth.contact.contact_for``)."""
