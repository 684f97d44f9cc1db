"""Where an outbound webhook may go: the one check, when an endpoint is saved
and again before every attempt.

A URL is ``http`` or ``https`` with a host, no credentials in it, at most
2,048 characters. Its host — an address, or every address its name resolves
to — must be public: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
link-local (169.254/16 with the clouds' metadata service, fe80::/10),
carrier-grade NAT, multicast, reserved and unspecified addresses are refused
unless ``CG_OUTBOUND_ALLOW_PRIVATE_TARGETS`` says otherwise: a webhook is a
request the gateway sends from inside its network to an address someone typed
(SSRF). The name is resolved again at each attempt and the connection is made
to the address that was checked (``Target.address``), so a name that resolved
to a public address when saved and to 127.0.0.1 later (DNS rebinding) is
refused then too; redirects are never followed (``sending.py``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from gateway.errors import BadUserInput

MAX_URL = 2048
SCHEMES = frozenset({"http", "https"})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL's host is, or resolves to, an address deliveries may not reach,
    or does not resolve at all."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL and the checked address to connect to."""

    url: httpx.URL
    address: Address

    @property
    def pinned(self) -> httpx.URL:
        """The URL with the checked address as its host (the ``Host`` header
        and TLS's server name keep the original name: ``sending.py``)."""
        host = str(self.address)
        return self.url.copy_with(host=host)


def check_url(value: str, field: str = "url") -> httpx.URL:
    """The URL, parsed; BAD_USER_INPUT with ``field`` for anything but an
    absolute http(s) URL with a host and no credentials."""
    if len(value) > MAX_URL:
        raise BadUserInput(
            f"`{field}` must be at most {MAX_URL} characters.", field=field
        )
    try:
        url = httpx.URL(value.strip())
    except (httpx.InvalidURL, ValueError) as exc:
        raise BadUserInput(f"`{field}` is not a valid URL.", field=field) from exc
    if url.scheme not in SCHEMES:
        raise BadUserInput(f"`{field}` must be an http or https URL.", field=field)
    if not url.host:
        raise BadUserInput(f"`{field}` must name a host.", field=field)
    if url.userinfo:
        raise BadUserInput(
            f"`{field}` must not carry credentials: the signature authenticates"
            " the gateway.",
            field=field,
        )
    return url


NAT64 = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # RFC 6052's well-known prefix
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # RFC 8215's local-use prefix
)
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
"""RFC 4291's deprecated IPv4-compatible addresses (``::127.0.0.1``)."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries to an IPv4 host: mapped
    (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64
    (``64:ff9b::a.b.c.d``: on a NAT64/DNS64 network it reaches that host),
    6to4 (``2002:AABB:CCDD::``) and Teredo (its server and client)."""
    found = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in IPV4_COMPATIBLE or any(address in net for net in NAT64):
        found.append(low32)
    return [a for a in found if a is not None]


def is_public(address: Address) -> bool:
    """Whether ``address`` is on the public internet. An IPv6 address that
    carries an IPv4 one (``embedded_ipv4``) is public only when each IPv4
    address it carries is: ``64:ff9b::7f00:1`` is 127.0.0.1 behind NAT64."""
    if isinstance(address, ipaddress.IPv6Address):
        carried = embedded_ipv4(address)
        if carried:
            return all(is_public(a) for a in carried)
    return address.is_global and not address.is_multicast


async def resolve(url: httpx.URL, allow_private: bool) -> Target:
    """The URL with an address to connect to; ``TargetRefused`` when its host
    does not resolve or any of its addresses is not public (and those are
    not allowed). Every address must pass: which one a client would pick is
    not ours to know."""
    host = url.host
    try:
        addresses: list[Address] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _lookup(
            host, url.port or (443 if url.scheme == "https" else 80)
        )
    if not allow_private and not all(is_public(a) for a in addresses):
        raise TargetRefused("the host is not a public address")
    return Target(url=url, address=addresses[0])


async def check_target(value: str, allow_private: bool, field: str = "url") -> str:
    """An endpoint's URL as it is saved; BAD_USER_INPUT with ``field`` for a
    bad URL, a host that does not resolve or one deliveries may not reach."""
    url = check_url(value, field)
    try:
        await resolve(url, allow_private)
    except TargetRefused as exc:
        raise BadUserInput(
            f"`{field}` must reach a public address: {exc}.", field=field
        ) from exc
    return str(url)


async def _lookup(host: str, port: int) -> list[Address]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused("the host does not resolve") from exc
    found = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not found:
        raise TargetRefused("the host does not resolve")
    return found
