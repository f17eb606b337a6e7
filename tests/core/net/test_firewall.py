"""Reading Windows Firewall's rules from netsh's output (samples of Windows 10/11's English
``netsh advfirewall firewall show rule name=all dir=in``)."""

from __future__ import annotations

from wldesk.core.net.firewall import describe_rules, parse_rules, port_in, rule_args

SAMPLE = """
Rule Name:                            wldesk DICOM
----------------------------------------------------------------------
Enabled:                              Yes
Direction:                            In
Profiles:                             Domain,Private,Public
Grouping:
LocalIP:                              Any
RemoteIP:                             Any
Protocol:                             TCP
LocalPort:                            104
RemotePort:                           Any
Edge traversal:                       No
Action:                               Allow

Rule Name:                            Old PACS ports
----------------------------------------------------------------------
Enabled:                              No
Direction:                            In
Profiles:                             Domain
Grouping:
LocalIP:                              Any
RemoteIP:                             Any
Protocol:                             TCP
LocalPort:                            4242,11112
RemotePort:                           Any
Edge traversal:                       No
Action:                               Allow

Rule Name:                            Block range
----------------------------------------------------------------------
Enabled:                              Yes
Direction:                            In
Profiles:                             Domain,Private,Public
Grouping:
LocalIP:                              Any
RemoteIP:                             Any
Protocol:                             TCP
LocalPort:                            5000-5100
RemotePort:                           Any
Edge traversal:                       No
Action:                               Block

Rule Name:                            Core Networking - DHCP (DHCP-In)
----------------------------------------------------------------------
Enabled:                              Yes
Direction:                            In
Profiles:                             Domain,Private,Public
Grouping:                             Core Networking
LocalIP:                              Any
RemoteIP:                             Any
Protocol:                             UDP
LocalPort:                            68
RemotePort:                           67
Edge traversal:                       No
Action:                               Allow
Ok.

"""


def test_rules_are_read_with_their_fields() -> None:
    rules = parse_rules(SAMPLE)
    assert [r.name for r in rules] == ["wldesk DICOM", "Old PACS ports", "Block range",
                                       "Core Networking - DHCP (DHCP-In)"]
    assert rules[0].enabled and rules[0].inbound and rules[0].allow
    assert rules[0].protocol == "TCP" and rules[0].local_port == "104"
    assert not rules[1].enabled and not rules[2].allow


def test_which_port_is_let_in() -> None:
    assert describe_rules(SAMPLE, 104).allowed is True
    assert describe_rules(SAMPLE, 104).text == "Windows Firewall lets TCP port 104 in (rule “wldesk DICOM”)."
    assert describe_rules(SAMPLE, 4242).allowed is False  # its rule is switched off
    assert describe_rules(SAMPLE, 5050).allowed is False  # blocked, not allowed
    assert describe_rules(SAMPLE, 68).allowed is False  # UDP only
    nothing = describe_rules("\nNo rules match the specified criteria.\n", 104)
    assert nothing.allowed is False and "modalities on other computers cannot connect" in nothing.text


def test_output_in_another_language_is_not_guessed_at() -> None:
    german = SAMPLE.replace("Rule Name", "Regelname").replace("Enabled", "Aktiviert")
    assert describe_rules(german, 104).allowed is None


def test_port_lists_and_ranges() -> None:
    assert port_in("Any", 104) and port_in("104,4242", 4242) and port_in("1000-2000", 1500)
    assert not port_in("RPC", 104) and not port_in("1000-2000", 104)


def test_the_rule_added_is_the_installers() -> None:
    assert rule_args(4242) == ["advfirewall", "firewall", "add", "rule", "name=wldesk DICOM",
                               "dir=in", "action=allow", "protocol=TCP", "localport=4242",
                               "profile=any", "description=DICOM Modality Worklist (wldesk)"]
