"""The Klaviyo simulator driven by what we did not write: Klaviyo's official
Python SDK (``klaviyo-api``, pointed at the simulator with ``test_host``),
which parses every answer into its own models, and the published OpenAPI
spec (``klaviyo_spec``), which every answer read raw is checked against.

The SDK is synchronous: it runs in a thread while uvicorn serves the
simulator in the test's event loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx
import pytest
from klaviyo_api import KlaviyoAPI
from openapi_client.exceptions import ApiException

from connectors.demo_world import World
from connectors.klaviyo.limits import REVISION
from connectors.klaviyo.simulator.server import KlaviyoSimulator
from connectors.simulator_server import serve_app
from tests.integration.connectors.klaviyo_spec import check_response

KEY = "pk_sdk_test_key"
T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> KlaviyoSimulator:
    return KlaviyoSimulator(World(seed=11, size=30), api_key=KEY, clock=clock)


@pytest.fixture
async def base_url(sim: KlaviyoSimulator) -> AsyncIterator[str]:
    async with serve_app(sim.app) as url:
        yield url


@pytest.fixture
def sdk(base_url: str) -> KlaviyoAPI:
    return KlaviyoAPI(KEY, max_delay=1, max_retries=2, test_host=base_url)


@pytest.fixture
async def raw(sim: KlaviyoSimulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Klaviyo-API-Key {KEY}", "revision": REVISION}
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://klaviyo.test", headers=headers
    ) as client:
        yield client


async def run(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await asyncio.to_thread(call, *args, **kwargs)


def newsletter(sim: KlaviyoSimulator) -> str:
    return next(i for i, item in sim.account.lists.items() if item.name == "Newsletter")


def by_name(sim: KlaviyoSimulator, name: str) -> str:
    return next(i for i, item in sim.account.lists.items() if item.name == name)


def subscribe(list_id: str, *emails: str) -> dict[str, Any]:
    profiles = [
        {
            "type": "profile",
            "attributes": {
                "email": email,
                "subscriptions": {"email": {"marketing": {"consent": "SUBSCRIBED"}}},
            },
        }
        for email in emails
    ]
    return {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {"profiles": {"data": profiles}},
            "relationships": {"list": {"data": {"type": "list", "id": list_id}}},
        }
    }


def unsubscribe(list_id: str, *emails: str) -> dict[str, Any]:
    body = subscribe(list_id, *emails)
    body["data"]["type"] = "profile-subscription-bulk-delete-job"
    for profile in body["data"]["attributes"]["profiles"]["data"]:
        marketing = profile["attributes"]["subscriptions"]["email"]["marketing"]
        marketing["consent"] = "UNSUBSCRIBED"
    return body


def marketing(profile: Any) -> Any:
    return profile.attributes.subscriptions.email.marketing


async def sdk_profile(sdk: KlaviyoAPI, email: str) -> Any:
    found = await run(
        sdk.Profiles.get_profiles,
        filter=f'equals(email,"{email}")',
        additional_fields_profile=["subscriptions"],
    )
    assert len(found.data) == 1
    return found.data[0]


async def test_the_sdk_reads_the_lists_and_every_raw_answer_matches_the_spec(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI, raw: httpx.AsyncClient
) -> None:
    page = await run(sdk.Lists.get_lists)
    assert {item.attributes.name for item in page.data} == {
        "Newsletter",
        "VIP early access",
        "Win-back",
    }
    one = await run(sdk.Lists.get_list, newsletter(sim))
    assert one.data.attributes.opt_in_process == "single_opt_in"

    lists = await raw.get("/api/lists")
    check_response("/api/lists", "get", 200, lists.json())
    single = await raw.get(f"/api/lists/{newsletter(sim)}/")
    check_response("/api/lists/{id}", "get", 200, single.json())
    profiles = await raw.get(
        "/api/profiles",
        params={"page[size]": "5", "additional-fields[profile]": "subscriptions"},
    )
    check_response("/api/profiles", "get", 200, profiles.json())
    assert lists.headers["content-type"] == "application/vnd.api+json"
    assert "page%5Bcursor%5D" in profiles.json()["links"]["next"]


async def test_a_subscribe_job_is_accepted_at_once_and_runs_later(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI, clock: Clock
) -> None:
    vip = by_name(sim, "VIP early access")
    answer = await run(
        sdk.Profiles.bulk_subscribe_profiles, subscribe(vip, "Ana@Example.com")
    )
    assert answer is None  # 202, no body
    assert [job.status for job in sim.jobs] == ["queued"]
    assert sim.list_emails(vip) == set()
    clock.now += 2.0
    assert sim.list_emails(vip) == {"ana@example.com"}
    assert [job.status for job in sim.jobs] == ["complete"]
    profile = await sdk_profile(sdk, "ana@example.com")
    assert marketing(profile).consent == "SUBSCRIBED"
    assert marketing(profile).can_receive_email_marketing is True


async def test_subscribing_lifts_an_unsubscribe_but_not_a_hard_bounce(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI, clock: Clock
) -> None:
    vip = by_name(sim, "VIP early access")
    await run(
        sdk.Profiles.bulk_subscribe_profiles,
        subscribe(vip, "a@x.example", "b@x.example"),
    )
    sim.run_jobs()
    sim.account.suppress("a@x.example", "UNSUBSCRIBE")
    sim.account.suppress("b@x.example", "HARD_BOUNCE")
    await run(
        sdk.Profiles.bulk_subscribe_profiles,
        subscribe(vip, "a@x.example", "b@x.example"),
    )
    sim.run_jobs()
    lifted = marketing(await sdk_profile(sdk, "a@x.example"))
    bounced = marketing(await sdk_profile(sdk, "b@x.example"))
    assert (lifted.consent, lifted.can_receive_email_marketing) == ("SUBSCRIBED", True)
    assert [s.reason for s in bounced.suppression] == ["HARD_BOUNCE"]
    assert bounced.can_receive_email_marketing is False


async def test_unsubscribing_is_for_the_profile_and_takes_it_off_the_list(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI
) -> None:
    vip, news = by_name(sim, "VIP early access"), newsletter(sim)
    await run(sdk.Profiles.bulk_subscribe_profiles, subscribe(vip, "c@x.example"))
    await run(sdk.Profiles.bulk_subscribe_profiles, subscribe(news, "c@x.example"))
    sim.run_jobs()
    await run(sdk.Profiles.bulk_unsubscribe_profiles, unsubscribe(vip, "c@x.example"))
    sim.run_jobs()
    assert "c@x.example" not in sim.list_emails(vip)
    assert "c@x.example" in sim.list_emails(news)  # membership stays elsewhere
    gone = marketing(await sdk_profile(sdk, "c@x.example"))
    assert (gone.consent, gone.can_receive_email_marketing) == ("UNSUBSCRIBED", False)


async def test_removing_from_a_list_leaves_consent_alone(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI
) -> None:
    vip = by_name(sim, "VIP early access")
    await run(sdk.Profiles.bulk_subscribe_profiles, subscribe(vip, "d@x.example"))
    sim.run_jobs()
    profile = await sdk_profile(sdk, "d@x.example")
    body = {"data": [{"type": "profile", "id": profile.id}]}
    assert await run(sdk.Lists.remove_profiles_from_list, vip, body) is None
    assert sim.list_emails(vip) == set()
    assert marketing(await sdk_profile(sdk, "d@x.example")).consent == "SUBSCRIBED"


async def test_a_double_opt_in_list_waits_for_the_confirmation(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI
) -> None:
    winback = by_name(sim, "Win-back")
    await run(sdk.Profiles.bulk_subscribe_profiles, subscribe(winback, "e@x.example"))
    sim.run_jobs()
    assert sim.list_emails(winback) == set()
    assert (
        marketing(await sdk_profile(sdk, "e@x.example")).consent == "NEVER_SUBSCRIBED"
    )
    sim.account.confirm(winback, "e@x.example")
    assert sim.list_emails(winback) == {"e@x.example"}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (
            subscribe("Y6nRLr", "not-an-email"),
            "/data/attributes/profiles/data/0/attributes/email",
        ),
        (
            {"data": {"type": "profile-subscription-bulk-create-job"}},
            "/data/attributes",
        ),
        (
            json.loads(
                json.dumps(subscribe("Y6nRLr", "f@x.example")).replace(
                    '"SUBSCRIBED"', '"UNSUBSCRIBED"'
                )
            ),
            "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent",
        ),
        (
            subscribe("Y6nRLr", *[f"u{i}@x.example" for i in range(1001)]),
            "/data/attributes/profiles/data",
        ),
    ],
    ids=["bad email", "no attributes", "wrong consent", "over 1000"],
)
async def test_an_invalid_job_is_a_400_naming_the_member_at_fault(
    raw: httpx.AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    """Sent raw: the SDK's own models refuse some of these before sending."""
    response = await raw.post(
        "/api/profile-subscription-bulk-create-jobs",
        json=body,
        headers={"Content-Type": "application/vnd.api+json"},
    )
    assert response.status_code == 400
    answer = response.json()
    check_response("/api/profile-subscription-bulk-create-jobs", "post", 400, answer)
    [error] = answer["errors"]
    assert (error["status"], error["code"]) == (400, "invalid")
    assert error["source"] == {"pointer": pointer}


