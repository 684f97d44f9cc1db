"""How ``discountCodeBasicCreate`` checks its ``DiscountCodeBasicInput``: every
problem at once, each a ``DiscountUserError`` naming the input field by its
path from the argument, with a ``DiscountErrorCode``::

    {"field": ["basicCodeDiscount", "code"], "code": "TAKEN",
     "message": "Code must be unique. Please try a different code.",
     "extraInfo": null}

What is checked, and where it comes from:

- required when creating (the input type's description in the 2025-07
  schema): ``title``, ``code``, ``startsAt``, ``customerSelection`` (the
  deprecated twin of ``context``), ``customerGets`` with a ``value`` and
  ``items`` — ``BLANK``;
- ``title`` and ``code`` at most 255 characters — ``TOO_LONG``; a code is
  unique in the shop, whatever its case (``codeDiscountNodeByCode`` finds codes
  "regardless of how customers enter the code") — ``TAKEN``;
- ``endsAt`` after ``startsAt`` — ``END_DATE_BEFORE_START_DATE``;
- ``percentage`` "must be between 0.00 - 1.00" (``DiscountCustomerGetsValueInput``)
  — ``VALUE_OUTSIDE_RANGE``; a fixed ``amount`` above zero — ``GREATER_THAN``;
- ``discountOnQuantity`` ("BXGY" only, the value input's description) —
  ``INVALID``; one kind of value, one kind of items, one kind of customers —
  ``TOO_MANY_ARGUMENTS``; both minimums — ``MINIMUM_SUBTOTAL_AND_QUANTITY_…``;
  neither one-time purchases nor subscriptions — ``APPLIES_ON_NOTHING``;
- customers, collections, products and variants that do not exist in the shop
  — ``INVALID`` at the list's path; ``usageLimit`` below 1 — ``GREATER_THAN``.

The field paths and codes follow what Shopify answers and what other
simulators of this mutation record (``["basicCodeDiscount", "code"]`` with
``TAKEN``); the message texts are Shopify's style, not verified word for word,
so nothing should read them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError

Record = dict[str, Any]
ARGUMENT = "basicCodeDiscount"
MAX_TEXT = 255


class Problems:
    """The ``DiscountUserError``s found so far."""

    def __init__(self) -> None:
        self.errors: list[Record] = []

    def add(self, path: list[str], code: str, message: str) -> None:
        self.errors.append(
            {
                "field": [ARGUMENT, *path],
                "code": code,
                "message": message,
                "extraInfo": None,
            }
        )


def moment(value: object, name: str) -> datetime | None:
    """A ``DateTime`` input; one that is not ISO 8601 is refused before the
    mutation runs, as Shopify's scalar coercion does."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise GraphQLError(
            f"Variable $basicCodeDiscount of type DiscountCodeBasicInput! was "
            f"provided invalid value for {name} (invalid DateTime)"
        ) from exc
    if parsed.tzinfo is None:
        raise GraphQLError(f"{name} needs a time zone")
    return parsed


def check(
    given: Record,
    *,
    taken: Callable[[str], bool],
    exists: Callable[[str, str], bool],
) -> list[Record]:
    """Every problem of ``given``; ``taken(code)`` says whether a discount has
    the code, ``exists(typename, gid)`` whether the shop has that record."""
    problems = Problems()
    for name, label in (("title", "Title"), ("code", "Code")):
        text: str = given.get(name) or ""
        if not text.strip():
            problems.add([name], "BLANK", f"{label} can't be blank")
        elif len(text) > MAX_TEXT:
            problems.add(
                [name], "TOO_LONG", f"{label} is too long (maximum is 255 characters)"
            )
    code: str = given.get("code") or ""
    if code.strip() and len(code) <= MAX_TEXT and taken(code):
        problems.add(
            ["code"], "TAKEN", "Code must be unique. Please try a different code."
        )
    starts = moment(given.get("startsAt"), "startsAt")
    ends = moment(given.get("endsAt"), "endsAt")
    if starts is None:
        problems.add(["startsAt"], "BLANK", "Starts at can't be blank")
    elif ends is not None and ends <= starts:
        problems.add(
            ["endsAt"],
            "END_DATE_BEFORE_START_DATE",
            "Ends at needs to be after starts_at",
        )
    usage = given.get("usageLimit")
    if usage is not None and usage < 1:
        problems.add(
            ["usageLimit"], "GREATER_THAN", "Usage limit must be greater than 0"
        )
    minimum = given.get("minimumRequirement") or {}
    if minimum.get("quantity") and minimum.get("subtotal"):
        problems.add(
            ["minimumRequirement"],
            "MINIMUM_SUBTOTAL_AND_QUANTITY_RANGE_BOTH_PRESENT",
            "Minimum requirement can have a subtotal or a quantity, not both",
        )
    _customers(given.get("customerSelection"), problems, exists)
    _gets(given.get("customerGets"), problems, exists)
    return problems.errors


