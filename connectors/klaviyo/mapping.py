"""Klaviyo JSON:API documents, both ways: the request bodies the client sends
and the canonical models of what Klaviyo answers.

Every body is a JSON:API document (``{"data": {"type", "id", "attributes",
"relationships"}}``), sent as ``application/vnd.api+json``. The shapes below
are those of the published OpenAPI spec, revision 2026-07-15
(``tests/integration/connectors/klaviyo_openapi.json`` holds the trimmed
copy the tests
check every body against).

Profile (Get Profiles ``data[]``, Create or Update Profile ``data``)::

    {"type": "profile", "id": "01GDDKASAP8TKDDA2GRZDSVP4H",
     "attributes": {"email": "sarah.mason@klaviyo-demo.com",
                    "phone_number": "+15005550006", "external_id": "63f64a2b",
                    "first_name": "Sarah", "last_name": "Mason",
                    "created": "2022-11-08T00:00:00+00:00", "properties": {…}, …},
     "links": {"self": "…"}}

With ``additional-fields[profile]=subscriptions`` a profile also carries its
consents; email marketing's (``subscriptions.email.marketing``)::

    {"can_receive_email_marketing": false, "consent": "UNSUBSCRIBED",
     "consent_timestamp": "2026-11-02T10:00:00+00:00",
     "last_updated": "2026-11-02T10:00:00+00:00", "method": "EMAIL_UNSUBSCRIBE",
     "suppression": [{"reason": "UNSUBSCRIBE",
                      "timestamp": "2026-11-02T10:00:00+00:00"}],
     "list_suppressions": [], …}

``consent`` is ``SUBSCRIBED``, ``UNSUBSCRIBED`` or ``NEVER_SUBSCRIBED``; a
suppression (``UNSUBSCRIBE``, ``HARD_BOUNCE``, ``SPAM_COMPLAINT``,
``USER_SUPPRESSED``, ``INVALID_EMAIL``) stops marketing email whatever the
consent says.

List (Get Lists ``data[]``, Get List ``data``)::

    {"type": "list", "id": "Y6nRLr",
     "attributes": {"name": "Newsletter", "opt_in_process": "double_opt_in",
                    "created": "…", "updated": "…"}}

A collection's next page is ``links.next``, a URL carrying ``page[cursor]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.errors import UpstreamBadResponse
from connectors.models import EmailList, EmailOptOut, ExternalCustomer

SOURCE = "klaviyo"
SUBSCRIBED = "SUBSCRIBED"
UNSUBSCRIBED = "UNSUBSCRIBED"


def subscribe_job(
    list_id: str, emails: Sequence[str], custom_source: str
) -> dict[str, Any]:
    """Bulk Subscribe Profiles: email marketing consent ``SUBSCRIBED`` for
    each address, and each profile added to the list (created if unknown)."""
    profiles = [
        {
            "type": "profile",
            "attributes": {
                "email": email,
                "subscriptions": {"email": {"marketing": {"consent": SUBSCRIBED}}},
            },
        }
        for email in emails
    ]
    return {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {
                "custom_source": custom_source,
                "profiles": {"data": profiles},
            },
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
        }
    }


def unsubscribe_job(list_id: str, emails: Sequence[str]) -> dict[str, Any]:
    """Bulk Unsubscribe Profiles: email marketing consent ``UNSUBSCRIBED``,
    each profile removed from the list."""
    profiles = [
        {
            "type": "profile",
            "attributes": {
                "email": email,
                "subscriptions": {"email": {"marketing": {"consent": UNSUBSCRIBED}}},
            },
        }
        for email in emails
    ]
    return {
        "data": {
            "type": "profile-subscription-bulk-delete-job",
            "attributes": {"profiles": {"data": profiles}},
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
        }
    }


def list_members(profile_ids: Sequence[str]) -> dict[str, Any]:
    """Remove Profiles from List: the profiles, by Klaviyo id."""
    return {"data": [{"type": "profile", "id": pid} for pid in profile_ids]}


def profile_upsert(
    email: str,
    *,
    external_id: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    properties: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """Create or Update Profile: only the attributes given are sent (one sent
    as ``null`` would clear Klaviyo's value)."""
    given = {
        "external_id": external_id,
        "first_name": first_name,
        "last_name": last_name,
        "properties": dict(properties) if properties else None,
    }
    attributes = {"email": email} | {k: v for k, v in given.items() if v is not None}
    return {"data": {"type": "profile", "attributes": attributes}}


def any_filter(field: str, values: Sequence[str]) -> str:
    """``any(email,["a@x.example","b@y.example"])``: Klaviyo's filter syntax,
    a list of double-quoted strings (``filterable`` says which values fit)."""
    return f"any({field},{json.dumps(list(values), separators=(',', ':'))})"


def filterable(value: str) -> bool:
    """A value a filter can carry as it is: no quote or backslash to escape
    (Klaviyo documents no escape; no normalized email or E.164 phone has one)."""
    return '"' not in value and "\\" not in value


def since_filter(field: str, when: datetime) -> str:
    """``greater-than(updated,2026-11-02T10:00:00Z)``: a date-time, unquoted."""
    stamp = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return f"greater-than({field},{stamp})"


def next_cursor(body: Mapping[str, Any]) -> str | None:
    """``page[cursor]`` of ``links.next``; ``None`` on the last page."""
    links = body.get("links")
    url = links.get("next") if isinstance(links, Mapping) else None
    if not url:
        return None
    cursor = parse_qs(urlsplit(str(url)).query).get("page[cursor]")
    if not cursor:
        raise UpstreamBadResponse(SOURCE, "links.next without page[cursor]")
    return cursor[0]


def resources(body: object, kind: str) -> list[Mapping[str, Any]]:
    """``data`` of a collection document, each a resource of type ``kind``."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list) or not all(_is(item, kind) for item in data):
        raise UpstreamBadResponse(SOURCE, f"not a collection of {kind}")
    return data


def resource(body: object, kind: str) -> Mapping[str, Any]:
    """``data`` of a single-resource document."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not _is(data, kind):
        raise UpstreamBadResponse(SOURCE, f"not a {kind} document")
    assert isinstance(data, Mapping)
    return data


def _is(item: object, kind: str) -> bool:
    return (
        isinstance(item, Mapping)
        and item.get("type") == kind
        and isinstance(item.get("id"), str)
        and isinstance(item.get("attributes"), Mapping)
    )


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UpstreamBadResponse(SOURCE, "unreadable timestamp") from exc
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def customer_from_profile(profile: Mapping[str, Any]) -> ExternalCustomer:
    attributes = profile["attributes"]
    email = _text(attributes.get("email"))
    properties = attributes.get("properties")
    return ExternalCustomer(
        source=SOURCE,
        external_id=profile["id"],
        email=email.lower() if email else None,
        phone=_text(attributes.get("phone_number")),
        first_name=_text(attributes.get("first_name")),
        last_name=_text(attributes.get("last_name")),
        created_at=_time(attributes.get("created")),
        properties={
            "external_id": _text(attributes.get("external_id")),
            **(properties if isinstance(properties, Mapping) else {}),
        },
    )


def list_from_json(item: Mapping[str, Any]) -> EmailList:
    attributes = item["attributes"]
    return EmailList(
        id=item["id"],
        name=_text(attributes.get("name")) or "",
        double_opt_in=attributes.get("opt_in_process") == "double_opt_in",
        created_at=_time(attributes.get("created")),
    )


def opt_out_from_profile(profile: Mapping[str, Any]) -> EmailOptOut | None:
    """What stops email marketing to the profile — its latest suppression,
    else an ``UNSUBSCRIBED`` consent — or ``None`` when nothing does (or it
    has no email)."""
    attributes = profile["attributes"]
    email = _text(attributes.get("email"))
    subscriptions = attributes.get("subscriptions")
    if email is None or not isinstance(subscriptions, Mapping):
        return None
    channel = subscriptions.get("email")
    marketing = channel.get("marketing") if isinstance(channel, Mapping) else None
    if not isinstance(marketing, Mapping):
        return None
    found: list[tuple[datetime, str]] = []
    for item in marketing.get("suppression") or ():
        at = _time(item.get("timestamp")) if isinstance(item, Mapping) else None
        reason = _text(item.get("reason")) if isinstance(item, Mapping) else None
        if at is not None and reason is not None:
            found.append((at, reason))
    if found:
        at, reason = max(found)
        return EmailOptOut(email.lower(), reason, at.astimezone(UTC))
    if marketing.get("consent") == UNSUBSCRIBED:
        at = _time(marketing.get("last_updated")) or _time(
            marketing.get("consent_timestamp")
        )
        if at is not None:
            return EmailOptOut(email.lower(), "UNSUBSCRIBE", at.astimezone(UTC))
    return None
