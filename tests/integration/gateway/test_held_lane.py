"""The held lane (``GraphQLApp.answer_held``, ``HeldAnswers``): a POST whose
answer the worker holds is answered before Starlette's routing and
Strawberry. It must answer exactly as the full path does — the same status,
headers, body and audit entries for every role, every refusal the same — and
leave everything else to the full path untouched.

Each comparison sends the same request to two replicas sharing Redis: one
holding answers (the lane answers), one given no memory for them
(``CG_RESPONSE_CACHE_HELD_MB=0``: the same hit, through the full path)."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY

from bench.queries import CUSTOMER_360
from gateway.admission.persisted import PersistedQueries, register
from gateway.auth.audit import entries_for
from gateway.auth.keys import create_key
from gateway.auth.policy import GRANTABLE_ROLES, Role
from gateway.cache.held import HeldEntries
from gateway.http.guarded import GuardedGraphQL
from gateway.relay.ids import decode_global_id
from tests.conftest import ADMIN
from tests.integration.gateway.conftest import Gateway
from tests.integration.gateway.test_audit_log import answered_once_room_is_made
from tests.integration.gateway.test_held_responses import readings  # noqa: F401
from tests.integration.gateway.test_response_cache import (
    SIDEBAR,
    TAG_CUSTOMER,
    first_customer,
    tag_customer,
)

pytestmark = pytest.mark.storage_independent  # the lane reads no SQL of its own

FIRST_CUSTOMER = "{ customers(first: 1) { edges { node { id } } } }"
"""``first_customer``'s document (registered where only those may run)."""


async def tag_customer_registered(gateway: Gateway, customer_id: str) -> None:
    """``tag_customer`` where only registered documents may run."""
    await register(gateway.services.sessions, TAG_CUSTOMER)
    await tag_customer(gateway, customer_id, "lane")


@pytest.fixture
def pair(replicas: tuple[Gateway, Gateway]) -> tuple[Gateway, Gateway]:
    """Two replicas sharing Redis: the first holds answers, the second none
    (settings to change on both: parametrize ``replicas`` indirectly)."""
    held, full = replicas
    responses = full.services.responses
    assert responses is not None
    responses.held = HeldEntries(0, responses.ttl)
    return held, full


