"""``OneWriteProtocol`` (gateway/runtime/one_write.py): a response's head and
body leave in one write on the socket; a streamed body still leaves as it is
sent; a closing response is written before the socket closes; a WebSocket
upgrade still works. On uvicorn's real protocol over real sockets, the writes
counted on the socket's transport."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
import websockets
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from connectors.simulator_server import serve_app
from gateway.cli.serving import server_config
from gateway.runtime.one_write import OneWriteProtocol, OneWriteTransport
from gateway.settings import Settings

BODY = b'{"data": {"ok": true}}'


class Counted:
    """A transport's writes, counted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.inner.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        """One write of the parts (with uvloop, one system call)."""
        self.writes.append(b"".join(lines))
        self.inner.writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def answer(scope: Any, receive: Any, send: Any) -> None:
    """As Starlette's ``Response`` sends: the start, then the whole body."""
    if scope["type"] != "http":
        return
    await receive()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"22")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


@asynccontextmanager
async def connection(
    protocol_class: type[HttpToolsProtocol], app: Any = answer, sent: bytes = b""
) -> AsyncIterator[tuple[socket.socket, Counted]]:
    """``app`` served by ``protocol_class`` on one end of a socket pair (what
    was ``sent`` there before it); the other end, and the server transport's
    writes."""
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    server_end, client_end = socket.socketpair()
    if sent:
        client_end.sendall(sent)
    client_end.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.connect_accepted_socket(lambda: protocol, server_end)
    counted: Counted
    if isinstance(protocol.transport, OneWriteTransport):
        counted = Counted(protocol.transport.inner)
        protocol.transport.inner = counted  # type: ignore[assignment]
    else:
        counted = Counted(protocol.transport)
        protocol.transport = counted  # type: ignore[assignment]
    try:
        yield client_end, counted
    finally:
        protocol.transport.abort()
        client_end.close()


async def read_until(sock: socket.socket, end: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    received = b""
    while not received.endswith(end):
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
        if not chunk:
            break
        received += chunk
    return received


REQUEST = b"GET / HTTP/1.1\r\nhost: test\r\n\r\n"


@pytest.mark.parametrize(
    ("protocol_class", "writes"), [(HttpToolsProtocol, 2), (OneWriteProtocol, 1)]
)
async def test_a_response_leaves_in_one_write(
    protocol_class: type[HttpToolsProtocol], writes: int
) -> None:
    async with connection(protocol_class) as (client, counted):
        loop = asyncio.get_running_loop()
        for _ in range(3):  # each response of a keep-alive connection
            counted.writes.clear()
            await loop.sock_sendall(client, REQUEST)
            received = await read_until(client, BODY)
            assert received.startswith(b"HTTP/1.1 200 OK\r\n")
            assert received.endswith(b"\r\n\r\n" + BODY)
            await asyncio.sleep(0)  # past the turn that wrote it
            assert len(counted.writes) == writes
            assert b"".join(counted.writes) == received


async def test_a_streamed_body_leaves_as_it_is_sent() -> None:
    first_read = asyncio.Event()

    async def stream(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await first_read.wait()  # the client has the first part before the next
        await send({"type": "http.response.body", "body": b"two"})

    async with connection(OneWriteProtocol, stream) as (client, _):
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(client, REQUEST)
        head_and_one = await read_until(client, b"3\r\none\r\n")
        assert head_and_one.startswith(b"HTTP/1.1 200 OK\r\n")
        first_read.set()
        assert await read_until(client, b"0\r\n\r\n") == b"3\r\ntwo\r\n0\r\n\r\n"


async def test_a_closing_response_is_written_before_the_socket_closes() -> None:
    async with connection(OneWriteProtocol) as (client, counted):
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(
            client, b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n"
        )
        received = await read_until(client, b"\0")  # until the server closes
        assert received.endswith(BODY)
        assert b"connection: close" in received
        assert len(counted.writes) == 1


@pytest.mark.parametrize("protocol_class", [HttpToolsProtocol, OneWriteProtocol])
async def test_a_request_and_its_end_in_one_packet_is_answered(
    protocol_class: type[HttpToolsProtocol],
) -> None:
    """The client closed its side with the request (``nc -N``): the
    transport closes itself at the end of file, after what is held left."""
    server_end, client_end = socket.socketpair()
    client_end.sendall(REQUEST)
    client_end.shutdown(socket.SHUT_WR)
    client_end.setblocking(False)
    config = uvicorn.Config(answer, log_level="warning", lifespan="off")
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    await asyncio.get_running_loop().connect_accepted_socket(
        lambda: protocol, server_end
    )
    try:
        received = await read_until(client_end, b"\0")  # until the server closes
    finally:
        client_end.close()
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(BODY)


@pytest.mark.parametrize("protocol_class", [HttpToolsProtocol, OneWriteProtocol])
async def test_a_body_sent_without_a_pause_meets_back_pressure(
    protocol_class: type[HttpToolsProtocol],
) -> None:
    """160 chunks of 64 KiB sent without the app yielding, to a client that
    reads nothing: the socket's back-pressure stops the app after a few, and
    little is held in the process."""
    chunk, chunks = b"x" * 65536, 160
    passed = 0

    async def flood(scope: Any, receive: Any, send: Any) -> None:
        nonlocal passed
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            passed += 1
        await send({"type": "http.response.body", "body": b""})

    async with connection(protocol_class, flood, REQUEST):
        await asyncio.sleep(0.2)
    assert passed < 20


async def test_the_served_config_uses_it_and_a_websocket_still_upgrades() -> None:
    """``customer-graph serve``'s configuration, on a real server: HTTP
    answered, and a WebSocket upgraded on the socket's own transport."""
    assert server_config("127.0.0.1", 0, 1, Settings()).http is OneWriteProtocol

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await answer(scope, receive, send)
            return
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": "echo " + message["text"]})
        await send({"type": "websocket.close"})

    async with serve_app(app, http=OneWriteProtocol) as url:
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(REQUEST)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert await reader.readexactly(len(BODY)) == BODY
        # the same connection, upgraded after an answer it held
        writer.write(
            b"GET / HTTP/1.1\r\nhost: test\r\nupgrade: websocket\r\n"
            b"connection: upgrade\r\nsec-websocket-version: 13\r\n"
            b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 ")
        writer.write(
            bytes([0x81, 0x85, 1, 2, 3, 4])
            + bytes(b ^ (1, 2, 3, 4)[i % 4] for i, b in enumerate(b"hello"))
        )  # a masked text frame, as a client sends it
        frame = await reader.readexactly(2 + len(b"echo hello"))
        assert frame == bytes([0x81, len(b"echo hello")]) + b"echo hello"
        writer.close()
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as socket_:
            await socket_.send("hello")
            assert await socket_.recv() == "echo hello"
