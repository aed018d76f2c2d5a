"""SSRF guard: which addresses a URL download may connect to.

Public (globally routable) unicast addresses are allowed. Everything else is refused
unless configured:

* ``settings.url_allow_hosts``: host names (``media.internal``, ``*.corp.example``) or
  IPs/CIDRs (``10.1.0.0/16``, ``127.0.0.1``). A listed host or address is allowed,
  whatever it is.
* ``settings.url_allow_private``: allows loopback, private, link-local, unique-local
  and shared (CGNAT) addresses - but never the cloud metadata addresses, multicast,
  unspecified or reserved ones, which only an explicit ``url_allow_hosts`` entry opens.

IPv4 addresses embedded in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64)
are judged by the IPv4 address they carry.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from reelsmith.config import Settings
from reelsmith.errors import InputError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Instance-metadata endpoints of the big clouds (AWS, GCP, Azure, OpenStack, ECS, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# Reasons url_allow_private may override.
_PRIVATE_KINDS = {"loopback", "private", "link-local", "shared"}

_DESCRIPTIONS = {
    "metadata": "a cloud metadata address",
    "unspecified": "an unspecified address",
    "multicast": "a multicast address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "private": "a private network address",
    "shared": "a shared (carrier-grade NAT) address",
    "reserved": "a reserved address",
    "non-global": "a non-public address",
}


class AddressRefused(InputError):
    """A host or address the guard refuses (as opposed to a name that does not resolve).

    ``ip`` is the refused address and ``reason`` its slug (see ``_DESCRIPTIONS``), so a caller
    can word its own message or decide not to retry.
    """

    def __init__(self, message: str, ip: IPAddress, reason: str) -> None:
        super().__init__(message)
        self.ip = ip
        self.reason = reason


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """None for a public unicast address, else a reason slug (see ``_DESCRIPTIONS``)."""
    if ip in METADATA_ADDRESSES:
        return "metadata"
    inner = embedded_ipv4(ip)
    if inner is not None:  # the packets go to the IPv4 address it carries
        return classify(inner)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "shared"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-global"
    return None


def show(ip: IPAddress) -> str:
    """``::ffff:10.0.0.5`` rather than ``::ffff:a00:5``; other wrappers name what they carry."""
    inner = embedded_ipv4(ip)
    if inner is None:
        return str(ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return f"::ffff:{inner}"
    return f"{ip}, which carries {inner}"


def describe(reason: str) -> str:
    return _DESCRIPTIONS.get(reason, "a non-public address")


def _normalize_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


@dataclass(frozen=True)
class AllowList:
    names: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowList:
        names: list[str] = []
        nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in settings.url_allow_hosts:
            e = entry.strip().strip("[]")
            if not e:
                continue
            try:
                nets.append(ipaddress.ip_network(e, strict=False))
            except ValueError:
                names.append(_normalize_host(e))
        return cls(tuple(names), tuple(nets))

    def host_allowed(self, host: str) -> bool:
        h = _normalize_host(host)
        for name in self.names:
            if name.startswith("*."):
                if h.endswith(name[1:]):
                    return True
            elif name.startswith("."):
                if h.endswith(name) or h == name[1:]:
                    return True
            elif h == name:
                return True
        return False

    def address_allowed(self, ip: IPAddress) -> bool:
        candidates = [ip]
        inner = embedded_ipv4(ip)
        if inner is not None:
            candidates.append(inner)
        return any(c.version == n.version and c in n for c in candidates for n in self.networks)


def check_address(ip: IPAddress, host: str, settings: Settings,
                  allow: AllowList | None = None) -> None:
    """Raise :class:`AddressRefused` if connecting to ``ip`` (for ``host``) is not allowed."""
    allow = allow or AllowList.from_settings(settings)
    reason = classify(ip)
    if reason is None or allow.host_allowed(host) or allow.address_allowed(ip):
        return
    if settings.url_allow_private and reason in _PRIVATE_KINDS:
        return
    try:
        literal = ipaddress.ip_address(host.strip("[]")) == ip
    except ValueError:
        literal = False
    if literal:
        raise AddressRefused(
            f"The URL points to {describe(reason)} ({show(ip)}), which is not allowed.", ip, reason
        )
    raise AddressRefused(
        f"The URL's host {host} resolves to {describe(reason)} ({show(ip)}), which is not allowed.",
        ip, reason,
    )


def resolve_checked(host: str, port: int, settings: Settings) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, all of which passed :func:`check_address`.

    If any address the name resolves to is refused, the whole host is refused: a name
    that mixes public and private answers is a rebinding attempt or a misconfiguration.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"The host name {host} could not be resolved ({exc}).") from None
    addrs: list[IPAddress] = []
    for info in infos:
        addr = info[4][0]
        if isinstance(addr, str):
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
            if ip not in addrs:
                addrs.append(ip)
    if not addrs:
        raise InputError(f"The host name {host} has no usable address.")
    allow = AllowList.from_settings(settings)
    for ip in addrs:
        check_address(ip, host, settings, allow)
    return addrs
