"""Hostile identify, alias and track messages against a stored customer, with the
public write key (anyone can send with it) and the server write key, asserting
exactly what is stored afterwards on each backend.

The victim: ``victim@example.com``, phone, name, default address and a
preference, linked to the userId ``victim-uid``. Every case sends its messages
in one batch and compares a snapshot of the database with the expected one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client
from sqlalchemy import select

from connectors.simulator_server import serve_app
from gateway.app import create_app
from gateway.db import models
from gateway.runtime.services import Services
from gateway.settings import Settings
from tests.integration.gateway.ingest.rows import SERVER_WRITE_KEY, WRITE_KEY

pytestmark = pytest.mark.storage_independent

VICTIM_EMAIL = "victim@example.com"
VICTIM_PHONE = "+49301234567"
OTHER_PHONE = "+49301234568"
VICTIM_ADDRESS = ("DE", "Hauptstr. 1", "Berlin", "10115")


@dataclass(frozen=True)
class Victim:
    email: str = VICTIM_EMAIL
    phone: str | None = VICTIM_PHONE
    name: tuple[str | None, str | None] = ("Vera", "Victim")
    birth_date: date | None = None
    address: tuple[str | None, ...] = VICTIM_ADDRESS
    preferences: dict[str, str] = field(default_factory=lambda: {"plan": "pro"})


@dataclass(frozen=True)
class Outcome:
    victim: Victim = Victim()
    others: tuple[tuple[str, str | None], ...] = ()
    """(email, phone) of every other customer."""
    links: dict[str, str] = field(default_factory=lambda: {"victim-uid": "victim"})
    """Segment userId → ``victim`` or the email of its customer."""
    events: tuple[str | None, ...] = ()
    """Per stored event: ``victim``, the email of its customer, or None."""
    warnings: tuple[str, ...] = ()
    """The ``field`` of each warning in the answer, in order: the public key is
    told only what its message alone decides (``test_existence_oracle``)."""


def identify(user_id: str | None = None, **traits: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "identify", "traits": traits}
    if user_id is None:
        message["anonymousId"] = "anon-1"
    else:
        message["userId"] = user_id
    return message


HIJACK = {
    "email": "Victim@Example.com",
    "phone": "+49 30 1234568",
    "name": "Mallory Attacker",
    "address": {"country": "FR", "city": "Paris", "postalCode": "75001"},
}
UNCHANGED = Outcome()
TAKEN_OVER = Victim(
    phone=OTHER_PHONE,
    name=("Mallory", "Attacker"),
    address=("FR", "Hauptstr. 1", "Paris", "75001"),
)

CASES: list[tuple[str, list[dict[str, Any]], Outcome, Outcome]] = [
    (
        "a new userId with the victim's email and new contact data",
        [identify("attacker", **HIJACK)],
        replace(UNCHANGED, events=(None,)),
        Outcome(
            victim=TAKEN_OVER,
            links={"victim-uid": "victim", "attacker": "victim"},
            events=("victim",),
        ),
    ),
    (
        "the victim's userId with another email",
        [identify("victim-uid", email="mallory@example.com")],
        replace(UNCHANGED, events=("victim",)),
        Outcome(victim=Victim(email="mallory@example.com"), events=("victim",)),
    ),
    (
        "the victim's userId with another phone, name and address",
        [identify("victim-uid", **{**HIJACK, "email": VICTIM_EMAIL})],
        replace(UNCHANGED, events=("victim",)),
        Outcome(victim=TAKEN_OVER, events=("victim",)),
    ),
    (
        "the victim's userId with a changed preference and new facts",
        [identify("victim-uid", plan="free", birthday="1990-04-02", seats="3")],
        replace(
            UNCHANGED,
            victim=Victim(
                birth_date=date(1990, 4, 2),
                preferences={"plan": "pro", "seats": "3"},
            ),
            events=("victim",),
        ),
        Outcome(
            victim=Victim(
                birth_date=date(1990, 4, 2),
                preferences={"plan": "free", "seats": "3"},
            ),
            events=("victim",),
        ),
    ),
    (
        "an anonymousId with the victim's email and new contact data",
        [identify(None, **HIJACK)],
        replace(UNCHANGED, events=(None,)),
        Outcome(victim=TAKEN_OVER, events=("victim",)),
    ),
    (
        "a new userId with a new email and the victim's phone",
        [identify("attacker", email="mallory@example.com", phone=VICTIM_PHONE)],
        Outcome(
            others=(("mallory@example.com", None),),
            links={"victim-uid": "victim", "attacker": "mallory@example.com"},
            events=("mallory@example.com",),
        ),
        Outcome(
            others=(("mallory@example.com", VICTIM_PHONE),),
            links={"victim-uid": "victim", "attacker": "mallory@example.com"},
            events=("mallory@example.com",),
        ),
    ),
    (
        "a new userId with the victim's email only in context.traits",
        [
            {
                **identify("attacker", phone="+49 30 1234568"),
                "context": {"traits": {"email": VICTIM_EMAIL}},
            },
            {
                "type": "track",
                "userId": "attacker",
                "event": "Viewed",
                "context": {"traits": {"email": VICTIM_EMAIL}},
            },
        ],
        replace(UNCHANGED, events=(None, None)),
        # the server key reads context.traits as it reads traits
        Outcome(
            victim=replace(Victim(), phone=OTHER_PHONE),
            links={"victim-uid": "victim", "attacker": "victim"},
            events=("victim", "victim"),
        ),
    ),
    (
        "anonymous events naming the victim's email in properties and external ids",
        [
            {
                "type": "track",
                "anonymousId": "anon-1",
                "event": "Viewed",
                "properties": {"email": VICTIM_EMAIL},
            },
            {
                "type": "page",
                "userId": "attacker",
                "name": "Account",
                "context": {"externalIds": [{"id": VICTIM_EMAIL, "type": "email"}]},
            },
        ],
        replace(UNCHANGED, events=(None, None)),
        # the server key attaches the events, but only identify links a userId
        replace(UNCHANGED, events=("victim", "victim")),
    ),
    (
        "an alias of a new userId to the victim's userId",
        [
            {"type": "alias", "userId": "attacker", "previousId": "victim-uid"},
            {"type": "track", "userId": "attacker", "event": "Viewed"},
        ],
        replace(UNCHANGED, events=(None, None), warnings=("userId",)),
        Outcome(
            links={"victim-uid": "victim", "attacker": "victim"},
            events=("victim", "victim"),
        ),
    ),
    (
        "a new userId creating a customer, then changing it in the same batch",
        [
            identify("newbie", email="new@example.com", phone="+49 30 1234568"),
            identify("newbie", email="new2@example.com", phone="+49 30 1234569"),
        ],
        Outcome(
            others=(("new@example.com", OTHER_PHONE),),
            links={"victim-uid": "victim", "newbie": "new@example.com"},
            events=("new@example.com", "new@example.com"),
        ),
        Outcome(
            others=(("new2@example.com", "+49301234569"),),
            links={"victim-uid": "victim", "newbie": "new2@example.com"},
            events=("new2@example.com", "new2@example.com"),
        ),
    ),
]


async def add_victim(db: Services) -> int:
    async with db.sessions() as session, session.begin():
        victim = models.Customer(
            email=VICTIM_EMAIL,
            phone=VICTIM_PHONE,
            first_name="Vera",
            last_name="Victim",
        )
        session.add(victim)
        await session.flush()
        country, line1, city, postcode = VICTIM_ADDRESS
        session.add_all(
            [
                models.Address(
                    customer_id=victim.id,
                    kind="shipping",
                    is_default=True,
                    country=country,
                    line1=line1,
                    city=city,
                    postcode=postcode,
                ),
                models.Preference(customer_id=victim.id, key="plan", value="pro"),
                models.Identity(
                    customer_id=victim.id, source="segment", external_id="victim-uid"
                ),
            ]
        )
        return victim.id


async def outcome(db: Services, victim_id: int, warnings: list[str]) -> Outcome:
    async with db.sessions() as session:
        customers = {c.id: c for c in await session.scalars(select(models.Customer))}
        label = {cid: c.email for cid, c in customers.items()} | {victim_id: "victim"}
        victim = customers.pop(victim_id)
        address = await session.scalar(
            select(models.Address).where(models.Address.customer_id == victim_id)
        )
        assert address is not None
        preferences = await session.scalars(
            select(models.Preference).where(models.Preference.customer_id == victim_id)
        )
        links = await session.execute(
            select(models.Identity.external_id, models.Identity.customer_id)
        )
        events = await session.scalars(
            select(models.TrackedEvent.customer_id).order_by(models.TrackedEvent.id)
        )
        return Outcome(
            victim=Victim(
                email=victim.email,
                phone=victim.phone,
                name=(victim.first_name, victim.last_name),
                birth_date=victim.birth_date,
                address=(
                    address.country,
                    address.line1,
                    address.city,
                    address.postcode,
                ),
                preferences={p.key: p.value for p in preferences},
            ),
            others=tuple(sorted((c.email, c.phone) for c in customers.values())),
            links={external_id: label[cid] for external_id, cid in links},
            events=tuple(None if cid is None else label[cid] for cid in events),
            warnings=tuple(warnings),
        )


def in_context_traits(message: dict[str, Any]) -> dict[str, Any]:
    """RudderStack's placement: identify traits only in ``context.traits``."""
    if message["type"] != "identify":
        return message
    context = message.get("context", {})
    traits = {**context.get("traits", {}), **message["traits"]}
    rest = {k: v for k, v in message.items() if k != "traits"}
    return {**rest, "context": {**context, "traits": traits}}


