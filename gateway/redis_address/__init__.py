"""What ``CG_REDIS_URL`` names: one Redis, a Redis Cluster, or a master found
through Redis Sentinel::

    redis://[user:password@]host[:port][/db]        one server (rediss:// TLS,
                                                     unix:// a socket)
    redis+cluster://[user:password@]host[:port][,host[:port]...][/]
    redis+sentinel://[user:password@]host[:port][,host[:port]...]/service[/db]

``rediss+cluster://`` and ``rediss+sentinel://`` speak TLS. The nodes of a
cluster URL are where discovery starts (any one that answers names the
others); a sentinel URL names the sentinels (port 26379 by default) and the
service they watch, and its user and password are the master's, not the
sentinels'. Parsed once by the settings (a malformed URL is refused at start,
in one line) and again by ``gateway.shared_redis.client``; nothing is resolved
or connected here. Messages never repeat the URL: it may hold a password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

Mode = Literal["single", "cluster", "sentinel"]

_SCHEMES: dict[str, tuple[Mode, bool]] = {
    "redis": ("single", False),
    "rediss": ("single", True),
    "unix": ("single", False),
    "redis+cluster": ("cluster", False),
    "rediss+cluster": ("cluster", True),
    "redis+sentinel": ("sentinel", False),
    "rediss+sentinel": ("sentinel", True),
}
_DEFAULT_PORT: dict[Mode, int] = {"single": 6379, "cluster": 6379, "sentinel": 26379}


@dataclass(frozen=True, slots=True)
class RedisAddress:
    mode: Mode
    url: str
    """The URL as given (what redis-py reads for one server)."""
    nodes: tuple[tuple[str, int], ...] = ()
    """Cluster: where discovery starts; Sentinel: the sentinels."""
    service: str = ""
    """Sentinel: the name of the master the sentinels watch."""
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_redis_url(url: str) -> RedisAddress:
    """The address ``url`` names; ``ValueError`` saying what is wrong."""
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in _SCHEMES:
        raise ValueError(
            "must start with one of " + ", ".join(f"{s}://" for s in _SCHEMES)
        )
    mode, tls = _SCHEMES[scheme.lower()]
    if mode == "single":
        if scheme.lower() != "unix":
            _check_single(url)
        return RedisAddress("single", url)
    parts = urlsplit("redis://" + rest)
    if parts.query or parts.fragment:
        raise ValueError(f"a {scheme}:// URL takes no query string")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    nodes = tuple(_node(h, _DEFAULT_PORT[mode]) for h in hosts.split(","))
    path = [p for p in parts.path.split("/") if p]
    service, db = "", 0
    if mode == "cluster":
        if path and path != ["0"]:
            raise ValueError("a cluster has one database: end the URL with / or /0")
    else:
        if not path or len(path) > 2:
            raise ValueError(
                "a sentinel URL names the service: redis+sentinel://host:port/"
                "<service>[/<db>]"
            )
        service = unquote(path[0])
        db = _number(path[1], "the database") if len(path) == 2 else 0
    return RedisAddress(
        mode,
        url,
        nodes,
        service,
        db,
        unquote(username) or None,
        unquote(password) or None,
        tls,
    )


def _check_single(url: str) -> None:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (read to validate)
    except ValueError:
        raise ValueError("a port must be between 1 and 65535") from None
    if not parts.hostname:
        raise ValueError("the URL names no host")


def _node(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port``."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]")
        port = port.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    if not host:
        raise ValueError("every node needs a host (host:port, comma-separated)")
    number = _number(port, "a port") if port else default_port
    if not 0 < number < 65536:
        raise ValueError("a port must be between 1 and 65535")
    return host, number


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{what} must be a number")
    return int(text)
