"""The benchmark's client connection (``bench.load.KeepAlive``): requests of
pre-built bytes on one keep-alive connection, an answer counted by its status
and body; a connection the server closed while it was idle (a keep-alive
timeout between two timed requests) reconnected, not counted as an error;
a closed loop timed from its clients' connections, not before them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bench.load import Budget, KeepAlive, Request, closed_loop

ANSWER = b'{"data":{"ok":true}}'


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[int]]]:
    """A server answering each request with ``ANSWER``, then closing the
    connection (as a keep-alive timeout would); the connections it accepted."""
    accepted: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
        )
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield f"http://127.0.0.1:{port}", accepted


async def test_a_connection_closed_while_idle_is_opened_again(
    server: tuple[str, list[int]],
) -> None:
    url, accepted = server
    async with httpx.AsyncClient(base_url=url) as client:
        connection = await KeepAlive.open(client, Request("{ ok }", {}))
    try:
        assert accepted == [1]  # connected when opened: no request's time
        assert await connection.send()
        await asyncio.sleep(0.05)  # idle: the server has closed its side
        assert await connection.send()
        assert len(accepted) == 2
    finally:
        connection.close()


async def test_a_closed_loop_is_timed_once_its_clients_are_connected(
    server: tuple[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connecting slower than the load's duration (a machine stalled as the
    clients connect) still sends the load: the deadline begins after."""
    url, accepted = server
    connect = KeepAlive._connect

    async def stalled(self: KeepAlive) -> None:
        if not accepted:  # the clients' first connections only
            await asyncio.sleep(0.3)
        await connect(self)

    monkeypatch.setattr(KeepAlive, "_connect", stalled)
    async with httpx.AsyncClient(base_url=url) as client:
        timings = await closed_loop(client, Request("{ ok }", {}), Budget(2, 2, 0.2))
    assert timings.count == 2  # one each: the server closes after an answer
    assert timings.errors == 0
