"""Rows of our tables read only to be shown, as named tuples of their columns
rather than ORM instances: ``gateway.loaders.crm.ProfileByCustomerLoader``'s
(a view shows a customer's addresses, tags and consents and changes nothing;
building ORM instances through SQLAlchemy's instrumented ``__init__`` was ~1 %
of its CPU). Writes go through ``gateway.db.models``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

from gateway.db import models


class AddressRow(NamedTuple):
    """An address: ``models.Address``'s columns."""

    id: int
    customer_id: int
    kind: str
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postcode: str | None
    country: str
    is_default: bool


class TagRow(NamedTuple):
    """A tag: ``models.Tag``'s columns."""

    customer_id: int
    name: str
    created_at: datetime


class ConsentRow(NamedTuple):
    """A consent: ``models.Consent``'s columns."""

    customer_id: int
    channel: str
    state: str
    source: str
    changed_at: datetime


class CustomerRow(NamedTuple):
    """A customer: ``models.Customer``'s columns, as ``CustomerByIdLoader``
    reads them (a view's customer; ~1 % of an uncached view's instructions
    went to the ORM's instance)."""

    id: int
    email: str
    phone: str | None
    first_name: str | None
    last_name: str | None
    birth_date: date | None
    locale: str | None
    timezone: str | None
    created_at: datetime
    updated_at: datetime
    merged_into: int | None

    @classmethod
    def columns(cls) -> list[Any]:
        """The table's columns in the tuple's order, for a ``select``."""
        return [getattr(models.Customer, name) for name in cls._fields]


CustomerRecord = models.Customer | CustomerRow
"""A customer as read to be shown: a ``CustomerRow`` by id, an ORM instance
from the other reads (by e-mail, a page, a mutation's)."""
