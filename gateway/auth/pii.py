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

Where the table makes a value depend on the customer's consent (``CONSENTED``:
marketing's email and phone), the consents are read when the field is: the
request's ``Context.consents(customer_id)`` starts a batched load before
anything awaits, so a page of customers costs one statement, not one each, and
the roles that see the value in full never read them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import strawberry
from graphql.pyutils import Path
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from gateway.auth import policy
from gateway.auth.contact import granted_channels
from gateway.auth.policy import PiiKind, Role
from gateway.db import models


@runtime_checkable
class ConsentReader(Protocol):
    """The request context's batched read of a customer's consent rows."""

    def consents(self, customer_id: int) -> Awaitable[Iterable[models.Consent]]: ...


class Pii(FieldExtension):
    def __init__(
        self, kind: PiiKind, *, redacted: Callable[[Any], Any] | None = None
    ) -> None:
        self.kind = kind
        self.redacted = redacted

    def at_once(self, value: Any, context: Any) -> bool:
        """Whether ``value`` is shown as ``context``'s role sees it without
        reading the customer's consents (``shown`` with none granted)."""
        return value is None or not policy.needs_consent(role_of(context), self.kind)

    def shown(
        self,
        value: Any,
        source: Any,
        context: Any,
        field_name: str,
        path: Path | None,
        granted: frozenset[str] = frozenset(),
    ) -> Any:
        """``value`` of the field ``field_name`` of ``source`` at ``path`` as
        ``context``'s role sees it, the customer's consents ``granted``, and
        noted in the audit trail when shown. ``resolve`` answers through it,
        and the executor for plain fields where ``at_once`` holds
        (``gateway.http.fragments``)."""
        shown = policy.apply(role_of(context), self.kind, value, granted)
        if shown is None and value is not None and self.redacted is not None:
            return self.redacted(source)
        customer_id = getattr(source, "customer_id", None)
        audit = getattr(context, "audit", None)
        if shown is not None and audit is not None and isinstance(customer_id, int):
            audit.read(customer_id, field_name, path)
        return shown

    def _shown(self, value: Any, source: Any, info: Info[Any, Any]) -> Any:
        """The value as the caller's role sees it, or an awaitable of it when
        the customer's consents decide (their load started here, at once)."""
        context, name, path = info.context, info.field_name, info.path
        customer_id = getattr(source, "customer_id", None)
        if (
            self.at_once(value, context)
            or not isinstance(customer_id, int)
            or not isinstance(context, ConsentReader)
        ):
            return self.shown(value, source, context, name, path)
        pending = context.consents(customer_id)

        async def consented() -> Any:
            granted = granted_channels(await pending)
            return self.shown(value, source, context, name, path, granted)

        return consented()

    def resolve(
        self,
        next_: Callable[..., Any],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        return self._shown(next_(source, info, **kwargs), source, info)

    async def resolve_async(
        self,
        next_: Callable[..., Awaitable[Any]],
        source: Any,
        info: Info[Any, Any],
        **kwargs: Any,
    ) -> Any:
        shown = self._shown(await next_(source, info, **kwargs), source, info)
        return await shown if inspect.isawaitable(shown) else shown


def role_of(context: Any) -> Role:
    """The role a request's ``context`` reads as (an analyst's without a
    principal)."""
    principal = getattr(context, "principal", None)
    return principal.role if principal is not None else Role.ANALYST


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
