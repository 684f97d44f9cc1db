"""A Klaviyo API on loopback, for tests and the demo.

Serves what ``KlaviyoConnector`` and an audience sync use, as the OpenAPI
spec (revision 2026-07-15) describes it: profiles (get with filters, create,
create or update), the bulk subscribe and unsubscribe jobs, lists and their
members. Klaviyo's behaviours are on by default: the private key in
``Authorization: Klaviyo-API-Key …`` (401 otherwise), a ``revision`` header
on every request, JSON:API bodies checked member by member (``bodies.py``:
400 with ``source.pointer``), every endpoint's burst and steady windows
(``limits.py``: 429 with ``Retry-After``), jobs that run after they were
accepted (``jobs.py``), consent and suppressions (``account.py``)::

    sim = KlaviyoSimulator(World(seed=7, size=50), job_delay=0, clock=clock)
    sim.force_rate_limit(1, retry_after=0)
    async with serve_app(sim.app) as base_url: ...
    sim.requests["bulk-subscribe"]  # jobs the sync sent
    sim.list_emails(list_id)        # who is on the list, jobs run when due
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.demo_world import World
from connectors.klaviyo.limits import ENDPOINTS, LISTS_PAGE, PROFILES_PAGE, Limit
from connectors.klaviyo.simulator import bodies
from connectors.klaviyo.simulator.account import Account, Profile, build_account
from connectors.klaviyo.simulator.answers import (
    ApiError,
    authentication_failed,
    bad_parameter,
    document,
    injected,
    not_authenticated,
    throttled,
    without_trailing_slash,
)
from connectors.klaviyo.simulator.jobs import Job, Jobs
from connectors.klaviyo.simulator.limits import EndpointLimits
from connectors.klaviyo.simulator.queries import (
    COMPARISONS,
    EQUALITY,
    page,
    page_size,
    read_filter,
    sort_profiles,
)
from connectors.simulator_server import (
    QUIET_DISCONNECTS,
    InjectedFailures,
    RequestCounter,
    answered_after,
)

Handler = Callable[[Request], Awaitable[Response]]

LIMITS: dict[str, Limit] = {
    **ENDPOINTS,
    "list-profile-ids": Limit(burst=75, steady=750),
    "get-list-profile-count": Limit(burst=1, steady=15),
}
"""The connector's endpoints, and two more the simulator serves: Get Profile
IDs for List (75/s, 750/m) and Get List with ``additional-fields[list]=
profile_count`` (1/s, 15/m: "Rate limits when using the additional-fields
[list]=profile_count parameter")."""
JOB_DELAY = 2.0
REVISION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
JSON_BODIES = ("application/json", "application/vnd.api+json")
PROFILE_FILTERS: dict[str, tuple[str, ...]] = {
    "id": EQUALITY,
    "email": EQUALITY,
    "phone_number": EQUALITY,
    "external_id": EQUALITY,
    "created": ("greater-than", "less-than"),
    "updated": ("greater-than", "less-than"),
    "subscriptions.email.marketing.suppression.reason": ("equals",),
    "subscriptions.email.marketing.suppression.timestamp": COMPARISONS,
}
"""Get Profiles' ``filter`` fields and operators (the spec's, less
``_kx`` and list suppressions)."""


@dataclass(frozen=True, slots=True)
class _Endpoint:
    name: str
    """The key of ``requests`` and of the limits its calls count under."""
    path: str
    handler: Handler
    method: str = "GET"


class KlaviyoSimulator(InjectedFailures):
    def __init__(
        self,
        world: World | None = None,
        *,
        api_key: str = "pk_demo_klaviyo",
        latency: float = 0.0,
        limits: Mapping[str, Limit] | None = None,
        job_delay: float = JOB_DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Klaviyo's limits unless ``limits`` overrides some endpoints';
        ``clock`` (seconds) drives the windows and the jobs, so a test moves
        time instead of waiting."""
        self.account: Account = build_account(world)
        self.latency = latency
        self.limits = EndpointLimits(clock, {**LIMITS, **(limits or {})})
        self.job_queue = Jobs(clock, job_delay)
        self.requests = RequestCounter()
        self.last_headers = Headers()
        self._key = f"Klaviyo-API-Key {api_key}"
        super().__init__()
        endpoints = [
            _Endpoint("get-profiles", "/profiles", self._profiles),
            _Endpoint("create-profile", "/profiles", self._create, "POST"),
            _Endpoint("profile-import", "/profile-import", self._import, "POST"),
            _Endpoint(
                "bulk-subscribe",
                "/profile-subscription-bulk-create-jobs",
                self._subscribe,
                "POST",
            ),
            _Endpoint(
                "bulk-unsubscribe",
                "/profile-subscription-bulk-delete-jobs",
                self._unsubscribe,
                "POST",
            ),
            _Endpoint("get-lists", "/lists", self._lists),
            _Endpoint("get-list", "/lists/{id}", self._list),
            _Endpoint(
                "list-profile-ids", "/lists/{id}/relationships/profiles", self._members
            ),
            _Endpoint(
                "remove-from-list",
                "/lists/{id}/relationships/profiles",
                self._remove,
                "DELETE",
            ),
        ]
        self.app = without_trailing_slash(
            Starlette(
                routes=[
                    Route("/api" + e.path, self._guarded(e), methods=[e.method])
                    for e in endpoints
                ],
                exception_handlers=QUIET_DISCONNECTS,
            )
        )

    @property
    def jobs(self) -> list[Job]:
        """Every job accepted, queued or complete."""
        return self.job_queue.all

    def run_jobs(self) -> int:
        """Run every queued job now, whatever the clock says."""
        return self.job_queue.run_due(everything=True)

    def list_emails(self, list_id: str) -> set[str]:
        """The emails on a list, once the jobs due have run."""
        self.job_queue.run_due()
        members = self.account.get_list(list_id).members
        return {
            email
            for pid in members
            if (email := self.account.profiles[pid].email) is not None
        }

    def profile(self, email: str) -> Profile | None:
        self.job_queue.run_due()
        return self.account.find({"email": email.lower()})

    def _guarded(self, endpoint: _Endpoint) -> Handler:
        async def answer(request: Request) -> Response:
            self.requests.add(endpoint.name)
            self.last_headers = request.headers
            limit = _limit_of(endpoint.name, request)
            async with answered_after(self.latency):
                self.job_queue.run_due()
                try:
                    self._gate(request, limit)
                    response = await endpoint.handler(request)
                except ApiError as error:
                    response = error.response()
            if response.status_code != 429:
                response.headers.update(self.limits.headers(limit))
            return response

        return answer

    def _gate(self, request: Request, limit: str) -> None:
        """Authentication, then the throttles, then the request's own
        checks — the order of Django REST framework's views."""
        failure = self.next_failure()
        if failure is not None:
            status, retry_after = failure
            raise throttled(int(retry_after)) if status == 429 else injected(status)
        given = request.headers.get("Authorization")
        if not given or not given.startswith("Klaviyo-API-Key "):
            raise not_authenticated()
        if given != self._key:
            raise authentication_failed()
        wait = self.limits.admit(limit)
        if wait is not None:
            raise throttled(wait)
        revision = request.headers.get("revision", "")
        if not REVISION_FORMAT.match(revision):
            raise bad_parameter(
                "A valid revision header (YYYY-MM-DD) is required.", "revision"
            )  # [unverified: Klaviyo's wording]
        if request.method in ("POST", "PATCH", "DELETE"):
            media = request.headers.get("Content-Type", "").split(";")[0].strip()
            if media not in JSON_BODIES:
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    "Unsupported media type.",
                    f'Unsupported media type "{media}" in request.',
                )

    async def _profiles(self, request: Request) -> Response:
        conditions = read_filter(request, PROFILE_FILTERS)
        profiles = [
            p
            for p in self.account.profiles.values()
            if all(c.matches(p.filter_values(c.field)) for c in conditions)
        ]
        profiles = sort_profiles(profiles, request.query_params.get("sort"))
        size = page_size(request, 20, PROFILES_PAGE)
        chunk, links = page(request, profiles, size)
        extra = request.query_params.get("additional-fields[profile]", "")
        with_subscriptions = "subscriptions" in extra.split(",")
        data = [
            p.as_json(_base(request), subscriptions=with_subscriptions) for p in chunk
        ]
        return document({"data": data, "links": links})

    async def _create(self, request: Request) -> Response:
        attributes, _ = bodies.profile(bodies.parse(await request.body()))
        created = self.account.create(attributes)
        return document({"data": created.as_json(_base(request))}, 201)

    async def _import(self, request: Request) -> Response:
        attributes, profile_id = bodies.profile(bodies.parse(await request.body()))
        profile, created = self.account.upsert(attributes, profile_id)
        return document(
            {"data": profile.as_json(_base(request))}, 201 if created else 200
        )

    async def _subscribe(self, request: Request) -> Response:
        job = bodies.subscribe_job(bodies.parse(await request.body()))
        if job.list_id is not None:
            self.account.get_list(job.list_id)
        self._accept(
            "bulk-subscribe",
            job,
            lambda: self.account.subscribe(
                job.list_id, job.profiles, job.custom_source
            ),
        )
        return Response(status_code=202)

    async def _unsubscribe(self, request: Request) -> Response:
        job = bodies.unsubscribe_job(bodies.parse(await request.body()))
        if job.list_id is not None:
            self.account.get_list(job.list_id)
        self._accept(
            "bulk-unsubscribe",
            job,
            lambda: self.account.unsubscribe(job.list_id, job.profiles),
        )
        return Response(status_code=202)

    def _accept(self, kind: str, job: bodies.Job, work: Callable[[], None]) -> None:
        emails = tuple(p["email"] for p in job.profiles if p["email"])
        self.job_queue.accept(kind, job.list_id, emails, work)

    async def _lists(self, request: Request) -> Response:
        conditions = read_filter(request, {"id": EQUALITY, "name": EQUALITY})
        lists = [
            item
            for item in self.account.lists.values()
            if all(c.matches([getattr(item, c.field)]) for c in conditions)
        ]
        chunk, links = page(request, lists, page_size(request, 10, LISTS_PAGE))
        return document(
            {"data": [item.as_json(_base(request)) for item in chunk], "links": links}
        )

    async def _list(self, request: Request) -> Response:
        found = self.account.get_list(request.path_params["id"])
        extra = request.query_params.get("additional-fields[list]", "")
        counted = "profile_count" in extra.split(",")
        return document({"data": found.as_json(_base(request), profile_count=counted)})

    async def _members(self, request: Request) -> Response:
        found = self.account.get_list(request.path_params["id"])
        conditions = read_filter(request, {"email": EQUALITY, "phone_number": EQUALITY})
        ids = [
            pid
            for pid in found.members
            if all(
                c.matches(self.account.profiles[pid].filter_values(c.field))
                for c in conditions
            )
        ]
        chunk, links = page(request, ids, page_size(request, 20, PROFILES_PAGE))
        data = [{"type": "profile", "id": pid} for pid in chunk]
        return document({"data": data, "links": links})

    async def _remove(self, request: Request) -> Response:
        list_id = request.path_params["id"]
        ids = bodies.list_members(bodies.parse(await request.body()))
        self.account.remove(list_id, ids)
        return Response(status_code=204)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _limit_of(name: str, request: Request) -> str:
    extra = request.query_params.get("additional-fields[list]", "")
    if name == "get-list" and "profile_count" in extra.split(","):
        return "get-list-profile-count"
    return name
