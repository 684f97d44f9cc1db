"""Credentials re-checked on open sockets: a subscription of a revoked API key
is closed within the key memory (``KEY_MEMORY_SECONDS``, the documented 10 s),
an embed token's at its expiry, both with a 44xx close code."""

from __future__ import annotations

import asyncio
import time

import pytest
import websockets

from gateway.auth.authenticate import KEY_MEMORY_SECONDS
from gateway.auth.embed_tokens import create_token
from gateway.auth.keys import create_key, revoke_key
from gateway.auth.policy import Role
from tests.security.conftest import Stage
from tests.security.surfaces import WS_REFUSAL_CODES, subscribed

pytestmark = pytest.mark.storage_independent

SLACK = 3.0
"""Seconds allowed past the deadline (a re-check runs on a timer)."""
TOKEN_SECONDS = 5
"""The embed token's life: long enough to subscribe before it ends (a 2 s
token once ended before the socket's ``connection_init`` was answered, the
suite's other workers sharing the machine's two cores: 4403 at once)."""
DOCUMENT = "subscription($id: ID!) { customerTimeline(customerId: $id) { __typename } }"


async def closed_within(ws: websockets.ClientConnection, seconds: float) -> int | None:
    """The close code once the server closes the socket, ``None`` if it stays
    open for ``seconds`` (events that still arrive are read and dropped)."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.wait_for(ws.recv(), left)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else -1
    except TimeoutError:
        return None
    return None


async def test_a_revoked_keys_subscription_is_closed_within_the_key_memory(
    stage: Stage,
) -> None:
    key, info = await create_key(
        stage.services.sessions, f"sec-ws-{time.monotonic_ns()}", Role.SUPPORT
    )
    init = {"Authorization": f"Bearer {key}"}
    variables = {"id": stage.subject.gid}
    async with subscribed(stage, "/graphql", init, DOCUMENT, variables) as ws:
        await revoke_key(stage.services.sessions, info.name)
        code = await closed_within(ws, KEY_MEMORY_SECONDS + SLACK)
    assert code in WS_REFUSAL_CODES, (
        f"still open (or closed with {code}) after revocation"
    )


async def test_an_embed_subscription_is_closed_when_its_token_expires(
    stage: Stage,
) -> None:
    secret = stage.services.settings.secret_key.get_secret_value()
    token, _ = create_token(secret, stage.subject.pk, TOKEN_SECONDS)
    variables = {"id": stage.subject.gid}
    async with subscribed(
        stage, f"/embed/graphql?token={token}", {}, DOCUMENT, variables
    ) as ws:
        code = await closed_within(ws, TOKEN_SECONDS + SLACK)
    assert code in WS_REFUSAL_CODES, f"still open (or closed with {code}) after expiry"