def split(message: dict[str, Any]) -> dict[str, Any]:
    """Identify's email top-level, its other traits in ``context.traits``."""
    if message["type"] != "identify" or "email" not in message["traits"]:
        return in_context_traits(message)
    moved = in_context_traits(message)
    email = moved["context"]["traits"].pop("email")
    return {**moved, "traits": {"email": email}}


def email_as_external_id(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The user's email moved out of the traits into an external id."""

    def move(message: dict[str, Any]) -> dict[str, Any]:
        context = dict(message.get("context", {}))
        in_context = dict(context.pop("traits", {}))
        traits = {**in_context, **message.get("traits", {})}
        email = traits.pop("email", None)
        moved = {**message, "context": context}
        if message["type"] == "identify":
            moved["traits"] = traits
        elif traits:
            context["traits"] = traits
        if email is not None:
            context[name] = [{"id": email, "type": "email"}]
        return moved

    return move


def user_id_as_external_id(message: dict[str, Any]) -> dict[str, Any]:
    """The userId moved into RudderStack's ``context.externalId``."""
    if "userId" not in message:
        return message
    rest = {k: v for k, v in message.items() if k != "userId"}
    entry = {"id": message["userId"], "type": "user_id"}
    return {**rest, "context": {**message.get("context", {}), "externalId": [entry]}}


PLACEMENTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "as sent": lambda message: message,
    "traits in context.traits": in_context_traits,
    "traits split between both": split,
    "email in context.externalIds": email_as_external_id("externalIds"),
    "email in context.externalId": email_as_external_id("externalId"),
    "userId in context.externalId": user_id_as_external_id,
}
"""Each case sent with its traits and ids moved to another placement of the
Segment or RudderStack spec: what a key may change must not depend on it."""


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("trusted", [False, True], ids=["public key", "server key"])
@pytest.mark.parametrize(
    ("messages", "public", "server"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_what_a_hostile_message_can_change_depends_on_the_write_key(
    ingest: httpx.AsyncClient,
    trusted_ingest: httpx.AsyncClient,
    db: Services,
    trusted: bool,
    messages: list[dict[str, Any]],
    public: Outcome,
    server: Outcome,
    placement: str,
) -> None:
    victim_id = await add_victim(db)
    client = trusted_ingest if trusted else ingest
    batch = [PLACEMENTS[placement](message) for message in messages]
    response = await client.post("/v1/batch", json={"batch": batch})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert "errors" not in body
    warnings = [w["field"] for w in body.get("warnings", [])]
    assert await outcome(db, victim_id, warnings) == (server if trusted else public)


async def test_the_segment_library_with_the_public_key_cannot_take_over_a_profile(
    ingest_services: Services, db: Services
) -> None:
    victim_id = await add_victim(db)
    async with serve_app(create_app(services=ingest_services)) as host:
        segment = Client(WRITE_KEY, host=host, sync_mode=True)
        await asyncio.to_thread(segment.identify, "attacker", HIJACK)
        await asyncio.to_thread(
            segment.identify, "victim-uid", {"email": "mallory@example.com"}
        )
    assert await outcome(db, victim_id, []) == replace(
        UNCHANGED, events=(None, "victim")
    )


async def test_the_rudderstack_library_with_the_public_key_cannot_take_over_a_profile(
    ingest_services: Services, db: Services
) -> None:
    """RudderStack's library sends identify traits in ``context.traits``."""
    victim_id = await add_victim(db)
    async with serve_app(create_app(services=ingest_services)) as host:
        rudder = RudderClient(WRITE_KEY, host=host, sync_mode=True)
        await asyncio.to_thread(rudder.identify, "attacker", HIJACK)
        await asyncio.to_thread(
            rudder.identify, "victim-uid", {"email": "mallory@example.com"}
        )
        await asyncio.to_thread(
            rudder.track, "attacker", "Viewed", context={"traits": HIJACK}
        )
    assert await outcome(db, victim_id, []) == replace(
        UNCHANGED, events=(None, "victim", None)
    )


async def test_the_server_write_key_is_also_accepted_in_the_body(
    trusted_ingest: httpx.AsyncClient, db: Services
) -> None:
    victim_id = await add_victim(db)
    trusted_ingest.auth = None
    message = identify("victim-uid", email="new@example.com")
    response = await trusted_ingest.post(
        "/v1/identify", json={**message, "writeKey": SERVER_WRITE_KEY}
    )
    assert response.json() == {"success": True}
    stored = await outcome(db, victim_id, [])
    assert stored.victim.email == "new@example.com"


def test_a_server_write_key_equal_to_the_public_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CG_INGEST_WRITE_KEY", "same")
    monkeypatch.setenv("CG_INGEST_SERVER_WRITE_KEY", "same")
    with pytest.raises(ValidationError, match="must differ from CG_INGEST_WRITE_KEY"):
        Settings()