async def test_the_sdk_meets_the_same_400_for_an_address_it_cannot_judge(
    sdk: KlaviyoAPI,
) -> None:
    with pytest.raises(ApiException) as raised:
        await run(sdk.Profiles.bulk_subscribe_profiles, subscribe("Y6nRLr", "x@y"))
    assert raised.value.status == 400
    [error] = json.loads(raised.value.body)["errors"]
    assert error["source"]["pointer"].endswith("/attributes/email")


async def test_unsubscribing_more_than_100_at_once_is_refused(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI
) -> None:
    body = unsubscribe(newsletter(sim), *[f"v{i}@x.example" for i in range(101)])
    with pytest.raises(ApiException) as raised:
        await run(sdk.Profiles.bulk_unsubscribe_profiles, body)
    assert raised.value.status == 400
    assert sim.jobs == []


async def test_creating_a_profile_twice_is_a_409_naming_the_first(
    sdk: KlaviyoAPI,
) -> None:
    body = {"data": {"type": "profile", "attributes": {"email": "g@x.example"}}}
    created = await run(sdk.Profiles.create_profile, body)
    with pytest.raises(ApiException) as raised:
        await run(sdk.Profiles.create_profile, body)
    assert raised.value.status == 409
    [error] = json.loads(raised.value.body)["errors"]
    assert error["code"] == "duplicate_profile"
    assert error["meta"] == {"duplicate_profile_id": created.data.id}
    body["data"]["attributes"]["properties"] = {"promo": "BDAY-20"}
    updated = await run(sdk.Profiles.create_or_update_profile, body)
    assert updated.data.id == created.data.id
    assert updated.data.attributes.properties == {"promo": "BDAY-20"}


