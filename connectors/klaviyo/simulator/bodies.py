"""Request documents read as Klaviyo reads them: a JSON:API document of the
right ``type``, the attributes the OpenAPI spec requires, the documented
batch sizes — or a 400 ``invalid`` whose ``source.pointer`` names the member
at fault (``/data/attributes/profiles/data/3/attributes/email``).

What is checked is what the spec's schemas (revision 2026-07-15) say of the
bodies the simulator serves: required members, enums (``SUBSCRIBED``,
``UNSUBSCRIBED``, the resource types), ``consented_at`` only with
``historical_import``, email addresses and E.164 phone numbers by form, the
maxima of the operations' descriptions (1,000 profiles to subscribe, 100 to
unsubscribe, 1,000 to remove from a list).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from connectors.klaviyo.limits import (
    LIST_MEMBERS_BATCH,
    SUBSCRIBE_BATCH,
    UNSUBSCRIBE_BATCH,
)
from connectors.klaviyo.simulator.answers import ApiError, invalid

EMAIL = re.compile(r"^[^@\s\"]+@[^@\s\"]+\.[A-Za-z]{2,}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True, slots=True)
class Job:
    """A subscribe or unsubscribe job as sent."""

    list_id: str | None
    profiles: list[dict[str, Any]]
    """Each profile's ``email`` (lower-case) and ``phone_number``."""
    custom_source: str | None = None


def parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(
            400, "parse_error", "Malformed request.", "JSON parse error."
        ) from None


def _object(value: Any, pointer: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("Expected an object.", pointer)
    return value


def _data(body: Any, kind: str) -> dict[str, Any]:
    data = _object(_object(body, "/").get("data"), "/data")
    if data.get("type") != kind:
        raise invalid(f"The type must be '{kind}'.", "/data/type")
    return data


def _text(value: Any, pointer: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid("Expected a string.", pointer)
    return value


def contact(attributes: dict[str, Any], pointer: str) -> dict[str, Any]:
    """``email`` and ``phone_number``, checked by form."""
    email = _text(attributes.get("email"), f"{pointer}/email")
    if email is not None and not EMAIL.match(email):
        raise invalid(f"'{email}' is not a valid email address.", f"{pointer}/email")
    phone = _text(attributes.get("phone_number"), f"{pointer}/phone_number")
    if phone is not None and not E164.match(phone):
        raise invalid(
            "Phone numbers must be in E.164 format.", f"{pointer}/phone_number"
        )
    return {"email": email.lower() if email else None, "phone_number": phone}


def _list_id(data: dict[str, Any]) -> str | None:
    relationships = data.get("relationships")
    if relationships is None:
        return None
    related = _object(
        _object(
            _object(relationships, "/data/relationships").get("list"),
            "/data/relationships/list",
        ).get("data"),
        "/data/relationships/list/data",
    )
    if related.get("type") != "list":
        raise invalid("The type must be 'list'.", "/data/relationships/list/data/type")
    if not isinstance(related.get("id"), str):
        raise invalid("Expected a string.", "/data/relationships/list/data/id")
    return str(related["id"])


def _profiles(attributes: dict[str, Any], most: int) -> list[Any]:
    holder = _object(attributes.get("profiles"), "/data/attributes/profiles")
    profiles = holder.get("data")
    if not isinstance(profiles, list) or not profiles:
        raise invalid(
            "At least one profile is required.", "/data/attributes/profiles/data"
        )
    if len(profiles) > most:
        raise invalid(
            f"A maximum of {most} profiles may be sent.",
            "/data/attributes/profiles/data",
        )
    return profiles


def _consent(
    subscriptions: dict[str, Any], pointer: str, expected: str, historical: bool
) -> None:
    email = subscriptions.get("email")
    if email is None:
        return
    marketing = _object(
        _object(email, f"{pointer}/email").get("marketing"),
        f"{pointer}/email/marketing",
    )
    if marketing.get("consent") != expected:
        raise invalid(
            f"'consent' must be '{expected}'.", f"{pointer}/email/marketing/consent"
        )
    if marketing.get("consented_at") is not None and not historical:
        raise invalid(
            "'consented_at' may only be provided for a historical import.",
            f"{pointer}/email/marketing/consented_at",
        )


def _job(body: Any, kind: str, most: int, expected: str) -> Job:
    data = _data(body, kind)
    attributes = _object(data.get("attributes"), "/data/attributes")
    historical = attributes.get("historical_import") is True
    entries = []
    for index, item in enumerate(_profiles(attributes, most)):
        pointer = f"/data/attributes/profiles/data/{index}"
        profile = _object(item, pointer)
        if profile.get("type") != "profile":
            raise invalid("The type must be 'profile'.", f"{pointer}/type")
        fields = _object(profile.get("attributes"), f"{pointer}/attributes")
        subscriptions = _object(
            fields.get("subscriptions"), f"{pointer}/attributes/subscriptions"
        )
        _consent(
            subscriptions, f"{pointer}/attributes/subscriptions", expected, historical
        )
        found = contact(fields, f"{pointer}/attributes")
        if not found["email"] and not found["phone_number"]:
            raise invalid(
                "Either an email or a phone number is required.",
                f"{pointer}/attributes",
            )
        entries.append(found)
    source = _text(attributes.get("custom_source"), "/data/attributes/custom_source")
    return Job(_list_id(data), entries, source)


def subscribe_job(body: Any) -> Job:
    return _job(
        body, "profile-subscription-bulk-create-job", SUBSCRIBE_BATCH, "SUBSCRIBED"
    )


def unsubscribe_job(body: Any) -> Job:
    return _job(
        body, "profile-subscription-bulk-delete-job", UNSUBSCRIBE_BATCH, "UNSUBSCRIBED"
    )


def list_members(body: Any) -> list[str]:
    data = _object(body, "/").get("data")
    if not isinstance(data, list) or not data:
        raise invalid("At least one profile is required.", "/data")
    if len(data) > LIST_MEMBERS_BATCH:
        raise invalid(
            f"A maximum of {LIST_MEMBERS_BATCH} profiles may be sent.", "/data"
        )
    ids = []
    for index, item in enumerate(data):
        member = _object(item, f"/data/{index}")
        if member.get("type") != "profile":
            raise invalid("The type must be 'profile'.", f"/data/{index}/type")
        if not isinstance(member.get("id"), str):
            raise invalid("Expected a string.", f"/data/{index}/id")
        ids.append(str(member["id"]))
    return ids


def profile(body: Any) -> tuple[dict[str, Any], str | None]:
    """A profile's attributes as sent (``null`` kept: it clears), and its id."""
    data = _data(body, "profile")
    attributes = _object(data.get("attributes"), "/data/attributes")
    found = dict(attributes)
    for name, value in contact(attributes, "/data/attributes").items():
        if name in attributes:
            found[name] = value
    for name in ("external_id", "first_name", "last_name"):
        _text(attributes.get(name), f"/data/attributes/{name}")
    if "properties" in attributes and attributes["properties"] is not None:
        _object(attributes["properties"], "/data/attributes/properties")
    known = {
        "email",
        "phone_number",
        "external_id",
        "first_name",
        "last_name",
        "properties",
    }
    kept = {k: v for k, v in found.items() if k in known}
    if not any(
        kept.get(k) for k in ("email", "phone_number", "external_id")
    ) and not data.get("id"):
        raise invalid(
            "One of email, phone_number or external_id is required.", "/data/attributes"
        )
    return kept, _text(data.get("id"), "/data/id")