def _customers(
    selection: Record | None,
    problems: Problems,
    exists: Callable[[str, str], bool],
) -> None:
    path = ["customerSelection"]
    chosen = [
        key
        for key in ("all", "customers", "customerSegments")
        if (selection or {}).get(key)
    ]
    if not chosen:
        problems.add(path, "BLANK", "Customer selection can't be blank")
        return
    if len(chosen) > 1:
        problems.add(
            path, "TOO_MANY_ARGUMENTS", "Only one of all, customers or segments"
        )
    assert selection is not None
    for key, typename in (("customers", "Customer"), ("customerSegments", "Segment")):
        for gid in (selection.get(key) or {}).get("add") or ():
            if not exists(typename, gid):
                problems.add([*path, key, "add"], "INVALID", f"{typename} is invalid")
                break


def _gets(
    gets: Record | None, problems: Problems, exists: Callable[[str, str], bool]
) -> None:
    path = ["customerGets"]
    if not gets:
        problems.add(path, "BLANK", "Customer gets can't be blank")
        return
    if gets.get("appliesOnOneTimePurchase") is False and (
        gets.get("appliesOnSubscription") is False
    ):
        problems.add(
            path, "APPLIES_ON_NOTHING", "Applies on one-time purchase or subscription"
        )
    _value(gets.get("value"), problems)
    _items(gets.get("items"), problems, exists)


def _value(value: Record | None, problems: Problems) -> None:
    path = ["customerGets", "value"]
    if (value or {}).get("discountOnQuantity") is not None:
        problems.add(
            [*path, "discountOnQuantity"],
            "INVALID",
            "Discount on quantity is only for Buy X Get Y discounts",
        )
    kinds = [
        k for k in ("percentage", "discountAmount") if (value or {}).get(k) is not None
    ]
    if value is None or not kinds:
        problems.add(path, "BLANK", "Value can't be blank")
        return
    if len(kinds) > 1:
        problems.add(path, "TOO_MANY_ARGUMENTS", "Only one of percentage or amount")
    percentage = value.get("percentage")
    if percentage is not None and not 0.0 <= percentage <= 1.0:
        problems.add(
            [*path, "percentage"],
            "VALUE_OUTSIDE_RANGE",
            "Value must be between 0.0 and 1.0",
        )
    amount = (value.get("discountAmount") or {}).get("amount")
    if amount is not None and _decimal(amount) <= 0:
        problems.add(
            [*path, "discountAmount", "amount"],
            "GREATER_THAN",
            "Amount must be greater than 0",
        )


def _items(
    items: Record | None, problems: Problems, exists: Callable[[str, str], bool]
) -> None:
    path = ["customerGets", "items"]
    chosen = [k for k in ("all", "collections", "products") if (items or {}).get(k)]
    if not chosen:
        problems.add(path, "BLANK", "Items can't be blank")
        return
    if len(chosen) > 1:
        problems.add(
            path, "TOO_MANY_ARGUMENTS", "Only one of all, collections or products"
        )
    assert items is not None
    lists = (
        ("collections", "add", "Collection"),
        ("products", "productsToAdd", "Product"),
        ("products", "productVariantsToAdd", "ProductVariant"),
    )
    for key, name, typename in lists:
        for gid in (items.get(key) or {}).get(name) or ():
            if not exists(typename, gid):
                problems.add([*path, key, name], "INVALID", f"{typename} is invalid")
                break


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)
