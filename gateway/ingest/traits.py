"""Identify traits → our customer profile.

Segment's reserved traits that we keep as customer fields::

    email                      customers.email (normalized)
    phone                      customers.phone (E.164; region from address.country)
    firstName / first_name     customers.first_name
    lastName / last_name       customers.last_name
    name                       split into first and last name when neither is sent
    birthday                   customers.birth_date (ISO date or date-time)
    address {street, city, state, postalCode, country}
                               the customer's default shipping address

``id`` and ``userId`` are placements of the userId (``placements``), not
preferences; every other trait becomes a preference (key → value, values
stringified, nested values as JSON). A trait that fails its check is
reported as a warning and left out; the rest of the message is still
applied, as Segment does not reject a message for a trait.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import orjson

from gateway.errors import BadUserInput
from gateway.validation import (
    clean_text,
    normalize_country,
    normalize_email,
    normalize_phone,
)

MAX_PREFERENCES = 50
"""Custom traits kept per message; more is most likely a misuse of identify."""
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 500

_RESERVED = frozenset(
    {
        "email",
        "phone",
        "firstName",
        "first_name",
        "lastName",
        "last_name",
        "name",
        "birthday",
        "address",
        "id",
        "userId",
    }
)


@dataclass(frozen=True, slots=True)
class TraitWarning:
    """A trait (or id) of a stored message that was not applied, and why."""

    position: int
    """Index of the message in the list given to ``store_messages``."""
    field: str
    reason: str
    from_message: bool = False
    """Whether the message alone decides it (an invalid phone), whatever is
    stored. Only such warnings are told to the public write key's sender:
    the others (an email that belongs to someone, a stored value kept) would
    say what the database holds to anyone with the key."""


@dataclass(frozen=True, slots=True)
class AddressTraits:
    country: str
    line1: str | None
    city: str | None
    region: str | None
    postcode: str | None


@dataclass(slots=True)
class Profile:
    email: str | None = None
    fields: dict[str, object] = field(default_factory=dict)
    """Customer attributes to set (``phone``, ``first_name``, …)."""
    address: AddressTraits | None = None
    preferences: dict[str, str] = field(default_factory=dict)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """(field, reason) for each trait left out."""


def read_traits(traits: Mapping[str, object]) -> Profile:
    profile = Profile()
    steps: list[tuple[str, Callable[[Mapping[str, object], Profile], None]]] = [
        ("email", _email),
        ("address", _address),
        ("phone", _phone),
        ("name", _names),
        ("birthday", _birthday),
    ]
    for name, step in steps:
        try:
            step(traits, profile)
        except BadUserInput as exc:
            profile.warnings.append((f"traits.{name}", exc.message))
    _preferences(traits, profile)
    return profile


def _string(traits: Mapping[str, object], *keys: str) -> str | None:
    for key in keys:
        value = traits.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise BadUserInput(f"`{key}` must be a string.", field=key)
        return value
    return None


def _email(traits: Mapping[str, object], profile: Profile) -> None:
    value = _string(traits, "email")
    if value is not None:
        profile.email = normalize_email(value)


def _address(traits: Mapping[str, object], profile: Profile) -> None:
    value = traits.get("address")
    if value is None:
        return
    if not isinstance(value, dict):
        raise BadUserInput("`address` must be an object.", field="address")
    country = _string(value, "country")
    if country is None:
        raise BadUserInput("`address.country` is required.", field="address")

    def part(key: str, alias: str, length: int) -> str | None:
        text = _string(value, key, alias)
        return clean_text(text, f"address.{key}", length) or None if text else None

    profile.address = AddressTraits(
        country=normalize_country(country, field="address.country"),
        line1=part("street", "street", 200),
        city=part("city", "city", 100),
        region=part("state", "state", 100),
        postcode=part("postalCode", "postal_code", 20),
    )


def _phone(traits: Mapping[str, object], profile: Profile) -> None:
    value = _string(traits, "phone")
    if value is not None:
        region = profile.address.country if profile.address else None
        profile.fields["phone"] = normalize_phone(value, region)


def _names(traits: Mapping[str, object], profile: Profile) -> None:
    first = _string(traits, "firstName", "first_name")
    last = _string(traits, "lastName", "last_name")
    full = _string(traits, "name")
    if first is None and last is None and full is not None:
        first, _, last = full.strip().partition(" ")
    for attribute, value in (("first_name", first), ("last_name", last)):
        if value and value.strip():
            profile.fields[attribute] = clean_text(value, attribute, 100)


def _birthday(traits: Mapping[str, object], profile: Profile) -> None:
    value = _string(traits, "birthday")
    if value is None:
        return
    try:
        day = datetime.fromisoformat(value).date()
    except ValueError as exc:
        raise BadUserInput(
            f"Invalid birthday: {value!r} (an ISO 8601 date).", field="birthday"
        ) from exc
    if not date(1900, 1, 1) <= day <= date.today():
        raise BadUserInput("Birthday must be between 1900 and today.", field="birthday")
    profile.fields["birth_date"] = day


def _preferences(traits: Mapping[str, object], profile: Profile) -> None:
    custom = [(k, v) for k, v in traits.items() if k not in _RESERVED and v is not None]
    for key, value in custom[:MAX_PREFERENCES]:
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            reason = f"trait names must have 1 to {MAX_KEY_LENGTH} characters"
        elif len(text) > MAX_VALUE_LENGTH:
            reason = f"trait values are limited to {MAX_VALUE_LENGTH} characters"
        elif "\x00" in key or "\x00" in text:
            reason = "trait contains a NUL character"
        else:
            profile.preferences[key] = text
            continue
        profile.warnings.append((f"traits.{key[:MAX_KEY_LENGTH]}", reason))
    if len(custom) > MAX_PREFERENCES:
        profile.warnings.append(
            ("traits", f"only the first {MAX_PREFERENCES} custom traits are kept")
        )
