"""Global IDs (Relay): ``base64("Customer:42")`` on the wire, ints inside.

Every table's key is a PostgreSQL ``BIGINT``; an id whose number is not one
(negative, ``2**63`` or more, ``"1e5"``, ``"٣"``, ``"+7"``) names no row and is
refused here, before any query: PostgreSQL cannot even compare a larger number
with a key (asyncpg raises ``OverflowError``, which was a 500).
"""

from __future__ import annotations

import re

from strawberry.relay import GlobalID

from gateway.errors import BadUserInput

MAX_KEY = 2**63 - 1
"""The largest ``BIGINT``."""
_KEY = re.compile(r"[1-9][0-9]{0,18}")
"""A key as we write it: decimal ASCII digits, no sign, no leading zero."""
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
"""An id as we write it: base64's alphabet, then its padding, nothing else
(the decoder skips what is not base64: a space, a newline, junk after the
padding named a customer all the same)."""


def decode_global_id(
    value: str, expected: str | None = None, field: str = "id"
) -> tuple[str, int]:
    """``(type name, integer id)``; BAD_USER_INPUT for anything malformed, a
    number no key can have, or another type than ``expected``. The base64's
    ``=`` padding may be left out, as clients that speak base64url do;
    anything around or inside it that is not base64 is refused."""
    if not _BASE64.fullmatch(value):
        raise BadUserInput(f"`{field}` is not a valid global ID.", field=field)
    if "=" not in value:
        value += "=" * (-len(value) % 4)
    try:
        gid = GlobalID.from_id(value)
    except ValueError as exc:
        raise BadUserInput(f"`{field}` is not a valid global ID.", field=field) from exc
    if not _KEY.fullmatch(gid.node_id) or int(gid.node_id) > MAX_KEY:
        raise BadUserInput(f"`{field}` is not a valid global ID.", field=field)
    if expected is not None and gid.type_name != expected:
        raise BadUserInput(f"`{field}` is not a {expected} ID.", field=field)
    return gid.type_name, int(gid.node_id)


def customer_pk(value: str, field: str = "customerId") -> int:
    return decode_global_id(value, "Customer", field)[1]
