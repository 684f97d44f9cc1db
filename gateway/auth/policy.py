"""The one declarative table of who may see and change what.

Roles: ``admin``, ``support``, ``sales`` see personal data in full;
``marketing`` sees it masked (``j***@example.com``, ``+44******56``, the birth
month but not the date, the city but not the street);
``analyst`` sees none of it (null); ``embed`` (a signed timeline token) sees its
one customer as support does, read-only. ``embed`` is the role of an embed
token only: no API key or JWT can hold it (``GRANTABLE_ROLES``). Fields name
their kind of personal data (``gateway.auth.pii.pii_field``); this module
decides what each role gets, so the timeline, exports and subscriptions apply
the very same rules. ``COMPARED`` says which arguments compare with which
kind: a role searches, filters, orders and looks up only by what it sees in
full.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit


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


FULL, MASK, HIDE = Treatment.FULL, Treatment.MASK, Treatment.HIDE

PII_POLICY: dict[Role, dict[PiiKind, Treatment]] = {
    Role.ADMIN: dict.fromkeys(PiiKind, FULL),
    Role.SUPPORT: dict.fromkeys(PiiKind, FULL),
    Role.SALES: dict.fromkeys(PiiKind, FULL),
    Role.EMBED: dict.fromkeys(PiiKind, FULL),
    Role.MARKETING: {
        PiiKind.EMAIL: MASK,
        PiiKind.PHONE: MASK,
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


ADMIN_ONLY: frozenset[str] = frozenset(
    {
        "webhookEndpoints",
        "webhookDeliveries",
        "createWebhookEndpoint",
        "rotateWebhookSecret",
        "disableWebhookEndpoint",
        "enableWebhookEndpoint",
        "deleteWebhookEndpoint",
        "retryDelivery",
        "replayDelivery",
    }
)
"""Root fields (queries and mutations) only ``admin`` may use: outbound
webhooks send customers' data to any URL they name, and their log shows
where it went."""


def may_use_root_field(role: Role, field: str) -> bool:
    """Whether ``role`` may select the root field ``field`` at all."""
    return field not in ADMIN_ONLY or role is Role.ADMIN


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


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(value: str) -> str:
    return f"{value[:3]}******{value[-2:]}" if len(value) > 5 else "***"


_SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
"""Schemes whose URLs browsers read with any number of ``/`` or ``\\`` after
the colon (WHATWG URL: ``https:\\\\host``, ``https:/host`` are ``https://host``)."""
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_PHONE_ID = re.compile(r"\+[0-9 ().-]{6,}")
"""A phone number as an id: ``+`` then digits and separators."""


def mask_url(value: str) -> str | None:
    """Scheme, host, port and path: the query and fragment are where emails
    and tokens ride, user info holds a password, ``;params`` a session id.

    A URL with a scheme and no host (``mailto:``, ``tel:``, ``data:``) is all
    payload: only its scheme is kept. A reference without a scheme keeps its
    path, less a leading ``user@`` (``maya@shop.example/a``). ``None`` for
    what is not a URL (an unclosed IPv6 bracket)."""
    text = value.strip(_C0_AND_SPACE)
    try:
        scheme = urlsplit(text).scheme
        if scheme in _SPECIAL_SCHEMES:
            rest = text[len(scheme) + 1 :].replace("\\", "/").lstrip("/")
            text = f"{scheme}://{rest}"
        parts = urlsplit(text)
    except ValueError:
        return None
    if (
        parts.scheme
        and not parts.netloc
        and not text[len(scheme) + 1 :].startswith("//")
    ):
        return f"{parts.scheme}:"
    path = parts.path
    if not parts.scheme and not parts.netloc:
        first, slash, rest = path.partition("/")
        path = first.rpartition("@")[2] + slash + rest
    path = "/".join(segment.partition(";")[0] for segment in path.split("/"))
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, path, "", ""))


def mask_external_id(value: str) -> str:
    """An upstream id as it is, unless it is an email or a phone number."""
    if "@" in value:
        return mask_email(value)
    if _PHONE_ID.fullmatch(value):
        return mask_phone(value)
    return value


def apply(role: Role, kind: PiiKind, value: Any) -> Any:
    """``value`` as ``role`` may see it: itself, masked, or ``None``."""
    if value is None:
        return None
    rule = treatment(role, kind)
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
"""Which exported columns hold which kind of personal data."""


class RolePolicy:
    """A segment export as ``role`` may see it (``gateway.insights.export``)."""

    def __init__(self, role: Role) -> None:
        self.role = role

    def apply(self, column: str, value: Any) -> Any:
        kind = EXPORT_COLUMNS.get(column)
        return value if kind is None else apply(self.role, kind, value)
