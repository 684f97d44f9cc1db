"""Customer reads and writes: arguments → loaders (reads), ``services.crm``
(writes, each announced after its commit). Arguments arrive as plain values
and dataclasses (``CustomerFilterSpec``, ``NewCustomer``, a mapping of
changes): the schema layer converts its GraphQL inputs, and the checks here
raise the same coded errors whichever way a value came."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from gateway.auth import policy
from gateway.crm.customers import NewCustomer
from gateway.db import models
from gateway.db.customer_queries import (
    CustomerFilterSpec,
    CustomerOrder,
    CustomerPageRequest,
)
from gateway.db.rows import AddressRow, ConsentRow, CustomerRecord, TagRow
from gateway.errors import BadUserInput, NotFound
from gateway.loaders import NotesPageKey, Profile
from gateway.relay.ids import decode_global_id
from gateway.relay.pagination import Cursor, Page, check_first
from gateway.resolvers.context import Info
from gateway.validation import normalize_country, normalize_email

MAX_SEARCH = 320
"""The longest value a search can equal: an email address."""


async def customer(
    info: Info, id: str | None, email: str | None
) -> CustomerRecord | None:
    if (id is None) == (email is None):
        raise BadUserInput("Give exactly one of `id` or `email`.")
    loaders = info.context.loaders
    if id is not None:
        _, pk = decode_global_id(id, "Customer")
        row: CustomerRecord | None = await loaders.customer_by_id.load(pk)
        _note_survivor(info, pk, row)
    else:
        assert email is not None
        row = await loaders.customer_by_email.load(normalize_email(email))
    return row


def _note_survivor(info: Info, asked: int, row: CustomerRecord | None) -> None:
    """Mark the request when ``asked`` was a merged record's id (``Context``'s
    ``survivor_shown``)."""
    if row is not None and row.id != asked:
        info.context.survivor_shown = True


async def customer_reference(
    info: Info, representation: Mapping[str, object]
) -> CustomerRecord | None:
    """A Customer entity's key from a federation router, read as ``customer``
    reads its arguments (the same loaders, the same rules); a key of no customer
    is ``None``."""
    id, email = representation.get("id"), representation.get("email")
    if set(representation) not in ({"id"}, {"email"}) or not isinstance(
        id or email, str
    ):
        raise BadUserInput(
            "A Customer representation has one key: a string `id` or `email`.",
            field="representations",
        )
    return await customer(
        info,
        id if isinstance(id, str) else None,
        email if isinstance(email, str) else None,
    )


async def get_customer(info: Info, pk: int) -> CustomerRecord:
    row: CustomerRecord | None = await info.context.loaders.customer_by_id.load(pk)
    if row is None:
        raise NotFound("No customer with this id.", field="id")
    return row


def _checked_filter(value: CustomerFilterSpec) -> CustomerFilterSpec:
    """``value`` as the query takes it: the birth month checked, the country
    code normalized, the tags lower-cased."""
    if value.birth_month is not None and not 1 <= value.birth_month <= 12:
        raise BadUserInput("`birthMonth` must be 1–12.", field="birthMonth")
    return replace(
        value,
        country=normalize_country(value.country) if value.country else None,
        tags_any=(
            None if value.tags_any is None else tuple(t.lower() for t in value.tags_any)
        ),
    )


def customer_page_request(
    info: Info,
    search: str | None,
    filter: CustomerFilterSpec,
    order_by: CustomerOrder,
    first: int,
    after: str | None,
) -> CustomerPageRequest:
    if search is not None and len(search) > MAX_SEARCH:
        raise BadUserInput(
            f"A search has at most {MAX_SEARCH} characters.", argument="search"
        )
    return CustomerPageRequest(
        first=first,
        after=after,
        search=search.strip() or None if search else None,
        searched=policy.searched(info.context.role),
        filter=_checked_filter(filter),
        order=order_by,
    )


async def customers(info: Info, request: CustomerPageRequest) -> Page[models.Customer]:
    check_first(request.first, info.context.services.settings.max_page_size)
    page: Page[models.Customer] = await info.context.loaders.customer_page.load(request)
    return page


async def customer_count(info: Info, request: CustomerPageRequest) -> int:
    count: int = await info.context.loaders.customer_count.load(request)
    return count


async def addresses(info: Info, pk: int) -> list[AddressRow]:
    rows: list[AddressRow] = await info.context.loaders.profile_by_customer.load(
        (Profile.ADDRESSES, pk)
    )
    return rows


async def identities(info: Info, pk: int) -> list[models.Identity]:
    rows: list[
        models.Identity
    ] = await info.context.loaders.identities_by_customer.load(pk)
    return rows


async def tags(info: Info, pk: int) -> list[str]:
    rows: list[TagRow] = await info.context.loaders.profile_by_customer.load(
        (Profile.TAGS, pk)
    )
    return [t.name for t in rows]


async def consents(info: Info, pk: int) -> list[ConsentRow]:
    rows: list[ConsentRow] = await info.context.loaders.profile_by_customer.load(
        (Profile.CONSENTS, pk)
    )
    return rows


async def preferences(info: Info, pk: int) -> list[models.Preference]:
    rows: list[
        models.Preference
    ] = await info.context.loaders.preferences_by_customer.load(pk)
    return rows


async def loyalty_balance(info: Info, pk: int) -> int:
    balance: int = await info.context.loaders.profile_by_customer.load(
        (Profile.LOYALTY, pk)
    )
    return balance


NOTES: Cursor[tuple[str, int]] = Cursor("notes", (str, int))


def note_cursor(note: models.Note) -> str:
    return NOTES.encode((note.created_at.isoformat(), note.id))


async def notes(
    info: Info, pk: int, first: int, after: str | None
) -> Page[models.Note]:
    check_first(first, info.context.services.settings.max_page_size)
    after_key = None
    if after is not None:
        at, note_id = NOTES.decode(after)
        try:
            after_key = (datetime.fromisoformat(at), note_id)
        except ValueError as exc:
            raise BadUserInput("The cursor is not valid.", argument="after") from exc
    page: Page[models.Note] = await info.context.loaders.notes_page_by_customer.load(
        NotesPageKey(pk, first, after_key)
    )
    return page


async def node(
    info: Info, id: str
) -> CustomerRecord | models.Note | models.Task | None:
    type_name, pk = decode_global_id(id)
    loaders = info.context.loaders
    row: CustomerRecord | models.Note | models.Task | None
    if type_name == "Customer":
        customer: CustomerRecord | None = await loaders.customer_by_id.load(pk)
        _note_survivor(info, pk, customer)
        row = customer
    elif type_name == "Note":
        row = await loaders.note_by_id.load(pk)
    elif type_name == "Task":
        row = await loaders.task_by_id.load(pk)
    else:
        row = None
    return row  # None: no object has it (Relay's node field answers null)


async def create_customer(info: Info, data: NewCustomer) -> models.Customer:
    return await info.context.services.crm.create_customer(data)


async def update_customer(
    info: Info, id: str, changes: Mapping[str, object]
) -> models.Customer:
    """Apply ``changes``: the fields given (snake_case), ``None`` clearing one."""
    _, pk = decode_global_id(id, "Customer")
    if not changes:
        raise BadUserInput("Give at least one field to change.")
    row = await info.context.services.crm.update_customer(pk, changes)
    info.context.loaders.forget_customer(pk)
    return row
