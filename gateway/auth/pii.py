"""Personal-data fields: ``pii_field(PiiKind.EMAIL)`` declares the kind; the
``Pii`` field extension applies the caller's treatment from
``gateway.auth.policy`` and notes in the request's audit trail which customer's
personal data was shown.

The policy sits on the type's field, so it holds however the object was
reached (``customer``, ``node``, lists, segment members, the timeline, a
subscription, the embed schema). Every type with such a field carries the
``customer_id`` whose data it holds (a ``strawberry.Private`` attribute, not in
the schema), so each read is audited against that customer. A hidden value is
null, so such a field is nullable — unless it names ``redacted``, a value that
reveals nothing (``displayName``'s ``Customer <id>``, a summary without the
quoted text).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from gateway.auth import policy
from gateway.auth.policy import PiiKind, Role


class Pii(FieldExtension):
    def __init__(
        self, kind: PiiKind, *, redacted: Callable[[Any], Any] | None = None
    ) -> None:
        self.kind = kind
        self.redacted = redacted

    def _apply(self, value: Any, source: Any, info: Info[Any, Any]) -> Any:
        context = info.context
        principal = getattr(context, "principal", None)
        role = principal.role if principal is not None else Role.ANALYST
        shown = policy.apply(role, self.kind, value)
        if shown is None and value is not None and self.redacted is not None:
            return self.redacted(source)
        customer_id = getattr(source, "customer_id", None)
        audit = getattr(context, "audit", None)
        if shown is not None and audit is not None and isinstance(customer_id, int):
            audit.read(customer_id, info.field_name)
        return shown

    def resolve(
        self,
        next_: Callable[..., Any],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        return self._apply(next_(source, info, **kwargs), source, info)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        return self._apply(await next_(source, info, **kwargs), source, info)


def pii_field(
    kind: PiiKind,
    *,
    description: str | None = None,
    redacted: Callable[[Any], Any] | None = None,
) -> Any:
    """A plain (attribute) field holding personal data of ``kind``."""
    return strawberry.field(
        extensions=[Pii(kind, redacted=redacted)], description=description
    )
