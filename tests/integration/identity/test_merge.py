"""Merging and unmerging customers (issue 18): every table is classed, a
merge then an unmerge gives back the same two customers (property-based,
with writes in between), the merged id keeps resolving, lists skip it, the
timeline tells both, and bad requests change nothing."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update

import gateway.app  # noqa: F401  (every table registered)
from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, IDENTITY_STEWARDS, Role
from gateway.db import models
from gateway.db.auth_models import AuditEntry
from gateway.identity import merge
from gateway.identity.merge import Survivorship
from gateway.insights.refresh import refresh_customers
from gateway.relay.ids import customer_pk
from gateway.runtime.services import Services

CLASSES = {
    "moved": set(merge.MOVED),
    "united": set(merge.UNITED),
    "set aside": set(merge.SET_ASIDE),
    "forgotten": set(merge.FORGOTTEN),
    "kept": set(merge.KEPT),
}
COMPARED = (*merge.MOVED, *merge.UNITED)
"""Tables whose rows must come back exactly (derived ones are recomputed)."""
NOT_COMPARED = {"id", "customer_id"}
STAMP = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
serial = itertools.count()


def test_every_table_with_customers_is_in_exactly_one_class() -> None:
    with_customers = {
        t.name for t in models.Base.metadata.tables.values() if "customer_id" in t.c
    }
    classed = [name for names in CLASSES.values() for name in names]
    assert sorted(with_customers) == sorted(classed)
    assert len(classed) == len(set(classed))


STATES = st.sampled_from(["granted", "denied", "pending"])
people = st.fixed_dictionaries(
    {
        "phone": st.none() | st.just("+14155550100"),
        "first_name": st.none() | st.sampled_from(["Ana", "Ann"]),
        "birth_date": st.none() | st.just(date(1990, 4, 12)),
        "tags": st.sets(st.sampled_from(["vip", "wholesale", "gift"]), max_size=3),
        "consents": st.dictionaries(st.sampled_from(["email", "sms"]), STATES),
        "preferences": st.dictionaries(
            st.sampled_from(["size", "colour"]), st.sampled_from(["M", "L"])
        ),
        "notes": st.integers(0, 2),
        "points": st.lists(st.integers(-50, 100), max_size=2),
        "events": st.integers(0, 2),
    }
)


async def _person(db: Services, spec: dict[str, Any]) -> int:
    n = next(serial)
    async with db.sessions() as session, session.begin():
        customer = models.Customer(
            email=f"p{n}-{time.monotonic_ns()}@merge.example",
            phone=spec["phone"],
            first_name=spec["first_name"],
            birth_date=spec["birth_date"],
        )
        session.add(customer)
        await session.flush()
        cid = customer.id
        session.add_all(models.Tag(customer_id=cid, name=t) for t in spec["tags"])
        session.add_all(
            models.Consent(
                customer_id=cid, channel=c, state=s, source="crm", changed_at=STAMP
            )
            for c, s in spec["consents"].items()
        )
        session.add_all(
            models.Preference(customer_id=cid, key=k, value=v)
            for k, v in spec["preferences"].items()
        )
        session.add_all(
            models.Note(customer_id=cid, author="key:a", body=f"note {i}")
            for i in range(spec["notes"])
        )
        session.add_all(
            models.LoyaltyEntry(customer_id=cid, points=p, reason="order")
            for p in spec["points"]
        )
        session.add(
            models.Identity(
                customer_id=cid,
                source="segment",
                external_id=f"user-{n}",
                linked_by="identify",
            )
        )
        session.add_all(
            models.TrackedEvent(
                message_id=f"m-{n}-{i}",
                customer_id=cid,
                user_id=f"user-{n}",
                type="track",
                name="Viewed",
                properties={},
                occurred_at=STAMP,
            )
            for i in range(spec["events"])
        )
    return cid


async def _snapshot(db: Services, customer_id: int) -> dict[str, Any]:
    """Everything the customer holds that a merge moves or unites, and its profile."""
    held: dict[str, Any] = {}
    async with db.sessions() as session:
        for name in COMPARED:
            table = models.Base.metadata.tables[name]
            rows = (
                await session.execute(
                    select(table).where(table.c.customer_id == customer_id)
                )
            ).mappings()
            held[name] = sorted(
                repr(sorted((k, v) for k, v in row.items() if k not in NOT_COMPARED))
                for row in rows
                if not (name == "customer_events" and "merged" in row["kind"])
            )
        customer = await session.get(models.Customer, customer_id)
        assert customer is not None
        held["profile"] = {f: getattr(customer, f) for f in merge.PROFILE}
        held["email"] = customer.email
        held["merged_into"] = customer.merged_into
    return held


async def _merge(db: Services, survivor: int, merged: int, rule: Survivorship) -> None:
    async with db.sessions() as session, session.begin():
        await merge.merge(
            session,
            survivor,
            merged,
            actor="test",
            explanation={"rule": "manual"},
            recompute=refresh_customers,
            default=rule,
        )


async def _unmerge(db: Services, merged: int) -> None:
    async with db.sessions() as session, session.begin():
        await merge.unmerge(session, merged, actor="test", recompute=refresh_customers)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    survivor=people,
    merged=people,
    rule=st.sampled_from(list(Survivorship)),
    write_between=st.booleans(),
)
async def test_merge_then_unmerge_gives_back_both_customers(
    db: Services,
    survivor: dict[str, Any],
    merged: dict[str, Any],
    rule: Survivorship,
    write_between: bool,
) -> None:
    s, m = await _person(db, survivor), await _person(db, merged)
    before = {s: await _snapshot(db, s), m: await _snapshot(db, m)}
    await _merge(db, s, m, rule)
    async with db.sessions() as session:
        tags = set(
            await session.scalars(
                select(models.Tag.name).where(models.Tag.customer_id == s)
            )
        )
    assert tags == set(survivor["tags"]) | set(merged["tags"])
    assert (await _snapshot(db, m))["merged_into"] == s
    if write_between:
        # a note written to the survivor stays with it; an event through the
        # merged customer's own userId goes back with it
        async with db.sessions() as session, session.begin():
            session.add(models.Note(customer_id=s, author="key:a", body="after"))
            user = await session.scalar(
                select(models.Identity.external_id).where(
                    models.Identity.customer_id == s,
                    models.Identity.external_id.like("user-%"),
                    models.Identity.id
                    == select(models.Identity.id)
                    .where(models.Identity.external_id.like("user-%"))
                    .order_by(models.Identity.id.desc())
                    .limit(1)
                    .scalar_subquery(),
                )
            )
            session.add(
                models.TrackedEvent(
                    message_id=f"after-{m}",
                    customer_id=s,
                    user_id=user,
                    type="track",
                    name="Viewed",
                    properties={},
                    occurred_at=STAMP,
                )
            )
    await _unmerge(db, m)
    after = {s: await _snapshot(db, s), m: await _snapshot(db, m)}
    if write_between:
        assert [n for n in after[s]["notes"] if "'after'" in n]
        after[s]["notes"] = [n for n in after[s]["notes"] if "'after'" not in n]
        assert [e for e in after[m]["tracked_events"] if f"after-{m}" in e]
        after[m]["tracked_events"] = [
            e for e in after[m]["tracked_events"] if f"after-{m}" not in e
        ]
    assert after == before


async def test_consents_take_the_more_restrictive_and_ledgers_add_up(
    db: Services,
) -> None:
    base = {"phone": None, "first_name": None, "birth_date": None, "tags": set(),
            "preferences": {}, "notes": 0, "events": 0}  # fmt: skip
    s = await _person(db, {**base, "consents": {"email": "granted"}, "points": [10]})
    m = await _person(
        db, {**base, "consents": {"email": "denied", "sms": "granted"}, "points": [5]}
    )
    async with db.sessions() as session:
        planned = await merge.plan(session, s, m)
    assert planned.consents == {"email": "denied", "sms": "granted"}
    assert planned.loyalty_balance == 15
    await _merge(db, s, m, Survivorship.SURVIVOR)
    async with db.sessions() as session:
        states = dict(
            (
                await session.execute(
                    select(models.Consent.channel, models.Consent.state).where(
                        models.Consent.customer_id == s
                    )
                )
            ).all()
        )
    assert states == {"email": "denied", "sms": "granted"}


CUSTOMER = "query($id: ID!) { customer(id: $id) { id email } }"
NODE = "query($id: ID!) { node(id: $id) { id ... on Customer { email } } }"
LIST = "{ customers(first: 50) { edges { node { id } } } }"
TIMELINE = """query($id: ID!) { customer(id: $id) { timeline(first: 10) { edges { node {
  kind ... on CustomerMerged { mergedId } ... on CustomerUnmerged { otherId } } } } } }"""
MERGE = """mutation($s: ID!, $m: ID!, $rule: Survivorship) {
  mergeCustomers(survivorId: $s, mergedId: $m, survivorship: $rule) {
    mergeId survivor { id phone } preview { fields { field result takenFrom } tags }
  } }"""
PREVIEW = """query($s: ID!, $m: ID!) { previewMerge(survivorId: $s, mergedId: $m) {
  fields { field survivorValue mergedValue result takenFrom } tags loyaltyBalance
  consents { channel state } moved { table rows } score reasons { rule } } }"""
UNMERGE = """mutation($id: ID!) { unmergeCustomer(id: $id) {
  survivor { id } restored { id email } } }"""
CREATE = """mutation($email: String!, $phone: String) {
  createCustomer(input: {email: $email, phone: $phone, tags: ["x"]}) { id } }"""


async def _created(gql: Any, email: str, phone: str | None = None) -> str:
    body = await gql(CREATE, {"email": email, "phone": phone})
    assert "errors" not in body, body
    return str(body["data"]["createCustomer"]["id"])


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_a_merge_through_the_api_resolves_shows_and_undoes(
    gql: Any, db: Services
) -> None:
    s = await _created(gql, "ana@work.example")
    m = await _created(gql, "ana@home.example", "+14155550100")
    cached = await gql(CUSTOMER, {"id": m})  # a stored response of the merged id
    assert cached["data"]["customer"]["id"] == m
    preview = (await gql(PREVIEW, {"s": s, "m": m}))["data"]["previewMerge"]
    phone = next(f for f in preview["fields"] if f["field"] == "PHONE")
    assert phone == {"field": "PHONE", "survivorValue": None,
                     "mergedValue": "+14155550100", "result": "+14155550100",
                     "takenFrom": "MERGED"}  # fmt: skip
    assert {"table": "customer_events", "rows": 1} not in preview["moved"]
    done = await gql(MERGE, {"s": s, "m": m})
    assert "errors" not in done, done
    assert done["data"]["mergeCustomers"]["survivor"] == {
        "id": s,
        "phone": "+14155550100",
    }
    # the merged id and email resolve to the survivor; lists skip the merged
    for query, variables in ((CUSTOMER, {"id": m}), (NODE, {"id": m})):
        found = (await gql(query, variables))["data"]
        assert next(iter(found.values()))["id"] == s
    by_email = await gql('{ customer(email: "ana@home.example") { id } }')
    assert by_email["data"]["customer"]["id"] == s
    ids = [e["node"]["id"] for e in (await gql(LIST))["data"]["customers"]["edges"]]
    assert ids == [s]
    timeline = (await gql(TIMELINE, {"id": s}))["data"]["customer"]["timeline"]
    assert {"kind": "CUSTOMER_MERGED", "mergedId": m} in [
        e["node"] for e in timeline["edges"]
    ]
    # bad requests: coded, nothing changed
    assert _code(await gql(MERGE, {"s": s, "m": s})) == "BAD_USER_INPUT"
    assert _code(await gql(MERGE, {"s": s, "m": m})) == "CONFLICT"
    assert _code(await gql(UNMERGE, {"id": s})) == "CONFLICT"
    undone = await gql(UNMERGE, {"id": m})
    assert undone["data"]["unmergeCustomer"] == {
        "survivor": {"id": s},
        "restored": {"id": m, "email": "ana@home.example"},
    }
    again = await gql(CUSTOMER, {"id": m})
    assert again["data"]["customer"]["id"] == m
    ids = [e["node"]["id"] for e in (await gql(LIST))["data"]["customers"]["edges"]]
    assert sorted(ids) == sorted([s, m])
    assert (await gql(CUSTOMER, {"id": s}))["data"]["customer"]["id"] == s
    await db.audit.flush()
    async with db.sessions() as session:
        phone_now = await session.scalar(
            select(models.Customer.phone).where(models.Customer.id == customer_pk(s))
        )
        rows = await session.execute(
            select(AuditEntry.customer_id, AuditEntry.operation).where(
                AuditEntry.action == "write",
                AuditEntry.operation.in_(("mergeCustomers", "unmergeCustomer")),
            )
        )
        audited = Counter((pk, op) for pk, op in rows)
    assert phone_now is None  # the survivor's own value is back
    sp, mp = customer_pk(s), customer_pk(m)
    assert audited[(sp, "mergeCustomers")] == audited[(mp, "mergeCustomers")] == 1
    assert audited[(mp, "unmergeCustomer")] == 1  # once: by the gate, by its id
    assert audited[(sp, "unmergeCustomer")] == 2  # the refused attempt, the unmerge


async def test_a_merged_id_shows_the_survivors_later_changes_at_once(
    gql: Any, db: Services
) -> None:
    """The response cache keys an answer by the versions of the ids asked: one
    answered with the survivor of a merged id is not stored, so a change to
    the survivor shows through the merged id on the very next read (a new
    user found a stored answer served for a minute, a withdrawn consent's
    email with it)."""
    s = await _created(gql, "bo@work.example")
    m = await _created(gql, "bo@home.example")
    assert "errors" not in await gql(MERGE, {"s": s, "m": m})
    tags = "query($id: ID!) { customer(id: $id) { id tags } node(id: $id) { id } }"
    for _ in range(2):  # a second read would be a hit, were the first stored
        found = (await gql(tags, {"id": m}))["data"]
        assert (found["customer"]["id"], found["node"]["id"]) == (s, s)
        assert "called" not in found["customer"]["tags"]
    tagged = await gql(
        'mutation($c: ID!) { tagCustomer(customerId: $c, tags: ["called"]) { id } }',
        {"c": s},
    )
    assert "errors" not in tagged, tagged
    found = (await gql(tags, {"id": m}))["data"]
    assert "called" in found["customer"]["tags"]


@pytest.mark.parametrize("role", sorted(GRANTABLE_ROLES), ids=str)
async def test_only_the_data_stewards_merge(
    client: httpx.AsyncClient, gql: Any, db: Services, role: Role
) -> None:
    s = await _created(gql, f"s-{role}@x.example")
    m = await _created(gql, f"m-{role}@x.example")
    key, _ = await create_key(db.sessions, f"{role}-{time.monotonic_ns()}", role)
    headers = {"Authorization": f"Bearer {key}"}
    for query in (PREVIEW, MERGE):
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"s": s, "m": m}},
            headers=headers,
        )
        body = response.json()
        if role in IDENTITY_STEWARDS:
            assert "errors" not in body, body
        else:
            assert _code(body) == "FORBIDDEN"
    async with db.sessions() as session:
        merged_into = await session.scalar(
            select(models.Customer.merged_into).where(
                models.Customer.id == customer_pk(m)
            )
        )
    assert (merged_into is not None) == (role in IDENTITY_STEWARDS)


async def test_an_unmerge_keeps_what_was_changed_on_the_survivor_since(
    db: Services,
) -> None:
    base = {"first_name": None, "birth_date": None, "tags": set(), "consents": {},
            "preferences": {}, "notes": 0, "points": [], "events": 0}  # fmt: skip
    s = await _person(db, {**base, "phone": None})
    m = await _person(db, {**base, "phone": "+14155550100", "first_name": "Mo"})
    await _merge(db, s, m, Survivorship.SURVIVOR)
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(models.Customer)
            .where(models.Customer.id == s)
            .values(phone="+14155550199", updated_at=datetime.now(UTC) + timedelta(1))
        )
    await _unmerge(db, m)
    async with db.sessions() as session:
        survivor = await session.get(models.Customer, s)
        assert survivor is not None
        assert survivor.phone == "+14155550199"  # changed since: kept
        assert survivor.first_name is None  # set by the merge, unchanged: restored


WRITES = """mutation($m: ID!) {
  addNote(customerId: $m, body: "called about the refund") { id }
  createTask(customerId: $m, title: "Call back") { id }
  addLoyaltyPoints(customerId: $m, points: 25, reason: "Goodwill") { points }
  tagCustomer(customerId: $m, tags: ["called"]) { id }
}"""
HELD = """query($id: ID!) { customer(id: $id) {
  id tags loyaltyBalance notes(first: 10) { edges { node { body } } }
  tasks(first: 10) { edges { node { title } } } } }"""


async def test_writes_through_the_merged_id_land_on_the_survivor_and_go_back(
    gql: Any,
) -> None:
    s = await _created(gql, "bo@work.example")
    m = await _created(gql, "bo@home.example")
    assert "errors" not in await gql(MERGE, {"s": s, "m": m})
    wrote = await gql(WRITES, {"m": m})
    assert "errors" not in wrote, wrote
    merged = (await gql(HELD, {"id": s}))["data"]["customer"]
    assert merged["loyaltyBalance"] == 25
    assert "called" in merged["tags"]
    assert [e["node"]["body"] for e in merged["notes"]["edges"]] == [
        "called about the refund"
    ]
    assert "errors" not in await gql(UNMERGE, {"id": m})
    back = (await gql(HELD, {"id": m}))["data"]["customer"]
    survivor = (await gql(HELD, {"id": s}))["data"]["customer"]
    assert back["id"] == m
    assert [e["node"]["body"] for e in back["notes"]["edges"]] == [
        "called about the refund"
    ]
    assert [e["node"]["title"] for e in back["tasks"]["edges"]] == ["Call back"]
    assert back["loyaltyBalance"] == 25
    assert survivor["notes"]["edges"] == survivor["tasks"]["edges"] == []
    assert survivor["loyaltyBalance"] == 0
    assert "called" in survivor["tags"]  # a tag is united, not about one record


async def test_unmerges_at_once_undo_once_and_merged_customers_are_no_candidates(
    gql: Any, db: Services
) -> None:
    s = await _created(gql, "cy@work.example", "+14155550177")
    m = await _created(gql, "cy@home.example", "+14155550177")
    other = await _created(gql, "cy+shop@work.example")
    pairs = await gql(PAIRS, {"first": 10})
    assert len(pairs["data"]["duplicateCandidates"]["edges"]) == 2  # phone, alias
    assert "errors" not in await gql(MERGE, {"s": s, "m": m})
    pairs = await gql(PAIRS, {"first": 10})
    ids = [
        (e["node"]["customer"]["id"], e["node"]["duplicate"]["id"])
        for e in pairs["data"]["duplicateCandidates"]["edges"]
    ]
    assert ids == [(s, other)]  # the merged one is its survivor: no pair left

    async def one() -> str | None:
        answer = await gql(UNMERGE, {"id": m})
        return None if "errors" not in answer else _code(answer)

    codes = await asyncio.gather(*(one() for _ in range(4)))
    assert Counter(codes) == {None: 1, "CONFLICT": 3}
    async with db.sessions() as session:
        undone = await session.scalar(
            select(func.count())
            .select_from(models.CustomerMerge)
            .where(models.CustomerMerge.unmerged_at.is_not(None))
        )
    assert undone == 1


PAIRS = """{ duplicateCandidates(first: 10) { edges { node {
  customer { id } duplicate { id } } } } }"""
