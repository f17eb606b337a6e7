"""Windows Firewall: does an inbound rule let the server's port in, and adding one (elevated).

The rule is the installers' (``wldesk machine-setup install``): named :data:`RULE_NAME`, inbound
TCP on the server's port. Reading uses ``netsh advfirewall firewall show rule name=all dir=in``
(English output; other languages say "cannot tell"); adding asks Windows for administrator
rights (ShellExecute "runas"), as the installers run elevated.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

WINDOWS = sys.platform == "win32"
"""Whether there is a Windows Firewall to ask (the Modalities tab hides its row elsewhere)."""

RULE_NAME = "wldesk DICOM"
"""The inbound rule the installers and the Modalities tab add."""

NETSH_TIMEOUT = 20.0


def rule_args(port: int) -> list[str]:
    """netsh's arguments that add the rule for ``port`` (after ``netsh``)."""
    return ["advfirewall", "firewall", "add", "rule", f"name={RULE_NAME}", "dir=in",
            "action=allow", "protocol=TCP", f"localport={port}", "profile=any",
            "description=DICOM Modality Worklist (wldesk)"]


def delete_args() -> list[str]:
    """netsh's arguments that delete the rule (an older one with another port)."""
    return ["advfirewall", "firewall", "delete", "rule", f"name={RULE_NAME}"]


@dataclass(frozen=True)
class FirewallRule:
    name: str
    enabled: bool
    inbound: bool
    allow: bool
    protocol: str  # TCP, UDP, Any, ...
    local_port: str  # Any, 104, 104,4242, 1000-2000

    def lets_in(self, port: int) -> bool:
        """True when this rule lets TCP ``port`` in."""
        if not (self.enabled and self.inbound and self.allow):
            return False
        if self.protocol.upper() not in ("TCP", "ANY"):
            return False
        return port_in(self.local_port, port)


def port_in(ports: str, port: int) -> bool:
    """Whether netsh's LocalPort text (``Any``, ``104,4242``, ``1000-2000``) holds ``port``."""
    for part in (p.strip() for p in ports.split(",")):
        if part.lower() == "any":
            return True
        low, dash, high = part.partition("-")
        try:
            if dash and int(low) <= port <= int(high):
                return True
            if not dash and int(part) == port:
                return True
        except ValueError:
            continue  # RPC, IPHTTPS and other keywords
    return False


def parse_rules(text: str) -> list[FirewallRule]:
    """The rules of ``netsh advfirewall firewall show rule`` output (English labels)."""
    rules: list[FirewallRule] = []
    fields: dict[str, str] = {}

    def done() -> None:
        if "Rule Name" in fields:
            rules.append(FirewallRule(
                name=fields["Rule Name"], enabled=fields.get("Enabled", "") == "Yes",
                inbound=fields.get("Direction", "") == "In",
                allow=fields.get("Action", "") == "Allow",
                protocol=fields.get("Protocol", "Any"), local_port=fields.get("LocalPort", "Any")))
        fields.clear()

    for line in text.splitlines():
        label, colon, value = line.partition(":")
        if not colon:
            continue
        if label.strip() == "Rule Name":
            done()
        fields[label.strip()] = value.strip()
    done()
    return rules


@dataclass(frozen=True)
class FirewallState:
    """What the firewall does with the port: ``allowed`` True, False, or None (cannot tell)."""

    allowed: bool | None
    text: str


def describe_rules(text: str, port: int) -> FirewallState:
    """In words, whether the rules in netsh's ``text`` let TCP ``port`` in."""
    rules = parse_rules(text)
    if not rules:
        if "No rules match" in text:
            return FirewallState(False, f"No inbound firewall rule lets TCP port {port} in: "
                                        "modalities on other computers cannot connect.")
        return FirewallState(None, "Cannot tell whether Windows Firewall lets the port in "
                                   "(netsh's answer was not understood).")
    letting = [rule.name for rule in rules if rule.lets_in(port)]
    if letting:
        return FirewallState(True, f"Windows Firewall lets TCP port {port} in (rule "
                                   f"“{letting[0]}”).")
    return FirewallState(False, f"No inbound firewall rule lets TCP port {port} in: modalities "
                                "on other computers cannot connect.")


def firewall_state(port: int) -> FirewallState:
    """Ask netsh (Windows only; slow: run it off the GUI thread)."""
    try:
        done = subprocess.run(["netsh", "advfirewall", "firewall", "show", "rule", "name=all",
                               "dir=in"], capture_output=True, text=True, errors="replace",
                              timeout=NETSH_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return FirewallState(None, f"Cannot tell whether Windows Firewall lets the port in ({exc}).")
    return describe_rules(done.stdout, port)


def add_rule_elevated(port: int) -> str:
    """Ask Windows to run netsh as administrator to (re)add the rule for ``port``; "" when it was
    started, else why not (the user said no, or this is not Windows)."""
    if sys.platform == "win32":
        import ctypes

        command = (f"/c netsh {' '.join(_quoted(a) for a in delete_args())} & "
                   f"netsh {' '.join(_quoted(a) for a in rule_args(port))}")
        result = ctypes.windll.shell32.ShellExecuteW(None, "runas", "cmd.exe", command, None, 0)
        if int(result) <= 32:
            return "Windows did not run the firewall change (administrator rights were refused)."
        return ""
    return "Windows Firewall exists only on Windows."


def _quoted(arg: str) -> str:
    """``name=wldesk DICOM`` -> ``name="wldesk DICOM"``: how netsh wants a value with spaces."""
    key, eq, value = arg.partition("=")
    return f'{key}="{value}"' if eq and " " in value else arg
