"""``KlaviyoConnector`` against the simulator over real HTTP: every body it
sends checked against Klaviyo's published OpenAPI spec, the documented batch
sizes, pages to the end, and the error table — a 429 waited out by its
``Retry-After`` (or answered at once past the deadline), 5xx retried, 401
fatal, 404 as ``None``, 400 as a bad answer. Counts, never time."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.demo_world import World
from connectors.errors import (
    UpstreamAuthError,
    UpstreamBadResponse,
    UpstreamNotFound,
    UpstreamRateLimited,
)
from connectors.klaviyo.client import KlaviyoConnector
from connectors.klaviyo.limits import ENDPOINTS, Limit
from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.retry import RetryPolicy
from connectors.scope import Priority, call_scope
from connectors.simulator_server import serve_app
from tests.conftest import ANSWER_WAIT
from tests.integration.connectors.klaviyo_spec import check_request

KEY = "pk_connector_test"
RETRY = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)
GENEROUS = {name: Limit(burst=100_000, steady=100_000) for name in ENDPOINTS}


class Recorder:
    """The simulator's app, noting each request's method, path and body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.sent: list[tuple[str, str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        self.sent.append(
            (scope["method"], scope["path"], json.loads(raw) if raw else None)
        )
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self.app(scope, replay, send)


@pytest.fixture
def sim() -> KlaviyoSimulator:
    simulator = KlaviyoSimulator(World(seed=4, size=40), api_key=KEY, limits=GENEROUS)
    return simulator


@pytest.fixture
async def served(sim: KlaviyoSimulator) -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder(sim.with_faults(sim.app))
    async with serve_app(recorder) as url:
        yield recorder, url


@pytest.fixture
async def klaviyo(served: tuple[Recorder, str]) -> AsyncIterator[KlaviyoConnector]:
    connector = KlaviyoConnector(served[1], KEY, retry=RETRY)
    yield connector
    await connector.aclose()


def list_id(sim: KlaviyoSimulator, name: str = "VIP early access") -> str:
    return next(i for i, item in sim.account.lists.items() if item.name == name)


def checked(recorder: Recorder) -> int:
    """Every body sent, held to the spec's request schema; how many."""
    for method, path, body in recorder.sent:
        if method == "DELETE":
            check_request("/api/lists/{id}/relationships/profiles", "delete", body)
        elif method == "POST":
            check_request(path, "post", body)
    return len(recorder.sent)


async def test_subscribing_2500_is_three_jobs_each_body_as_the_spec_says(
    sim: KlaviyoSimulator, served: tuple[Recorder, str], klaviyo: KlaviyoConnector
) -> None:
    emails = [f"s{i}@x.example" for i in range(2500)]
    assert await klaviyo.subscribe(list_id(sim), emails) == 3
    assert sim.requests["bulk-subscribe"] == 3
    assert sorted(len(job.emails) for job in sim.jobs) == [500, 1000, 1000]
    sim.run_jobs()
    assert sim.list_emails(list_id(sim)) == set(emails)
    assert checked(served[0]) == 3


async def test_unsubscribing_250_is_three_jobs_and_removing_1500_two_calls(
    sim: KlaviyoSimulator, served: tuple[Recorder, str], klaviyo: KlaviyoConnector
) -> None:
    vip = list_id(sim)
    emails = [f"u{i}@x.example" for i in range(1500)]
    await klaviyo.subscribe(vip, emails)
    sim.run_jobs()
    assert await klaviyo.unsubscribe(vip, emails[:250]) == 3
    ids = await klaviyo.profile_ids(emails[250:])
    assert len(ids) == 1250
    assert sim.requests["get-profiles"] == 13  # 100 emails a filter
    assert await klaviyo.remove_from_list(vip, list(ids.values())) == 2
    sim.run_jobs()
    assert sim.list_emails(vip) == set()
    assert sim.profile(emails[0]).consent == "UNSUBSCRIBED"  # type: ignore[union-attr]
    assert sim.profile(emails[-1]).consent == "SUBSCRIBED"  # type: ignore[union-attr]
    checked(served[0])


async def test_a_profile_is_upserted_by_email_and_read_back_by_id(
    sim: KlaviyoSimulator, served: tuple[Recorder, str], klaviyo: KlaviyoConnector
) -> None:
    first = await klaviyo.upsert_profile("p@x.example", first_name="Pat")
    again = await klaviyo.upsert_profile(
        "P@x.example".lower(), properties={"code": "B20"}
    )
    assert first == again
    [found] = await klaviyo.customers_by_ids([first])
    assert found is not None
    assert (found.email, found.first_name) == ("p@x.example", "Pat")
    assert found.properties["code"] == "B20"
    checked(served[0])


async def test_the_lists_are_read_ten_a_page_to_the_end(
    sim: KlaviyoSimulator, klaviyo: KlaviyoConnector
) -> None:
    for number in range(22):
        sim.account.add_list(f"Campaign {number}")
    lists = await klaviyo.lists()
    assert len(lists) == 25
    assert sim.requests["get-lists"] == 3
    winback = next(item for item in lists if item.name == "Win-back")
    assert winback.double_opt_in is True
    assert await klaviyo.get_list(winback.id) == winback
    assert await klaviyo.get_list("nosuch") is None


async def test_a_429_is_waited_out_by_its_retry_after(
    sim: KlaviyoSimulator, klaviyo: KlaviyoConnector
) -> None:
    # one refusal, not the burst limit: a loaded machine could take the
    # second of its one-a-second requests past the second and see no 429
    sim.force_rate_limit(1, retry_after=1)
    emails = [f"r{i}@x.example" for i in range(1500)]
    assert await klaviyo.subscribe(list_id(sim), emails) == 2
    assert sim.requests["bulk-subscribe"] == 3  # one refused, then sent again
    assert len(sim.jobs) == 2


async def test_a_429_whose_wait_outlasts_the_deadline_is_answered_at_once(
    sim: KlaviyoSimulator, klaviyo: KlaviyoConnector
) -> None:
    sim.force_rate_limit(1, retry_after=30)
    with (
        call_scope(2.0, Priority.INTERACTIVE),
        pytest.raises(UpstreamRateLimited) as raised,
    ):
        await klaviyo.subscribe(list_id(sim), ["w@x.example"])
    assert raised.value.retry_after == 30
    assert sim.requests["bulk-subscribe"] == 1


async def test_a_503_is_retried_a_401_is_not(
    sim: KlaviyoSimulator, served: tuple[Recorder, str], klaviyo: KlaviyoConnector
) -> None:
    sim.fail_next(2, status=503)
    await klaviyo.unsubscribe(list_id(sim), ["z@x.example"])
    assert sim.requests["bulk-unsubscribe"] == 3
    revoked = KlaviyoConnector(served[1], "pk_revoked", retry=RETRY)
    with pytest.raises(UpstreamAuthError):
        await revoked.subscribe(list_id(sim), ["z@x.example"])
    await revoked.aclose()
    assert sim.requests["bulk-subscribe"] == 1


async def test_what_klaviyo_refuses_is_an_error_not_a_retry(
    sim: KlaviyoSimulator, klaviyo: KlaviyoConnector
) -> None:
    with pytest.raises(UpstreamBadResponse):
        await klaviyo.subscribe(list_id(sim), ["not-an-address"])
    with pytest.raises(UpstreamNotFound):
        await klaviyo.subscribe("nosuch", ["a@x.example"])
    assert sim.requests["bulk-subscribe"] == 2
    assert sim.jobs == []


async def test_opt_outs_since_a_time_are_read_100_a_page_with_their_reasons(
    sim: KlaviyoSimulator, klaviyo: KlaviyoConnector
) -> None:
    """The demo world's every 25th profile hard-bounced long ago; then 150
    more are suppressed now: read ever, then since the earlier ones."""
    earlier = await klaviyo.opt_outs_since(None)
    assert {o.reason for o in earlier} == {"HARD_BOUNCE"}
    emails = [f"o{i}@x.example" for i in range(150)]
    await klaviyo.subscribe(list_id(sim), emails)
    sim.run_jobs()
    for email in emails[:100]:
        sim.account.suppress(email, "UNSUBSCRIBE")
    for email in emails[100:]:
        sim.account.suppress(email, "SPAM_COMPLAINT")
    sim.requests.reset()
    since = max((o.at for o in earlier), default=None)
    found = await klaviyo.opt_outs_since(since)
    assert sim.requests["get-profiles"] == 2
    assert {o.email: o.reason for o in found} == {
        **{e: "UNSUBSCRIBE" for e in emails[:100]},
        **{e: "SPAM_COMPLAINT" for e in emails[100:]},
    }
    profile = sim.profile(emails[0])
    assert profile is not None
    assert found[0].at == profile.suppressions[-1][1] == profile.updated


async def test_the_simulator_refuses_a_filter_operator_the_field_does_not_allow(
    served: tuple[Recorder, str],
) -> None:
    headers = {"Authorization": f"Klaviyo-API-Key {KEY}", "revision": "2026-07-15"}
    async with httpx.AsyncClient(
        base_url=served[1], headers=headers, timeout=ANSWER_WAIT
    ) as client:
        bad = await client.get(
            "/api/profiles",
            params={"filter": "greater-than(email,2026-01-01T00:00:00Z)"},
        )
        both = await client.get(
            "/api/profiles",
            params={
                "filter": "greater-than(updated,2020-01-01T00:00:00Z),"
                "less-than(updated,2020-01-02T00:00:00Z)"
            },
        )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["source"] == {"parameter": "filter"}
    assert (both.status_code, both.json()["data"]) == (200, [])
