"""This computer's IP addresses, and the connection card: the three lines a modality's set-up
needs (address, AE title, port), the same text in the window and from ``wldesk serve``.

The addresses come from the operating system without any network traffic: the address of the
default route (a UDP socket "connected" to a documentation address, RFC 5737 / RFC 3849, sends
nothing) and the addresses the computer's name resolves to. Looking the name up can take seconds
on a computer whose name the resolver does not know: the window asks off its GUI thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterable, Sequence

from wldesk.core.settings import Settings

_ROUTE_PROBES = ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1"))
"""Per address family, an address that is never on a network: the route to it is the default one."""

IPV4_WILDCARDS = frozenset({"", "0.0.0.0"})
"""Listen addresses meaning every IPv4 address of this computer ("" is what pynetdicom makes of it)."""

IPV6_WILDCARD = "::"
"""Every address of this computer, IPv6 and (where the system allows both on one socket) IPv4."""

LOOPBACK_NOTE = " (this computer only)"
"""Follows the address on the card when modalities on other computers cannot connect."""


def _usable(text: str) -> bool:
    """An address another computer could use to reach this one (not loopback, link-local, ...)."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return not (address.is_loopback or address.is_link_local or address.is_unspecified
                or address.is_multicast)


def _loopback(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def same_listener(a: str, b: str) -> bool:
    """True when servers listening on addresses ``a`` and ``b`` (a setting's values), on one port,
    would clash: the same address, or either one all addresses of the other's family."""
    def norm(address: str) -> str:
        address = "127.0.0.1" if address == "localhost" else address
        return "0.0.0.0" if address in IPV4_WILDCARDS else address

    a, b = norm(a), norm(b)
    if a == b or IPV6_WILDCARD in (a, b):
        return True
    if "0.0.0.0" in (a, b):
        other = b if a == "0.0.0.0" else a
        return ipaddress.ip_address(other).version == 4
    return False


def _route_addresses() -> list[str]:
    found = []
    for family, target in _ROUTE_PROBES:
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((target, 9))
            found.append(str(probe.getsockname()[0]))
    return found


def _name_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def _ordered(addresses: Iterable[str]) -> list[str]:
    """Usable addresses once each, IPv4 first, each family in the order found."""
    unique = list(dict.fromkeys(a for a in addresses if _usable(a)))
    return [a for a in unique if ":" not in a] + [a for a in unique if ":" in a]


def this_computer_addresses() -> list[str]:
    """This computer's IP addresses that other computers can use: IPv4 first, the one of the
    default route first in each family; empty when it has none (no network)."""
    return _ordered([*_route_addresses(), *_name_addresses()])


def listening_addresses(bind_address: str) -> list[str]:
    """The addresses modalities can reach a server listening on ``bind_address`` at.

    A specific address is the only one; "localhost" is 127.0.0.1 (what the server binds then);
    0.0.0.0 (or empty) every IPv4 address of this computer, "::" every address. Without a network,
    the loopback address: the server is then reachable from this computer only."""
    if bind_address == "localhost":
        return ["127.0.0.1"]
    if bind_address in IPV4_WILDCARDS:
        return [a for a in this_computer_addresses() if ":" not in a] or ["127.0.0.1"]
    if bind_address == IPV6_WILDCARD:
        return this_computer_addresses() or ["::1"]
    return [bind_address]


def card_lines(addresses: Sequence[str], ae_title: str, port: int) -> list[str]:
    """The connection card: ``Address: 192.168.1.20``, ``AE title: WLDESK``, ``Port: 4242``.

    Several addresses share the first line; a loopback address is marked as reachable from this
    computer only."""
    shown = [a + (LOOPBACK_NOTE if _loopback(a) else "") for a in addresses]
    label = "Addresses" if len(shown) > 1 else "Address"
    return [f"{label}: {', '.join(shown) or '(none)'}", f"AE title: {ae_title}", f"Port: {port}"]


def connection_card(settings: Settings) -> str:
    """The connection card of a server running with ``settings``, as three lines of text."""
    return "\n".join(card_lines(listening_addresses(settings.bind_address), settings.ae_title,
                                settings.port))
