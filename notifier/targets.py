"""Which hosts a webhook may be posted to: public internet addresses only.

A subscriber names the URL, and the service connects to it and reports each attempt's status:
without a rule, a subscriber could make the service reach this machine, the cloud's metadata
endpoint or the internal network, and read the answers' status codes as an oracle. The rule is
checked twice, by the same function (:func:`address_problem`):

- when a subscription is made, on the URL's host (:func:`host_problem`): an address literal in
  any form a resolver accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``)
  and the names that are never public (``localhost``, ``*.internal``, ``*.local``, one-label
  names that a resolver completes with its search domains);
- on every connection (:class:`PublicOnlyBackend`): the name is resolved, every address it
  resolves to is checked, and the connection goes to a checked address, so a name that
  resolves to a public address at subscription and a private one later (DNS rebinding) is
  refused. The HTTP ``Host`` header and the TLS server name stay the URL's name.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

import anyio
import httpcore
import httpx

__all__ = [
    "PublicOnlyBackend",
    "TargetNotAllowed",
    "address_problem",
    "host_problem",
    "literal_address",
    "public_only_transport",
]

IPAddress = IPv4Address | IPv6Address

_SHARED = IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052, an IPv4 address in the low 32 bits
_COMPATIBLE = IPv6Network("::/96")  # deprecated IPv4-compatible IPv6 addresses
# Names that never lead to the public internet (RFC 6761, RFC 6762, cloud metadata names).
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")


class TargetNotAllowed(httpcore.ConnectError):
    """A webhook host resolved to an address that is not public: nothing was sent."""


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why events may not be posted to ``address`` (e.g. "is a loopback address"), or None
    for a public unicast address. The one rule, used when subscribing and when connecting."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return address_problem(embedded)
    if address.is_loopback:
        return "is a loopback address"
    if address.is_link_local:
        return "is a link-local address"
    if address.is_multicast:
        return "is a multicast address"
    if address.is_unspecified:
        return "is an unspecified address"
    if isinstance(address, IPv4Address) and address in _SHARED:
        return "is a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "is a reserved address"
    if address.is_private:
        return "is a private address"
    if not address.is_global:
        return "is not a public address"
    return None


def _ipv4_part(text: str) -> int | None:
    """One part of an IPv4 literal as inet_aton reads it: 0x hex, leading-0 octal, decimal."""
    try:
        if text[:2].lower() == "0x":
            return int(text[2:] or "0", 16)
        if len(text) > 1 and text.startswith("0"):
            return int(text[1:], 8)
        return int(text, 10) if text.isdigit() else None
    except ValueError:
        return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` is a literal of, read the way resolvers read it (IPv6, and IPv4
    in one to four decimal, hex or octal parts: ``2130706433``, ``0x7f.1``), or None for a
    name."""
    host = host.strip().rstrip(".").lower()
    if ":" in host:
        try:
            return IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    parts = host.split(".")
    if not host or len(parts) > 4:
        return None
    numbers = [_ipv4_part(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    *leading, last = typing.cast(list[int], numbers)
    if any(number > 0xFF for number in leading) or last >= 1 << (8 * (5 - len(parts))):
        return None
    value = last
    for position, number in enumerate(leading):
        value |= number << (8 * (3 - position))
    return IPv4Address(value)


def host_problem(host: str) -> str | None:
    """Why a URL's ``host`` is not a public target (a non-public address literal, or a name
    that never leads to the internet), or None. Names are not resolved here: resolution is
    checked on every connection."""
    address = literal_address(host)
    if address is not None:
        problem = address_problem(address)
        return f"names a host that {problem}" if problem else None
    name = host.strip().rstrip(".").lower()
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return "names a local or internal host"
    if "." not in name:
        return "must name a public host (a fully qualified name)"
    return None


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses: resolves the host, checks every address it resolves
    to, and connects to a checked one. ``allow_private`` turns the check off (tests, demos)."""

    def __init__(self, *, allow_private: bool = False) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[str]:
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} does not resolve") from exc
        addresses = list(dict.fromkeys(str(entry[4][0]) for entry in found))
        for address in addresses:
            problem = address_problem(ipaddress.ip_address(address.split("%", 1)[0]))
            if problem is not None and not self._allow_private:
                raise TargetNotAllowed(f"{host} resolves to {address}, which {problem}")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetNotAllowed("webhooks are never posted to a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PublicOnlyTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend, but its pool does: the same pool, our backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=PublicOnlyBackend(allow_private=allow_private),
        )


def public_only_transport(*, allow_private: bool = False) -> httpx.AsyncBaseTransport:
    """An httpx transport that posts only to public addresses (see :class:`PublicOnlyBackend`);
    no proxy from the environment, since a proxy would connect for us, unchecked."""
    return _PublicOnlyTransport(allow_private=allow_private)
