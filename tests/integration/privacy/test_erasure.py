"""``eraseCustomer``: the customer gone from every local table and from each
upstream's simulator, a failing upstream retried to done while the others
finish, Shopify's ``customers/redact`` running the same erasure, and a second
erasure refused."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from strawberry import relay

from connectors.simulator_server import Fault
from connectors.zendesk.simulator.data import USER_ID_BASE
from gateway.db import models
from gateway.db.models import PostHogEvent, TrackedEvent
from gateway.demo.simulation import Simulators
from gateway.privacy.erasure import BY_CUSTOMER_ID, BY_UPSTREAM_ID, KEPT, NULLED
from gateway.privacy.requests import UPSTREAMS
from gateway.privacy.upstreams import SourceFailed, erase_upstream
from gateway.relay.ids import decode_global_id
from gateway.runtime.services import Services
from tests.conftest import row_counts, stored_answers
from tests.integration.gateway.simulated import count
from tests.integration.privacy.conftest import (
    NOW,
    PLANTED,
    WORLD,
    Api,
    Drain,
    linked_everywhere,
    links_of,
    orphan_events,
    plant,
    rows_of,
)

ERASE = "mutation($id: ID!) { eraseCustomer(id: $id) { id status } }"
PROFILE = "query($id: ID!) { customer(id: $id) { email tags } }"
REQUEST = """query($id: ID!) { privacyRequest(id: $id) {
  kind origin status customer completedAt
  sources { source status attempts error }
} }"""


def gid(customer_id: int) -> str:
    return str(relay.GlobalID("Customer", str(customer_id)))


def test_every_table_holding_customers_is_erased_or_kept_for_a_reason() -> None:
    with_customer = {
        t.name
        for t in models.Base.metadata.sorted_tables
        if "customer_id" in t.c and t.name != "customers"
    }
    erased = set(BY_CUSTOMER_ID) - {"customers"}
    assert with_customer == erased | set(NULLED) | KEPT
    by_upstream = {name for name, _, _ in BY_UPSTREAM_ID}
    assert set(PLANTED) == erased - {"identities"} | by_upstream | set(NULLED)


async def mirror_event(services: Services, distinct_id: str) -> None:
    async with services.sessions() as session, session.begin():
        session.add(
            PostHogEvent(
                uuid=str(uuid.uuid4()),
                distinct_id=distinct_id,
                event="$pageview",
                occurred_at=NOW,
                via="destination",
            )
        )


def upstreams_know(simulators: Simulators, index: int) -> dict[str, bool]:
    links = links_of(simulators, index)
    return {
        "shopify": links["shopify"] in simulators.shopify.store.by_gid,
        "zendesk": USER_ID_BASE + index in simulators.zendesk.desk.users,
        "posthog": links["posthog"] in simulators.posthog.analytics.by_distinct_id,
    }


async def test_erasure_removes_the_customer_from_every_table_and_upstream(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    target, bystander = linked_everywhere(simulators)[:2]
    links = links_of(simulators, target) | {"segment": f"user-{target}"}
    other = links_of(simulators, bystander) | {"segment": f"user-{bystander}"}
    customer = await plant(env, WORLD.customers[target].email, links)
    kept = await plant(env, WORLD.customers[bystander].email, other)
    await orphan_events(env, links["segment"], f"anon-{customer}")
    before = await rows_of(env, customer, links)
    assert all(before.values()), before  # a row in every table to erase
    bystanders = await rows_of(env, kept, other)
    person = simulators.posthog.analytics.by_distinct_id[links["posthog"]]
    anonymous = person.distinct_ids[1]  # no link of ours names it
    await mirror_event(env, anonymous)

    shown = await api(PROFILE, {"id": gid(customer)})  # now in the response cache
    assert shown["data"]["customer"]["email"] == WORLD.customers[target].email
    assert await stored_answers(env, customer)

    made = await api(ERASE, {"id": gid(customer)})
    assert made["data"]["eraseCustomer"]["status"] == "PENDING", made
    await work()
    assert await stored_answers(env, customer) == []  # deleted, not only stale

    assert (await api(PROFILE, {"id": gid(customer)}))["data"]["customer"] is None
    assert set((await rows_of(env, customer, links)).values()) == {0}
    assert await rows_of(env, kept, other) == bystanders
    assert await count(env, PostHogEvent, PostHogEvent.distinct_id == anonymous) == 0
    assert await count(env, TrackedEvent) == 1  # the bystander's
    assert upstreams_know(simulators, target) == dict.fromkeys(UPSTREAMS, False)
    assert upstreams_know(simulators, bystander) == dict.fromkeys(UPSTREAMS, True)
    assert USER_ID_BASE + target in simulators.zendesk.desk.permanently_deleted
    request = (await api(REQUEST, {"id": made["data"]["eraseCustomer"]["id"]}))["data"][
        "privacyRequest"
    ]
    assert (request["kind"], request["origin"], request["status"]) == (
        "erasure",
        "api",
        "DONE",
    )
    assert request["completedAt"] is not None
    assert {s["source"]: (s["status"], s["attempts"]) for s in request["sources"]} == {
        source: ("DONE", 1) for source in ("local", "posthog", "shopify", "zendesk")
    }
    async with env.sessions() as session:
        kept_ids = await session.scalars(
            select(models.PrivacyRequestSource.external_ids)
        )
        assert all(ids is None for ids in kept_ids)  # dropped once done


async def test_an_upstream_failing_is_retried_to_done_while_the_others_finish(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    target, merged = linked_everywhere(simulators)[2], linked_everywhere(simulators)[7]
    links = links_of(simulators, target)
    del links["shopify"]  # not linked there
    customer = await plant(env, WORLD.customers[target].email, links)
    async with env.sessions() as session, session.begin():  # a merged customer's
        second = links_of(simulators, merged)["zendesk"]
        session.add(
            models.Identity(customer_id=customer, source="zendesk", external_id=second)
        )
    made = await api(ERASE, {"id": gid(customer)})
    simulators.zendesk.inject(Fault.HTML_PAGE)  # its first DELETE: unreadable

    await work()

    request = (await api(REQUEST, {"id": made["data"]["eraseCustomer"]["id"]}))["data"][
        "privacyRequest"
    ]
    assert request["status"] == "DONE"
    assert {s["source"]: (s["status"], s["attempts"]) for s in request["sources"]} == {
        "local": ("DONE", 1),
        "posthog": ("DONE", 1),
        "shopify": ("NOT_LINKED", 0),
        "zendesk": ("DONE", 2),  # failed once, retried by the job engine
    }
    assert upstreams_know(simulators, target)["zendesk"] is False
    assert upstreams_know(simulators, merged)["zendesk"] is False  # both users


async def test_a_failed_source_shows_failed_with_its_code_until_retried(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    target = linked_everywhere(simulators)[3]
    customer = await plant(
        env, WORLD.customers[target].email, links_of(simulators, target)
    )
    made = await api(ERASE, {"id": gid(customer)})
    request_id = made["data"]["eraseCustomer"]["id"]
    pk = decode_global_id(request_id, "PrivacyRequest")[1]
    simulators.posthog.inject(Fault.HTML_PAGE)  # a proxy's error page
    with pytest.raises(SourceFailed):
        await erase_upstream(env, pk, "posthog")
    request = (await api(REQUEST, {"id": request_id}))["data"]["privacyRequest"]
    posthog = next(s for s in request["sources"] if s["source"] == "posthog")
    assert (request["status"], posthog["status"], posthog["error"]) == (
        "FAILED",
        "FAILED",
        "UPSTREAM_BAD_RESPONSE",
    )
    await work()
    request = (await api(REQUEST, {"id": request_id}))["data"]["privacyRequest"]
    assert request["status"] == "DONE"


async def test_erasing_twice_or_an_unknown_customer_is_refused_and_changes_nothing(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    customer = await plant(env, "twice@example.com", {})
    first = await api(ERASE, {"id": gid(customer)})
    assert "errors" not in first, first
    under_way = await api(ERASE, {"id": gid(customer)})
    assert under_way["errors"][0]["extensions"]["code"] == "CONFLICT"
    await work()
    counts = await row_counts(env)
    for wanted, code in (
        (gid(customer), "CONFLICT"),
        (gid(customer + 1000), "NOT_FOUND"),
    ):
        answer = await api(ERASE, {"id": wanted})
        assert answer["errors"][0]["extensions"]["code"] == code, answer
    missing = await api(REQUEST, {"id": "UHJpdmFjeVJlcXVlc3Q6OTk5"})  # :999
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await row_counts(env) == counts
    assert await count(env, models.PrivacyRequest) == 1
    # SQLite gives the newest deleted row's id to the next customer: that one
    # is another person, and may be erased.
    following = await plant(env, "next@example.com", {})
    assert "errors" not in await api(ERASE, {"id": gid(following)})


async def test_shopifys_customers_redact_runs_the_same_erasure(
    env: Services,
    simulators: Simulators,
    gateway: httpx.AsyncClient,
    api: Api,
    work: Drain,
) -> None:
    target = linked_everywhere(simulators)[4]
    links = links_of(simulators, target)
    customer = await plant(env, WORLD.customers[target].email, links)
    number = int(links["shopify"].rsplit("/", 1)[1])
    answer = await simulators.shopify.send_webhook(
        gateway,
        "customers/redact",
        {
            "shop_id": 954889,
            "shop_domain": simulators.shopify.shop_domain,
            "customer": {"id": number, "email": links["posthog"], "phone": None},
            "orders_to_redact": [],
        },
    )
    assert answer.status_code == 200, answer.text

    await work()

    assert set((await rows_of(env, customer, links)).values()) == {0}
    assert upstreams_know(simulators, target) == {
        "shopify": True,  # Shopify asked, and erases on its side
        "zendesk": False,
        "posthog": False,
    }
    async with env.sessions() as session:
        request = await session.scalar(select(models.PrivacyRequest))
        assert request is not None
        sources = await session.scalars(select(models.PrivacyRequestSource))
        statuses = {s.source: (s.status, s.attempts) for s in sources}
    assert (request.kind, request.source, request.status) == (
        "customer_redact",
        "shopify",
        "done",
    )
    assert statuses["shopify"] == ("done", 0)


MERGE = """mutation($s: ID!, $m: ID!) {
  mergeCustomers(survivorId: $s, mergedId: $m) { mergeId } }"""


async def test_erasing_a_merged_customer_erases_the_person_everywhere(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    """One person merged from two records: erasing by the merged record's id
    erases both records, both upstream links' records, the merge's journal,
    and what the response cache stored (under the survivor's id: an answer
    through the merged id is never stored)."""
    first, second = linked_everywhere(simulators)[2:4]
    links = links_of(simulators, first) | {"segment": f"user-{first}"}
    other = links_of(simulators, second) | {"segment": f"user-{second}"}
    survivor = await plant(env, WORLD.customers[first].email, links)
    merged = await plant(env, WORLD.customers[second].email, other)
    done = await api(MERGE, {"s": gid(survivor), "m": gid(merged)})
    assert "errors" not in done, done
    for record in (survivor, merged):  # the merged id shows its survivor
        shown = await api(PROFILE, {"id": gid(record)})
        assert shown["data"]["customer"]["email"] == WORLD.customers[first].email
    assert await stored_answers(env, survivor)
    assert await stored_answers(env, merged) == []  # through a merged id: never
    made = await api(ERASE, {"id": gid(merged)})
    assert made["data"]["eraseCustomer"]["status"] == "PENDING", made
    await work()
    for record in (survivor, merged):
        assert await stored_answers(env, record) == []
    for customer, its_links in ((survivor, links), (merged, other)):
        assert set((await rows_of(env, customer, its_links)).values()) == {0}
    assert await count(env, models.CustomerMerge) == 0
    assert await count(env, models.Customer) == 0
    for index in (first, second):
        assert upstreams_know(simulators, index) == dict.fromkeys(UPSTREAMS, False)


UNMERGE = "mutation($id: ID!) { unmergeCustomer(id: $id) { restored { id } } }"
EXPORT = "mutation($id: ID!) { exportCustomerData(id: $id) { id } }"


async def test_no_merge_unmerge_or_export_while_an_erasure_is_under_way(
    env: Services, simulators: Simulators, api: Api, work: Drain
) -> None:
    """Each would move rows the erasure is about to delete, hand it a customer
    nobody asked to erase, or keep a document of someone erased: CONFLICT,
    nothing written, and the erasure then takes exactly its person."""
    a, b, c = (len(WORLD.customers) - n for n in (1, 2, 3))
    ids = {}
    for index in (a, b, c):
        links = {"segment": f"user-{index}"}
        ids[index] = await plant(env, WORLD.customers[index].email, links)
    assert "errors" not in await api(MERGE, {"s": gid(ids[b]), "m": gid(ids[c])})
    assert "errors" not in await api(ERASE, {"id": gid(ids[a])})
    assert "errors" not in await api(ERASE, {"id": gid(ids[b])})  # b and c: one person
    refused = [
        await api(MERGE, {"s": gid(ids[a]), "m": gid(ids[b])}),
        await api(MERGE, {"s": gid(ids[b]), "m": gid(ids[a])}),
        await api(UNMERGE, {"id": gid(ids[c])}),
        await api(EXPORT, {"id": gid(ids[a])}),
    ]
    assert [r["errors"][0]["extensions"]["code"] for r in refused] == ["CONFLICT"] * 4
    await work()
    assert await count(env, models.Customer) == 0
    assert (
        await count(env, models.PrivacyRequest, models.PrivacyRequest.kind == "export")
        == 0
    )