@pytest.fixture
def full_path_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per request that reached Strawberry's view."""
    runs: list[int] = []
    run = GuardedGraphQL.run

    async def counted(self: GuardedGraphQL, *args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return await run(self, *args, **kwargs)

    monkeypatch.setattr(GuardedGraphQL, "run", counted)
    return runs


def sidebar_body(customer_id: str) -> bytes:
    return orjson.dumps({"query": SIDEBAR, "variables": {"id": customer_id}})


async def post(
    gateway: Gateway,
    content: bytes,
    headers: dict[str, str] | None = None,
    *,
    method: str = "POST",
    url: str = "/graphql",
) -> httpx.Response:
    base = {"content-type": "application/json", **ADMIN}
    return await gateway.http.request(
        method, url, content=content, headers={**base, **(headers or {})}
    )


def answer(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, list(response.headers.multi_items()), response.content


async def both(
    pair: tuple[Gateway, Gateway], content: bytes, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, httpx.Response]:
    held, full = pair
    return await post(held, content, headers), await post(full, content, headers)


async def role_headers(gateway: Gateway, role: Role) -> dict[str, str]:
    if role is Role.ADMIN:
        return dict(ADMIN)
    key, _ = await create_key(gateway.services.sessions, f"lane-{role}", role)
    return {"Authorization": f"Bearer {key}"}


ACCEPTS = [None, "application/json", "application/graphql-response+json", "*/*"]


SHAPES: dict[str, tuple[str, bool]] = {
    # a shape's document, and whether it takes the customer's id
    "sidebar": (SIDEBAR, True),
    "360 view": (CUSTOMER_360.document, True),
    "page": (
        "query Page { customers(first: 10) "
        "{ edges { node { id displayName email phone tags } } } }",
        False,
    ),
}


@pytest.mark.parametrize("role", sorted(GRANTABLE_ROLES))
@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_every_role_gets_from_the_lane_what_the_full_path_answers(
    pair: tuple[Gateway, Gateway], full_path_runs: list[int], role: Role, shape: str
) -> None:
    held, full = pair
    customer_id = await first_customer(held)
    headers = await role_headers(held, role)
    document, by_id = SHAPES[shape]
    variables = {"id": customer_id} if by_id else {}
    content = orjson.dumps({"query": document, "variables": variables})
    first = await post(held, content, headers)  # executed, stored, held
    assert first.status_code == 200, first.text
    assert "errors" not in first.json(), first.text
    executed = await reads_of(pair, customer_id)
    for accept in ACCEPTS:
        wanted = headers if accept is None else {**headers, "accept": accept}
        full_path_runs.clear()
        lane, through = await both(pair, content, wanted)
        assert len(full_path_runs) == 1  # the lane answered, the other ran
        assert answer(lane) == answer(through)
        assert lane.content == first.content
    # one hit each through the lane and the full path, audited as executed
    reads = await reads_of(pair, customer_id)
    assert len(reads) == len(executed) * (1 + 2 * len(ACCEPTS))
    assert set(reads) == set(executed)


async def reads_of(
    pair: tuple[Gateway, Gateway], customer_id: str
) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    """The audit's read entries of a customer: who, as what, which fields."""
    for gateway in pair:
        await gateway.services.audit.flush()
    pk = decode_global_id(customer_id, "Customer")[1]
    return [
        (e.subject, e.role, e.operation, tuple(sorted(e.fields)))
        for e in await entries_for(pair[0].services.sessions, pk)
        if e.action == "read"
    ]


async def test_a_held_hit_takes_one_token_reads_versions_and_runs_nothing(
    pair: tuple[Gateway, Gateway],
    full_path_runs: list[int],
    readings: list[list[str]],  # noqa: F811
) -> None:
    held, _ = pair
    customer_id = await first_customer(held)
    content = sidebar_body(customer_id)
    await post(held, content)
    readings.clear()
    full_path_runs.clear()
    held.simulators.reset_counts()
    response = await post(held, content)
    assert response.status_code == 200
    assert full_path_runs == []
    assert len(readings) == 1
    assert not any(":response:" in key for key in readings[0])  # versions only
    assert sum(held.simulators.total_requests().values()) == 0


def counted(operation: str) -> tuple[float, float]:
    """The operation's answers so far: ``ok`` ones, and timed ones."""
    ok = REGISTRY.get_sample_value(
        "customer_graph_graphql_requests_total",
        {"operation": operation, "outcome": "ok"},
    )
    timed = REGISTRY.get_sample_value(
        "customer_graph_graphql_request_duration_seconds_count",
        {"operation": operation},
    )
    return ok or 0.0, timed or 0.0


@pytest.mark.parametrize("answered", ["executed", "stored, full path", "held, lane"])
async def test_every_answer_is_counted_once_in_its_operations_series(
    pair: tuple[Gateway, Gateway], full_path_runs: list[int], answered: str
) -> None:
    """``customer_graph_graphql_requests_total`` and the latency histogram
    count the answers from the response cache too (most of a warm load)."""
    held, full = pair
    customer_id = await first_customer(held)
    content = sidebar_body(customer_id)
    if answered != "executed":
        await post(held, content)  # executed, stored, held by the first
    before = counted("Sidebar")
    full_path_runs.clear()
    response = await post(full if answered == "stored, full path" else held, content)
    assert response.status_code == 200, response.text
    assert bool(full_path_runs) is (answered != "held, lane")
    assert counted("Sidebar") == (before[0] + 1, before[1] + 1)


async def test_a_stale_copy_goes_the_full_path_with_the_token_it_took(
    pair: tuple[Gateway, Gateway],
    full_path_runs: list[int],
    readings: list[list[str]],  # noqa: F811
) -> None:
    """A change through the other replica: the lane's read finds the copy
    stale and hands the request on with what it read; the full path takes
    no second token and answers the change."""
    held, full = pair
    customer_id = await first_customer(held)
    content = sidebar_body(customer_id)
    await post(held, content)
    await tag_customer(full, customer_id, "lane")
    readings.clear()
    full_path_runs.clear()
    response = await post(held, content)
    assert "lane" in response.json()["data"]["customer"]["tags"]
    assert len(readings) == 1
    assert len(full_path_runs) == 1
    full_path_runs.clear()
    assert (await post(held, content)).content == response.content  # held again
    assert full_path_runs == []


def batch(content: bytes) -> bytes:
    return b"[" + content + b"]"


def with_field(content: bytes, **fields: object) -> bytes:
    return orjson.dumps({**orjson.loads(content), **fields})


VARIANTS: dict[str, tuple[Any, dict[str, str]]] = {
    # what the lane leaves to the full path, answered the same by both
    "a batch": (batch, {}),
    "text/plain": (lambda c: c, {"content-type": "text/plain"}),
    "JSON in upper case": (lambda c: c, {"content-type": "APPLICATION/JSON"}),
    "a form": (lambda c: c, {"content-type": "application/x-www-form-urlencoded"}),
    "gzipped": (gzip.compress, {"content-encoding": "gzip"}),
    "declared br": (lambda c: c, {"content-encoding": "br"}),
    "multipart Accept": (lambda c: c, {"accept": "multipart/mixed"}),
    "event-stream Accept": (lambda c: c, {"accept": "text/event-stream"}),
    "operationName a number": (lambda c: with_field(c, operationName=1), {}),
    "extensions a list": (lambda c: with_field(c, extensions=[]), {}),
    "variables a string": (lambda c: with_field(c, variables="x"), {}),
    "not JSON": (lambda c: c[:-1], {}),
    "JSON not an object": (lambda c: b'"query"', {}),
    "a bad persisted query": (
        lambda c: with_field(c, extensions={"persistedQuery": {"version": 2}}),
        {},
    ),
    "another operation name": (lambda c: with_field(c, operationName="Other"), {}),
    "no credentials": (lambda c: c, {"Authorization": ""}),
    "a wrong key": (lambda c: c, {"Authorization": "Bearer cg_nobody"}),
}


@pytest.mark.single_redis  # the lane leaves these before reading Redis; the
# full path's answers are held on the cluster by the response cache's tests
@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_what_the_lane_leaves_is_answered_as_before(
    pair: tuple[Gateway, Gateway], variant: str
) -> None:
    held, _ = pair
    customer_id = await first_customer(held)
    content = sidebar_body(customer_id)
    await post(held, content)  # held: a request on the lane's doorstep
    change, headers = VARIANTS[variant]
    lane, through = await both(pair, change(content), headers)
    assert lane.status_code == through.status_code
    assert lane.content == through.content
    assert lane.headers.get("content-type") == through.headers.get("content-type")


@pytest.mark.parametrize(
    "replicas", [{"rate_limit_burst": 2, "rate_limit_per_minute": 1}], indirect=True
)
async def test_the_rate_limit_refuses_on_the_lane_as_on_the_full_path(
    pair: tuple[Gateway, Gateway], full_path_runs: list[int]
) -> None:
    held, full = pair
    key, _ = await create_key(held.services.sessions, "lane-limited", Role.SUPPORT)
    headers = {"Authorization": f"Bearer {key}"}
    content = sidebar_body(await first_customer(held))  # the admin's token
    assert (await post(held, content, headers)).status_code == 200
    assert (await post(held, content, headers)).status_code == 200  # held
    full_path_runs.clear()
    lane = await post(held, content, headers)
    through = await post(full, content, headers)
    assert full_path_runs == [1]  # the refusal on the lane ran nothing
    assert (lane.status_code, through.status_code) == (429, 429)
    assert lane.content == through.content
    assert lane.headers["retry-after"]
    assert through.headers["retry-after"]


async def test_a_body_over_the_limit_is_refused_before_the_lane(
    pair: tuple[Gateway, Gateway],
) -> None:
    held, full = pair
    customer_id = await first_customer(held)
    await post(held, sidebar_body(customer_id))
    limit = held.services.settings.max_body_bytes
    padded = with_field(sidebar_body(customer_id), padding="x" * limit)
    lane, through = await both(pair, padded)
    assert (lane.status_code, through.status_code) == (413, 413)
    assert lane.content == through.content


@pytest.mark.parametrize("replicas", [{"persisted_queries_only": True}], indirect=True)
async def test_a_request_the_lane_leaves_looks_up_its_persisted_query_once(
    pair: tuple[Gateway, Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The allowlist's look-up, made by the lane, goes on with the request:
    the full path does not make it again."""
    held, full = pair
    for document in (FIRST_CUSTOMER, SIDEBAR):
        await register(held.services.sessions, document)
    customer_id = await first_customer(held)
    assert (await post(held, sidebar_body(customer_id))).status_code == 200  # held
    looked_up: list[str] = []
    require = PersistedQueries._require_registered

    async def counted(self: PersistedQueries, digest: str) -> str:
        looked_up.append(digest)
        return await require(self, digest)

    monkeypatch.setattr(PersistedQueries, "_require_registered", counted)
    other = orjson.dumps({"query": SIDEBAR, "variables": {"id": customer_id + "x"}})
    for gateway in pair:  # not held: the full path answers, after the lane
        looked_up.clear()
        assert (await post(gateway, other)).status_code == 200
        assert len(looked_up) == 1
    looked_up.clear()
    assert (await post(held, sidebar_body(customer_id))).status_code == 200
    assert len(looked_up) == 1  # a held hit looks it up too: the allowlist holds
    await tag_customer_registered(full, customer_id)
    looked_up.clear()  # a stale copy: the lane's look-up goes on with it
    assert (await post(held, sidebar_body(customer_id))).status_code == 200
    assert len(looked_up) == 1


async def test_a_held_answer_waits_for_room_while_the_audit_is_full(
    pair: tuple[Gateway, Gateway],
    full_path_runs: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As on the full path (tests/integration/gateway/test_audit_surfaces.py):
    past the audit's held entries, the lane's answer waits for its writes."""
    held, _ = pair
    customer_id = await first_customer(held)
    content = sidebar_body(customer_id)
    await post(held, content)  # executed, stored, held
    audit = held.services.audit
    await audit.flush()
    full_path_runs.clear()
    response = await answered_once_room_is_made(audit, monkeypatch, post(held, content))
    assert response.status_code == 200
    assert full_path_runs == []  # the lane answered it
