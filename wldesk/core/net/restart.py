"""Swap a running worklist server for one with new settings without leaving the clinic without one.

When the new server listens elsewhere (another port, or an address that does not clash with the
old one), it starts first and the old one stops only once the new one listens. When it needs the
old one's place (the same port on the same or an overlapping address), the old one stops, the new
one starts, and if it cannot, the old one starts again with its own settings. Either way, a new
server that fails leaves the old one answering. Blocking: call it off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from wldesk.core.net.addresses import same_listener
from wldesk.core.net.server import ServerStartError, WorklistServer


@dataclass(frozen=True)
class SwapOutcome:
    """What :func:`swap_servers` left running, and why not the new server."""

    running: WorklistServer | None  # the new server, the old one (the new one failed), or neither
    problem: str = ""  # why the new server did not start ("" when it did)
    old_problem: str = ""  # why the old one did not start again either ("" unless both failed)
    interrupted: bool = False  # the old server was stopped for a while (it needed the same place)

    @property
    def succeeded(self) -> bool:
        return not self.problem


def needs_same_place(old: WorklistServer, new: WorklistServer) -> bool:
    """True when ``new`` cannot listen while ``old`` does: the same port, clashing addresses."""
    return (old.settings.port == new.settings.port
            and same_listener(old.settings.bind_address, new.settings.bind_address))


def swap_servers(old: WorklistServer, new: WorklistServer) -> SwapOutcome:
    """Replace the running ``old`` by ``new`` (not started); ``old`` goes on if ``new`` fails.

    The servers emit their own events (started, stopped, failed) on their buses as they go; the
    outcome says which one runs in the end."""
    if not needs_same_place(old, new):
        try:
            new.start()
        except ServerStartError as exc:
            return SwapOutcome(old, str(exc))
        old.stop()
        return SwapOutcome(new)
    old.stop()
    try:
        new.start()
    except ServerStartError as exc:
        problem = str(exc)
    else:
        return SwapOutcome(new, interrupted=True)
    try:
        old.start()
    except ServerStartError as exc:
        return SwapOutcome(None, problem, str(exc), interrupted=True)
    return SwapOutcome(old, problem, interrupted=True)
