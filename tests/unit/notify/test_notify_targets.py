"""SSRF protection: which webhook URLs are refused, without touching the network."""

from __future__ import annotations

import ipaddress

import pytest

from kolot.notify.targets import TargetRefused, address_refusal, check_target, parse_target

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    "169.254.169.254",  # cloud metadata
    "0.0.0.0",
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.251",
    "240.0.0.1",
    "::1",
    "::",
    "fc00::1",
    "fdff:ffff::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.1.2.3",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]
PUBLIC = ["8.8.8.8", "93.184.216.34", "172.32.0.1", "192.169.0.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


class FixedResolver:
    """A resolver answering ``addresses`` for every host, remembering what it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.seen: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.seen.append((host, port))
        return self.addresses


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.7", "172.20.1.1", "192.168.1.1", "::1"])
async def test_a_host_resolving_to_a_private_address_is_refused(address: str) -> None:
    with pytest.raises(TargetRefused, match="address"):
        await check_target(
            "https://hooks.ministry.example/in", allowed_hosts=(), resolver=FixedResolver(address)
        )


async def test_one_private_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(TargetRefused, match=r"10\.0\.0\.1"):
        await check_target(
            "https://hooks.ministry.example/in",
            allowed_hosts=(),
            resolver=FixedResolver("93.184.216.34", "10.0.0.1"),
        )


async def test_a_public_host_is_accepted_and_resolved_on_its_port() -> None:
    resolver = FixedResolver("93.184.216.34", "2606:4700:4700::1111")
    target = await check_target(
        "https://Hooks.Ministry.example:8443/in?x=1", allowed_hosts=(), resolver=resolver
    )
    assert (target.scheme, target.host, target.port) == ("https", "hooks.ministry.example", 8443)
    assert resolver.seen == [("hooks.ministry.example", 8443)]


async def test_ip_literals_are_checked_without_dns() -> None:
    # getaddrinfo on an IP literal returns it as is: the real resolver, no network needed
    with pytest.raises(TargetRefused, match="loopback"):
        await check_target("http://127.0.0.1:9000/hook", allowed_hosts=())
    with pytest.raises(TargetRefused, match="loopback"):
        await check_target("http://[::ffff:127.0.0.1]:9000/hook", allowed_hosts=())
    with pytest.raises(TargetRefused, match="link-local"):
        await check_target("http://169.254.169.254/latest/meta-data", allowed_hosts=())
    target = await check_target("https://93.184.216.34/hook", allowed_hosts=())
    assert target.port == 443


async def test_an_allowed_host_skips_the_address_check() -> None:
    resolver = FixedResolver("127.0.0.1")
    target = await check_target(
        "http://127.0.0.1:9000/hook", allowed_hosts=("127.0.0.1", "localhost"), resolver=resolver
    )
    assert target.host == "127.0.0.1"
    assert resolver.seen == []
    await check_target("http://LOCALHOST:9000/", allowed_hosts=("localhost",), resolver=resolver)
    await check_target("http://[::1]:9000/", allowed_hosts=("::1",), resolver=resolver)
    # allowing one host does not allow another on the same network
    with pytest.raises(TargetRefused, match="loopback"):
        await check_target(
            "http://127.0.0.2:9000/", allowed_hosts=("127.0.0.1",), resolver=resolver
        )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.ministry.example/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://hooks.ministry.example/", "http or https"),
        ("hooks.ministry.example/in", "http or https"),
        ("https://user:pass@hooks.ministry.example/", "credentials"),
        ("https://token@hooks.ministry.example/", "credentials"),
        ("https:///path-only", "no host"),
        ("https://hooks.ministry.example:99999/", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(TargetRefused, match=reason):
        parse_target(url)


async def test_an_unresolvable_host_is_refused() -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(TargetRefused, match="does not resolve"):
        await check_target("https://nowhere.invalid/", allowed_hosts=(), resolver=fails)


async def test_production_accepts_only_https() -> None:
    resolver = FixedResolver("93.184.216.34")
    with pytest.raises(TargetRefused, match="https"):
        await check_target(
            "http://hooks.ministry.example/in", allowed_hosts=(), resolver=resolver,
            require_https=True,
        )  # fmt: skip
    target = await check_target(
        "https://hooks.ministry.example/in", allowed_hosts=(), resolver=resolver,
        require_https=True,
    )  # fmt: skip
    assert target.scheme == "https"
