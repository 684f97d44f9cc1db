"""Rows of our tables read only to be shown, as named tuples of their columns
rather than ORM instances: ``gateway.loaders.crm.ProfileByCustomerLoader``'s
(a view shows a customer's addresses, tags and consents and changes nothing;
building ORM instances through SQLAlchemy's instrumented ``__init__`` was ~1 %
of its CPU). Writes go through ``gateway.db.models``."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


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
