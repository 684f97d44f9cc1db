"""A round's turn for a contest that names a rate: an open loop of that many
requests a second, whatever the server could answer (``bench/peers/rounds.py``;
the closed loop, each server as many as it answers, goes over sockets of its
own: ``tests/integration/test_bench_peers.py``)."""

from __future__ import annotations

import os

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request as Asked
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.load import Budget, Request
from bench.peers.rounds import CONTESTS, SAME_RATE, Contestant, turn
from bench.queries import CUSTOMER_360


async def _answer(request: Asked) -> JSONResponse:
    return JSONResponse({"data": {"customer": None}})


@pytest.fixture
async def contestant() -> Contestant:
    app = Starlette(routes=[Route("/graphql", _answer, methods=["POST"])])
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://server"
    )
    request = Request(CUSTOMER_360.document, {"id": "1"})
    return Contestant(client, {CUSTOMER_360.key: request}, os.getpid())


async def test_a_turn_at_a_rate_sends_that_many_a_second(
    contestant: Contestant,
) -> None:
    budget = Budget(concurrency=4, requests=10**6, duration=0.5)
    at_rate = await turn(contestant, CUSTOMER_360, budget, rate=20)
    # 0.5 s at 20 a second: 10 sent, the last 0.45 s after the first, all
    # answered: about 20 a second
    assert at_rate.errors == 0
    assert 15 <= at_rate.rate <= 10 / 0.45


def test_the_cpu_target_is_measured_again_at_one_rate() -> None:
    """The uncached CPU against Hive: at each server's most, and both at
    ``SAME_RATE`` (under both servers' most on the benchmark's machine)."""
    cpu = [c for c in CONTESTS if c.cpu]
    assert [c.rate for c in cpu] == [None, SAME_RATE]
    assert len({(c.shape, c.mode, c.state, c.peer) for c in cpu}) == 1
