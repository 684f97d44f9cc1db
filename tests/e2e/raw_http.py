"""HTTP/1.1 on a raw socket, for tests about connections themselves."""

from __future__ import annotations

import socket

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: keep-alive\r\n\r\n"


def answered(connection: socket.socket, request: bytes = HEALTHZ) -> bool:
    """Sends the request and reads the whole answer, however many segments
    it arrives in (headers and body came apart on a loaded machine); whether
    it was a 200. The connection stays open."""
    connection.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return head.startswith(b"HTTP/1.1 200")
