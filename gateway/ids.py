"""Global IDs (Relay): ``base64("Customer:42")`` on the wire, ints inside."""

from __future__ import annotations

from strawberry.relay import GlobalID

from gateway.errors import BadUserInput


def decode_global_id(
    value: str, expected: str | None = None, field: str = "id"
) -> tuple[str, int]:
    """``(type name, integer id)``; BAD_USER_INPUT for anything malformed or of
    another type than ``expected``."""
    try:
        gid = GlobalID.from_id(value)
        number = int(gid.node_id)
    except ValueError as exc:
        raise BadUserInput(f"`{field}` is not a valid global ID.", field=field) from exc
    if expected is not None and gid.type_name != expected:
        raise BadUserInput(f"`{field}` is not a {expected} ID.", field=field)
    return gid.type_name, number


def customer_pk(value: str, field: str = "customerId") -> int:
    return decode_global_id(value, "Customer", field)[1]
