"""Global IDs (Relay): ``base64("Customer:42")`` on the wire, ints inside.

Every table's key is a PostgreSQL ``BIGINT``; an id whose number is not one
(negative, ``2**63`` or more, ``"1e5"``, ``"٣"``, ``"+7"``) names no row and is
refused here, before any query: PostgreSQL cannot even compare a larger number
with a key (asyncpg raises ``OverflowError``, which was a 500).
"""

from __future__ import annotations

import base64
import re

from gateway.errors import BadUserInput

MAX_KEY = 2**63 - 1
"""The largest ``BIGINT``."""
_KEY = re.compile(r"[1-9][0-9]{0,18}")
"""A key as we write it: decimal ASCII digits, no sign, no leading zero."""


def strict_b64decode(value: str, *, url_safe: bool = False) -> bytes:
    """``value``'s bytes when it is base64 as an encoder writes it, its ``=``
    padding optional; ``ValueError`` for any other spelling of them, each of
    which the decoder reads as the same bytes: characters it skips (a space, a
    newline, junk after the padding), padding where none belongs or too much,
    and a last character that differs only in bits the bytes do not use —
    whatever does not come back from encoding the bytes again.
    Global ids are standard base64, cursors url-safe (``url_safe``)."""
    bare = value.rstrip("=")
    padded = bare + "=" * (-len(bare) % 4)
    # binascii.Error and a non-ASCII str's error are ValueErrors
    raw = (base64.urlsafe_b64decode if url_safe else base64.b64decode)(padded)
    written = (base64.urlsafe_b64encode if url_safe else base64.b64encode)(raw)
    if not raw or value not in (written.decode(), written.decode().rstrip("=")):
        raise ValueError("not base64 as written")
    return raw


def decode_global_id(
    value: str, expected: str | None = None, field: str = "id"
) -> tuple[str, int]:
    """``(type name, integer id)``; BAD_USER_INPUT for anything malformed, a
    number no key can have, or another type than ``expected``. The base64's
    ``=`` padding may be left out, as clients that speak base64url do; any
    other spelling of its bytes is refused (``strict_b64decode``)."""
    try:
        type_name, colon, node_id = strict_b64decode(value).decode().partition(":")
    except ValueError as exc:
        raise BadUserInput(f"`{field}` is not a valid global ID.", field=field) from exc
    if not colon or not _KEY.fullmatch(node_id) or int(node_id) > MAX_KEY:
        raise BadUserInput(f"`{field}` is not a valid global ID.", field=field)
    if expected is not None and type_name != expected:
        raise BadUserInput(f"`{field}` is not a {expected} ID.", field=field)
    return type_name, int(node_id)


def customer_pk(value: str, field: str = "customerId") -> int:
    return decode_global_id(value, "Customer", field)[1]
