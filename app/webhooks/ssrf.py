"""Where a webhook may point (API.md section 12): https, public addresses; http and private addresses only for
hosts listed in DX_WEBHOOK_ALLOW_HOSTS. Checked at create and update, and again at each delivery, which then
connects to the very address it checked (a DNS answer that changes in between cannot redirect it)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(Exception):
    """The URL may not be called; the message says why, in words for the endpoint's owner."""


@dataclass(frozen=True)
class Target:
    """A vetted URL: where to connect (`address`) and what to call it (`host`, for Host and TLS SNI)."""

    scheme: str
    host: str
    port: int
    address: str
    path: str  # path and query, as given

    @property
    def connect_url(self) -> str:
        ip = ipaddress.ip_address(self.address)
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def _allowed(host: str, allow_hosts: list[str]) -> bool:
    return host.lower().strip("[]") in {h.lower().strip("[]") for h in allow_hosts}


def _forbidden_address(ip: IPAddress) -> bool:
    """Loopback, private, link-local, unspecified, multicast or otherwise not globally routable."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def parse(url: str, allow_hosts: list[str]) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a URL this service may call, or UnsafeUrl."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"The URL is not valid: {exc}.") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        raise UnsafeUrl("The URL must be an absolute https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("The URL must not carry a user name or password.")
    if scheme == "http" and not _allowed(host, allow_hosts):
        raise UnsafeUrl(
            f"The URL must use https (http is allowed only for the hosts listed in DX_WEBHOOK_ALLOW_HOSTS; {host} is not)."
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


async def resolve(url: str, allow_hosts: list[str]) -> Target:
    """Resolve the URL's host and vet every address it has; the first one is the one to connect to."""
    scheme, host, port, path = parse(url, allow_hosts)
    try:
        addresses = [str(ipaddress.ip_address(host.strip("[]")))]  # an address literal: nothing to look up
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise UnsafeUrl(f"The host {host} does not resolve ({exc}).") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl(f"The host {host} does not resolve.")
    if not _allowed(host, allow_hosts):
        bad = [a for a in addresses if _forbidden_address(ipaddress.ip_address(a.split("%", 1)[0]))]
        if bad:
            raise UnsafeUrl(
                f"The host {host} resolves to {bad[0]}, a loopback, private or link-local address; "
                "such targets need the host listed in DX_WEBHOOK_ALLOW_HOSTS."
            )
    return Target(scheme, host, port, addresses[0].split("%", 1)[0], path)
