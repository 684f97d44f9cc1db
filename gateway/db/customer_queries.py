"""The customer list: search, filters, orderings and keyset pages in one query."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    exists,
    extract,
    false,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db import models
from gateway.errors import BadUserInput
from gateway.relay.pagination import Cursor, Page


class CustomerOrder(enum.Enum):
    CREATED_AT_DESC = "created_at_desc"
    CREATED_AT_ASC = "created_at_asc"
    LAST_NAME_ASC = "last_name_asc"
    EMAIL_ASC = "email_asc"


@dataclass(frozen=True, slots=True)
class CustomerFilterSpec:
    country: str | None = None
    region: str | None = None
    city: str | None = None
    tags_any: tuple[str, ...] | None = None
    """``None``: any tags; empty: no customer has one of none."""
    consent_channel: str | None = None
    consent_state: str | None = None
    birth_month: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    has_phone: bool | None = None


@dataclass(frozen=True, slots=True)
class CustomerPageRequest:
    first: int
    after: str | None = None
    search: str | None = None
    searched: frozenset[str] = frozenset()
    """What ``search`` matches: ``email``, ``name``, ``phone`` (the fields the
    caller's role sees in full, ``policy.searched``); none matches nothing."""
    filter: CustomerFilterSpec = CustomerFilterSpec()
    order: CustomerOrder = CustomerOrder.CREATED_AT_DESC


def _sort_columns(order: CustomerOrder) -> tuple[SQLColumnExpression[Any], bool]:
    c = models.Customer
    if order in (CustomerOrder.CREATED_AT_DESC, CustomerOrder.CREATED_AT_ASC):
        return c.created_at, order is CustomerOrder.CREATED_AT_DESC
    if order is CustomerOrder.LAST_NAME_ASC:
        return func.coalesce(c.last_name, ""), False
    return c.email, False


def sort_key(customer: models.Customer, order: CustomerOrder) -> tuple[str, int]:
    if order in (CustomerOrder.CREATED_AT_DESC, CustomerOrder.CREATED_AT_ASC):
        return (customer.created_at.isoformat(), customer.id)
    if order is CustomerOrder.LAST_NAME_ASC:
        return (customer.last_name or "", customer.id)
    return (customer.email, customer.id)


CURSORS: dict[CustomerOrder, Cursor[tuple[str, int]]] = {
    order: Cursor(f"customers:{order.value}", (str, int)) for order in CustomerOrder
}


def customer_cursor(customer: models.Customer, order: CustomerOrder) -> str:
    return CURSORS[order].encode(sort_key(customer, order))


def _after_key(request: CustomerPageRequest) -> tuple[object, int] | None:
    if request.after is None:
        return None
    text, customer_id = CURSORS[request.order].decode(request.after)
    value: object = text
    if request.order in (CustomerOrder.CREATED_AT_DESC, CustomerOrder.CREATED_AT_ASC):
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise BadUserInput("The cursor is not valid.", argument="after") from exc
    return value, customer_id


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(term: str, searched: frozenset[str]) -> ColumnElement[bool]:
    c = models.Customer
    pattern = _like(term)
    terms: list[ColumnElement[bool]] = [false()]
    if "email" in searched:
        terms.append(c.email.like(pattern, escape="\\"))
    if "name" in searched:
        full_name = func.lower(
            func.coalesce(c.first_name, "") + " " + func.coalesce(c.last_name, "")
        )
        terms.append(full_name.like(pattern, escape="\\"))
    if "phone" in searched:
        terms.append(c.phone == term)
    return or_(*terms)


def _conditions(request: CustomerPageRequest) -> list[ColumnElement[bool]]:
    c = models.Customer
    f = request.filter
    where: list[ColumnElement[bool]] = [models.not_merged(c.id)]  # resolve to others
    if request.search:
        where.append(_search(request.search.strip(), request.searched))
    address_terms = [
        (models.Address.country, f.country and f.country.upper()),
        (models.Address.region, f.region),
        (models.Address.city, f.city),
    ]
    address_where = [col == value for col, value in address_terms if value]
    if address_where:
        where.append(
            exists().where(models.Address.customer_id == c.id, and_(*address_where))
        )
    if f.tags_any is not None:
        where.append(
            exists().where(
                models.Tag.customer_id == c.id, models.Tag.name.in_(f.tags_any)
            )
        )
    if f.consent_channel:
        consent = [
            models.Consent.customer_id == c.id,
            models.Consent.channel == f.consent_channel,
        ]
        if f.consent_state:
            consent.append(models.Consent.state == f.consent_state)
        where.append(exists().where(*consent))
    if f.birth_month is not None:
        where.append(extract("month", c.birth_date) == f.birth_month)
    if f.created_after is not None:
        where.append(c.created_at >= f.created_after)
    if f.created_before is not None:
        where.append(c.created_at < f.created_before)
    if f.has_phone is not None:
        where.append(c.phone.is_not(None) if f.has_phone else c.phone.is_(None))
    return where


def customer_query(request: CustomerPageRequest) -> Select[models.Customer]:
    c = models.Customer
    column, descending = _sort_columns(request.order)
    statement = select(c).where(*_conditions(request))
    after = _after_key(request)
    if after is not None:
        key, row = tuple_(column, c.id), tuple_(*after)
        statement = statement.where(key < row if descending else key > row)
    if descending:
        return statement.order_by(column.desc(), c.id.desc())
    return statement.order_by(column.asc(), c.id.asc())


async def customer_page(
    session: AsyncSession, request: CustomerPageRequest
) -> Page[models.Customer]:
    statement = customer_query(request).limit(request.first + 1)
    rows = list((await session.scalars(statement)).all())
    return Page.from_rows(rows, request.first)


async def customer_count(session: AsyncSession, request: CustomerPageRequest) -> int:
    statement = (
        select(func.count()).select_from(models.Customer).where(*_conditions(request))
    )
    return int((await session.execute(statement)).scalar_one())