async def test_credentials_revision_and_media_type_are_required(
    sim: KlaviyoSimulator, raw: httpx.AsyncClient
) -> None:
    keyless = await raw.get("/api/lists", headers={"Authorization": ""})
    wrong = await raw.get("/api/lists", headers={"Authorization": "Klaviyo-API-Key x"})
    undated = await raw.get("/api/lists", headers={"revision": ""})
    form = await raw.post(
        "/api/profile-import", content=b"a=b", headers={"Content-Type": "text/plain"}
    )
    assert [r.status_code for r in (keyless, wrong, undated, form)] == [
        401,
        401,
        400,
        415,
    ]
    assert keyless.json()["errors"][0]["code"] == "not_authenticated"
    assert wrong.json()["errors"][0]["code"] == "authentication_failed"
    assert undated.json()["errors"][0]["source"] == {"parameter": "revision"}
    for answer in (keyless, wrong, undated):
        check_response("/api/lists", "get", answer.status_code, answer.json())


async def test_each_endpoint_has_its_own_burst_and_steady_windows(
    sim: KlaviyoSimulator, raw: httpx.AsyncClient, clock: Clock
) -> None:
    path = f"/api/lists/{newsletter(sim)}/relationships/profiles"
    body = json.dumps({"data": [{"type": "profile", "id": "01X"}]})
    headers = {"Content-Type": "application/vnd.api+json"}

    async def remove() -> httpx.Response:
        return await raw.request("DELETE", path, content=body, headers=headers)

    clock.now = 60_000.0  # the start of a minute
    burst = [await remove() for _ in range(11)]
    assert [r.status_code for r in burst] == [204] * 10 + [429]
    refused = burst[-1]
    assert refused.headers["Retry-After"] == "1"
    assert "RateLimit-Remaining" not in refused.headers
    assert refused.json()["errors"][0]["code"] == "throttled"
    assert burst[0].headers["RateLimit-Limit"] == "150"
    assert (await raw.get("/api/lists")).status_code == 200  # another endpoint
    for second in range(1, 15):
        clock.now = 60_000.0 + second
        assert all([(await remove()).status_code == 204 for _ in range(10)])
    clock.now = 60_015.0
    steady = await remove()
    assert steady.status_code == 429
    assert steady.headers["Retry-After"] == "45"
    clock.now = 60_060.0
    assert (await remove()).status_code == 204


async def test_the_sdk_waits_out_a_429_and_reads(
    sim: KlaviyoSimulator, sdk: KlaviyoAPI
) -> None:
    sim.force_rate_limit(1, retry_after=0)
    page = await run(sdk.Lists.get_lists)
    assert len(page.data) == 3
    assert sim.requests["get-lists"] == 2
