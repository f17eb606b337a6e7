"""This computer's addresses and the connection card (the same text in the window and from
``wldesk serve``)."""

from __future__ import annotations

import ipaddress
import socket

from wldesk.core.net.addresses import (
    card_lines,
    connection_card,
    listening_addresses,
    same_listener,
    this_computer_addresses,
)
from wldesk.core.settings import Settings


def test_this_computers_addresses_are_its_own_and_reachable_from_others() -> None:
    found = this_computer_addresses()
    assert len(found) == len(set(found))
    families = [":" in address for address in found]
    assert families == sorted(families)  # IPv4 first
    for address in found:
        parsed = ipaddress.ip_address(address)
        assert not (parsed.is_loopback or parsed.is_link_local or parsed.is_unspecified)
        family = socket.AF_INET6 if parsed.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))  # only an address of this computer can be bound


def test_a_server_listens_at_its_address_or_at_all_ipv4_ones() -> None:
    assert listening_addresses("192.168.1.20") == ["192.168.1.20"]
    assert listening_addresses("localhost") == ["127.0.0.1"]
    ipv4 = [a for a in this_computer_addresses() if ":" not in a] or ["127.0.0.1"]
    assert listening_addresses("0.0.0.0") == listening_addresses("") == ipv4


def test_card_lines() -> None:
    assert card_lines(["192.168.1.20"], "WLDESK", 4242) == [
        "Address: 192.168.1.20", "AE title: WLDESK", "Port: 4242"]
    assert card_lines(["192.168.1.20", "10.0.0.5"], "WL", 104)[0] == \
        "Addresses: 192.168.1.20, 10.0.0.5"
    assert card_lines(["127.0.0.1"], "WL", 104)[0] == "Address: 127.0.0.1 (this computer only)"
    assert connection_card(Settings(database="x", bind_address="10.1.2.3", ae_title="CLINIC",
                                    port=11112)) == "Address: 10.1.2.3\nAE title: CLINIC\nPort: 11112"


def test_which_listen_addresses_clash_on_one_port() -> None:
    assert same_listener("127.0.0.1", "127.0.0.1")
    assert same_listener("0.0.0.0", "127.0.0.1") and same_listener("", "192.168.1.5")
    assert same_listener("localhost", "127.0.0.1")
    assert same_listener("::", "10.0.0.1")
    assert not same_listener("127.0.0.1", "192.168.1.5")
    assert not same_listener("0.0.0.0", "fd00::2")
