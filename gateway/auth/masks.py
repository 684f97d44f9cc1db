"""What a masked value keeps, for the roles ``gateway.auth.policy``'s table
gives ``MASK``: a URL its scheme, host and path; an upstream id itself unless
it is an email or a phone number. Each keeps what identifies the thing, not
the person."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


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
