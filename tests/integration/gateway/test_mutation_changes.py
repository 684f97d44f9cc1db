"""Every mutation that writes a customer announces it: one ``CustomerChange``
on the change bus after its commit, and none when it is refused.

``WRITES`` has a row per Mutation root field that writes a customer (the
field, a document, the change it must announce); ``NOT_CUSTOMER_WRITES`` names
the others and why. A new root field in neither table fails the first test,
so no mutation can be added without saying what it announces. Counts only, no
timing: the bus calls its subscribers before ``publish`` returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import build_schema as parse_sdl

from gateway.changes.bus import CustomerChange
from gateway.db import models
from gateway.relay.ids import decode_global_id
from gateway.runtime.services import Services
from gateway.schema import plain_sdl
from tests.conftest import GraphQL


@dataclass(frozen=True)
class Write:
    document: str
    kind: str
    """The ``CustomerChange.kind`` it announces (source ``crm``)."""
    refused: dict[str, str]
    """Variables that make it fail: nothing may be announced then."""


MISSING_CUSTOMER = "Q3VzdG9tZXI6OTk5OTk5"  # Customer:999999
MISSING_TASK = "VGFzazo5OTk5OTk="  # Task:999999

WRITES: dict[str, Write] = {
    "createCustomer": Write(
        "mutation($email: String!) { createCustomer(input: {email: $email}) { id } }",
        "customer_created",
        {"email": "ana@example.com"},  # taken: CONFLICT
    ),
    "updateCustomer": Write(
        'mutation($c: ID!) { updateCustomer(id: $c, input: {firstName: "Bo"}) { id } }',
        "profile_updated",
        {"c": MISSING_CUSTOMER},
    ),
    "addNote": Write(
        'mutation($c: ID!) { addNote(customerId: $c, body: "Called") { id } }',
        "note_added",
        {"c": MISSING_CUSTOMER},
    ),
    "tagCustomer": Write(
        'mutation($c: ID!) { tagCustomer(customerId: $c, tags: ["vip"]) { id } }',
        "tag_added",
        {"c": MISSING_CUSTOMER},
    ),
    "untagCustomer": Write(
        'mutation($c: ID!) { untagCustomer(customerId: $c, tags: ["old"]) { id } }',
        "tag_removed",
        {"c": MISSING_CUSTOMER},
    ),
    "setConsent": Write(
        "mutation($c: ID!) { setConsent(customerId: $c, channel: EMAIL,"
        " state: GRANTED) { state } }",
        "consent_changed",
        {"c": MISSING_CUSTOMER},
    ),
    "addLoyaltyPoints": Write(
        "mutation($c: ID!) { addLoyaltyPoints(customerId: $c, points: 10,"
        ' reason: "Welcome") { points } }',
        "loyalty_changed",
        {"c": MISSING_CUSTOMER},
    ),
    "createTask": Write(
        'mutation($c: ID!) { createTask(customerId: $c, title: "Call") { id } }',
        "task_created",
        {"c": MISSING_CUSTOMER},
    ),
    "completeTask": Write(
        "mutation($t: ID!) { completeTask(id: $t) { id } }",
        "task_completed",
        {"t": MISSING_TASK},
    ),
}

NOT_CUSTOMER_WRITES = {
    "createSegment": "saves a segment; drops every stored response instead",
    "updateSegment": "changes a segment; drops every stored response instead",
    "deleteSegment": "removes a segment; drops every stored response instead",
    "setProductReplenishment": "an interval of a product, for many customers;"
    " drops every stored response instead",
    "setCategoryReplenishment": "an interval of a category, for many customers;"
    " drops every stored response instead",
    "createEmbedToken": "signs a token, stores nothing",
    "createPromoCode": "makes a Shopify discount (no Shopify here): its"
    " promo_code_created announcement is tested against the simulator in"
    " tests/integration/gateway/test_promo_codes.py",
    "connectSegmentToList": "stores which segment feeds which Klaviyo list;"
    " no customer's data changes",
    "disconnectSegmentFromList": "forgets a segment's Klaviyo list; no customer's"
    " data changes",
    **dict.fromkeys(
        (
            "createAutomation",
            "updateAutomation",
            "pauseAutomation",
            "resumeAutomation",
            "deleteAutomation",
        ),
        "an automation's definition; its runs' actions announce their own"
        " changes when they run (tests/integration/automations)",
    ),
    "retryRun": "queues a run again; its actions announce when they run",
    **dict.fromkeys(
        (
            "createWebhookEndpoint",
            "rotateWebhookSecret",
            "disableWebhookEndpoint",
            "enableWebhookEndpoint",
            "deleteWebhookEndpoint",
            "retryDelivery",
            "replayDelivery",
        ),
        "an outbound webhook endpoint or delivery: no customer's data changes",
    ),
    "eraseCustomer": "queues a privacy request; its erasure job announces"
    " customer_erased after it commits (tests/integration/privacy)",
    "exportCustomerData": "queues a privacy request; an export changes nothing",
    "dismissDuplicate": "a steward's decision about two customers; neither"
    " customer's data changes",
    **dict.fromkeys(
        ("mergeCustomers", "unmergeCustomer"),
        "two customers: customer_merged / customer_unmerged announced for both"
        " after the commit (a stored response of the merged id is not served"
        " again: tests/integration/identity/test_merge.py)",
    ),
}


def test_every_mutation_is_in_one_table() -> None:
    mutation = parse_sdl(plain_sdl()).mutation_type
    assert mutation is not None
    assert set(mutation.fields) == set(WRITES) | set(NOT_CUSTOMER_WRITES)
    assert not set(WRITES) & set(NOT_CUSTOMER_WRITES)


@pytest.fixture
async def announced(db: Services) -> AsyncIterator[list[CustomerChange]]:
    """The changes announced whose customer a fresh session already sees
    (committed): one announced before its commit is not counted (the bus logs
    the failed check), so a write that announced too early fails."""
    seen: list[CustomerChange] = []

    async def collect(change: CustomerChange) -> None:
        async with db.sessions() as session:
            assert await session.get(models.Customer, change.customer_id)
        seen.append(change)

    unsubscribe = db.changes.subscribe(collect)
    yield seen
    unsubscribe()


async def prepared(gql: GraphQL) -> dict[str, str]:
    """A customer (tagged ``old``, with an open task): the variables of ``WRITES``."""
    created = await gql(
        'mutation { createCustomer(input: {email: "ana@example.com",'
        ' tags: ["old"]}) { id } }'
    )
    customer = created["data"]["createCustomer"]["id"]
    task = await gql(
        'mutation($c: ID!) { createTask(customerId: $c, title: "Prepared") { id } }',
        {"c": customer},
    )
    return {
        "c": customer,
        "t": task["data"]["createTask"]["id"],
        "email": "new@example.com",
    }


def announcements(seen: list[CustomerChange]) -> list[tuple[int, str, str]]:
    return [(c.customer_id, c.source, c.kind) for c in seen]


@pytest.mark.parametrize("field", sorted(WRITES))
async def test_a_customer_write_announces_one_change_after_it_commits(
    gql: GraphQL, announced: list[CustomerChange], field: str
) -> None:
    write = WRITES[field]
    variables = await prepared(gql)
    announced.clear()
    result: dict[str, Any] = await gql(write.document, variables)
    assert "errors" not in result, result
    written = decode_global_id(variables["c"])[1]
    if field == "createCustomer":
        written = decode_global_id(result["data"][field]["id"])[1]
    assert announcements(announced) == [(written, "crm", write.kind)]


@pytest.mark.parametrize("field", sorted(WRITES))
async def test_a_refused_customer_write_announces_nothing(
    gql: GraphQL, announced: list[CustomerChange], field: str
) -> None:
    write = WRITES[field]
    variables = {**await prepared(gql), **write.refused}
    announced.clear()
    result: dict[str, Any] = await gql(write.document, variables)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] in ("NOT_FOUND", "CONFLICT")
    assert announced == []
