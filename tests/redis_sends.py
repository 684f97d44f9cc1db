"""What a test sees of the commands the direct link writes
(``gateway.shared_redis.direct``): their names, read back from RESP, for the
tests that count Redis round trips beside redis-py's own commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from gateway.shared_redis.direct import DirectLink

Sends = Callable[[list[tuple[str, str]]], None]
"""Told of each write: per command, its name and first argument."""


def named(command: bytes) -> tuple[str, str]:
    """A RESP command's name (upper case) and its first argument ("" if none)."""
    lines = command.split(b"\r\n")
    name = lines[2].decode().upper()
    first = lines[4].decode() if len(lines) > 4 else ""
    return name, first


def watch_direct_sends(monkeypatch: pytest.MonkeyPatch, told: Sends) -> None:
    """``told`` of every write on a direct link, before it is written: by
    ``send`` (a coroutine's) or ``write`` (a loop callback's, on a link up)."""
    send, write = DirectLink.send, DirectLink.write

    def sent(self: DirectLink, commands: Sequence[bytes]) -> Awaitable[list[Any]]:
        told([named(c) for c in commands])
        return send(self, commands)

    def written(self: DirectLink, commands: Sequence[bytes]) -> asyncio.Future[Any]:
        told([named(c) for c in commands])
        return write(self, commands)

    monkeypatch.setattr(DirectLink, "send", sent)
    monkeypatch.setattr(DirectLink, "write", written)
