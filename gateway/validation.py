"""Normalizing and validating what clients send: emails, phones, countries,
locales, time zones, text and names. Each function returns the canonical form
or raises ``BadUserInput`` naming the field."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from gateway.errors import BadUserInput

_LOCALE = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")


MAX_EMAIL_LOCAL_OCTETS = 64
MAX_EMAIL_OCTETS = 254
"""RFC 5321's limits (4.5.3.1.1, and 4.5.3.1.3 with RFC 3696 errata 1690),
counted in UTF-8 octets of the stored (normalized, lower-cased) address."""


def normalize_email(value: str, field: str = "email") -> str:
    """The one email check of every entry point (mutations, look-ups, ingest,
    webhooks, sync): syntax by ``email_validator``, which checks the local
    part's length only in its strict mode, then RFC 5321's limits ourselves."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadUserInput(f"Invalid email address: {exc}", field=field) from exc
    email = result.normalized.lower()
    local = email.rpartition("@")[0]
    if len(local.encode()) > MAX_EMAIL_LOCAL_OCTETS:
        raise BadUserInput(
            "Invalid email address: the part before the @-sign is longer than "
            f"{MAX_EMAIL_LOCAL_OCTETS} bytes.",
            field=field,
        )
    if len(email.encode()) > MAX_EMAIL_OCTETS:
        raise BadUserInput(
            f"Invalid email address: longer than {MAX_EMAIL_OCTETS} bytes.",
            field=field,
        )
    return email


def normalize_phone(value: str, region: str | None = None, field: str = "phone") -> str:
    """E.164; a number without ``+`` needs a region (the address country).
    The error names the field, never the value: it may be a phone number
    (one digit off), and errors travel further than the data (an upstream's
    webhook delivery log, an automation run's failure)."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise BadUserInput("Invalid phone number.", field=field) from exc
    if not phonenumbers.is_valid_number(number):
        raise BadUserInput("Invalid phone number.", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_country(value: str, field: str = "country") -> str:
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise BadUserInput(
            f"Unknown country code: {value!r} (ISO 3166-1 alpha-2).", field=field
        )
    return code


def normalize_locale(value: str, field: str = "locale") -> str:
    if not _LOCALE.match(value):
        raise BadUserInput(
            f"Invalid locale: {value!r} (a BCP 47 tag such as en-US).", field=field
        )
    return value


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def normalize_timezone(value: str, field: str = "timezone") -> str:
    if value not in _zones():
        raise BadUserInput(f"Unknown time zone: {value!r} (an IANA name).", field=field)
    return value


def clean_text(
    value: str,
    field: str,
    max_length: int,
    *,
    required: bool = True,
    subject: str | None = None,
) -> str:
    """``value`` without surrounding spaces, refused when empty (if
    ``required``) or longer than ``max_length``; the refusal names
    ``subject``, by default the field (a list's item: "A tag in `tags`")."""
    text = value.strip()
    named = subject or f"`{field}`"
    if required and not text:
        raise BadUserInput(f"{named} must not be empty.", field=field)
    if len(text) > max_length:
        raise BadUserInput(
            f"{named} is longer than {max_length} characters.", field=field
        )
    return text


def clean_name(
    value: str, field: str, max_length: int, *, subject: str | None = None
) -> str:
    """A name (of a key, a segment, a tag, a colleague): ``clean_text``, and
    only printable characters with plain spaces. Refused: bidirectional
    controls (U+202E makes ``invoice_exe.pdf`` read ``invoice_fdp.exe``),
    zero-width and other format characters (``help\u200bdesk`` would pass for
    ``helpdesk``), line and paragraph separators, other spaces, private-use
    and unassigned code points — Python's ``str.isprintable``. Free text
    (notes, titles) keeps them: right-to-left writing needs its marks there."""
    text = clean_text(value, field, max_length, subject=subject)
    if not text.isprintable():
        raise BadUserInput(
            f"{subject or f'`{field}`'} must hold printable characters only: no"
            " bidirectional controls, invisible characters or line breaks.",
            field=field,
        )
    return text
