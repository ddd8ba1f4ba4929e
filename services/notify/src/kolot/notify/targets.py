"""Which URLs a webhook may target: SSRF protection.

A subscription may not make Kolot call into its own network: a target whose host resolves to a
loopback, private, link-local, multicast, reserved or unspecified address (IPv4 or IPv6, including
IPv4 addresses embedded in IPv6 ones) is refused, unless its host is explicitly allowed by
configuration (development and tests). The same rule is applied again at connection time (see
``transport.py``), so a name that later resolves elsewhere (DNS rebinding) is refused as well.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# NAT64 (RFC 6052): the last 32 bits are an IPv4 address the gateway will connect to
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class TargetRefused(ValueError):
    """The URL may not be a webhook target; the message says why (safe to show the caller)."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    """Lower case, without IPv6 brackets (as ``urlsplit(url).hostname``)."""
    port: int


def parse_target(url: str) -> Target:
    """Check the shape of a webhook URL: http(s), a host, no credentials, a valid port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must use http or https")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL must not carry credentials; authenticate with the signature")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(scheme=parts.scheme, host=parts.hostname, port=port or default_port)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why a webhook may not connect to ``address``, or None if it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            # "::ffff:a.b.c.d" is how IPv6 sockets reach IPv4 a.b.c.d: judge that address
            reason = address_refusal(address.ipv4_mapped)
            return None if reason is None else f"{reason} (as {address})"
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded)
            if reason is not None:
                return f"{reason} (embedded in {address})"
    checks = (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
        # e.g. 100.64.0.0/10 (carrier-grade NAT) is neither private nor global
        ("a non-global", not address.is_global),
    )
    for kind, hit in checks:
        if hit:
            return f"{address} is {kind} address"
    return None


def parse_address(text: str) -> IPAddress:
    # getaddrinfo gives IPv6 link-local addresses with a zone ("fe80::1%eth0")
    return ipaddress.ip_address(text.split("%", 1)[0])


def is_allowed_host(host: str, allowed_hosts: Collection[str]) -> bool:
    return host.lower().removeprefix("[").removesuffix("]") in allowed_hosts


def refused_addresses(addresses: Collection[str]) -> str | None:
    """The first reason to refuse any of ``addresses`` (one bad address is enough to refuse)."""
    for text in addresses:
        try:
            address = parse_address(text)
        except ValueError:
            return f"{text!r} is not an IP address"
        reason = address_refusal(address)
        if reason is not None:
            return reason
    return None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (getaddrinfo in a thread: it blocks)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def check_target(
    url: str,
    *,
    allowed_hosts: Collection[str],
    resolver: Resolver = resolve,
    require_https: bool = False,
) -> Target:
    """Refuse a webhook URL unless it is http(s) to a public address or to an allowed host
    (https only with ``require_https``: production, where events travel over the internet)."""
    target = parse_target(url)
    if (
        require_https
        and target.scheme != "https"
        and not is_allowed_host(target.host, allowed_hosts)
    ):
        raise TargetRefused("the URL must use https")
    if is_allowed_host(target.host, allowed_hosts):
        return target
    try:
        addresses = await resolver(target.host, target.port)
    except (OSError, UnicodeError) as exc:
        raise TargetRefused(f"the host {target.host!r} does not resolve: {exc}") from exc
    if not addresses:
        raise TargetRefused(f"the host {target.host!r} does not resolve")
    reason = refused_addresses(addresses)
    if reason is not None:
        raise TargetRefused(
            f"{reason}; webhooks may only target public addresses "
            "(unless the host is listed in KOLOT_WEBHOOK_ALLOWED_HOSTS)"
        )
    return target
