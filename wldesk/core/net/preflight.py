"""Would a server start with these settings? Checked before they are saved and before a restart.

:func:`check_settings` tries what starting the server does, without stopping the one running:
listening on the address and port (:func:`wldesk.core.net.transport.try_listen`, the server's own
socket options), the worklist folder (there, a folder, readable) and the TLS files
(:func:`wldesk.core.net.tls.server_context`). The AE title needs no check here: a
:class:`~wldesk.core.settings.Settings` cannot hold an invalid one (``check_ae_title`` runs when it
is made, and the Settings tab shows its verdict in the field's own error line).

Each problem names the setting it is about and says in plain words what is wrong and what to do.

What the window does with them (``wldesk/gui/settings_tab.py``): they are shown next to their
fields while the user types, but they do not block Save. The saved settings are what the server
starts with next, and a folder on a drive not connected yet, or a port that another program will
give up, are fair to save. They do block "Restart now": the running server keeps answering, and the
restart bar says why. The controller's restart is safe without them anyway (the old server keeps,
or goes back to, answering when the new one cannot start); this check tells people before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wldesk.core.net.addresses import same_listener, this_computer_addresses
from wldesk.core.net.tls import TLSConfigError, server_context
from wldesk.core.net.transport import address_not_here, listen_error, port_in_use, try_listen
from wldesk.core.settings import Settings


@dataclass(frozen=True)
class Problem:
    """Why a server could not start with some settings."""

    setting: str  # the setting's name (the field the Settings tab shows it next to)
    message: str  # one or two plain sentences
    missing_folder: bool = False  # the worklist folder does not exist: it can be created


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def listen_problems(settings: Settings, running: Settings | None = None) -> list[Problem]:
    """Why a server could not listen on ``settings``' address and port now.

    ``running``: the settings of this wldesk's own running server. Its port is no problem: a
    restart hands it over. (While it listens, it alone cannot be told from another program on
    the same port and an overlapping address; the restart finds out, safely.)"""
    address, port = settings.bind_address, settings.port
    try:
        try_listen((address, port))
    except OSError as exc:
        if (port_in_use(exc) and running is not None and running.port == port
                and same_listener(address, running.bind_address)):
            return []
        if address_not_here(exc):
            known = ", ".join(this_computer_addresses()) or "none but 127.0.0.1"
            return [Problem("bind_address", f"{address} is not an address of this computer (its "
                                            f"addresses: {known}). Use one of them, or 0.0.0.0 "
                                            f"for all of them.")]
        if port_in_use(exc):
            return [Problem("port", f"Port {port} is already used by another program on this "
                                    f"computer. Choose another port, or stop that program.")]
        return [Problem("port", _sentence(f"port {port} cannot be used: {listen_error(exc)}"))]
    return []


def folder_problems(settings: Settings) -> list[Problem]:
    """Why the server could not serve ``settings``' worklist folder."""
    folder = Path(settings.database)
    if not folder.exists():
        return [Problem("database", f"The folder {folder} does not exist.", missing_folder=True)]
    if not folder.is_dir():
        return [Problem("database", f"{folder} is a file, not a folder.")]
    if not os.access(folder, os.R_OK | os.X_OK):
        return [Problem("database", f"wldesk may not read the folder {folder}: ask the computer's "
                                    f"administrator for read access.")]
    return []


def tls_problems(settings: Settings) -> list[Problem]:
    """Why the server could not speak TLS with ``settings``' certificate, key and CA files."""
    try:
        server_context(settings.tls_certificate, settings.tls_key, settings.tls_ca)
    except TLSConfigError as exc:
        message = str(exc)
        named = [name for name in ("tls_ca", "tls_key", "tls_certificate")
                 if getattr(settings, name) and getattr(settings, name) in message]
        return [Problem(named[0] if named else "tls_certificate", _sentence(message))]
    return []


def check_settings(settings: Settings, running: Settings | None = None) -> list[Problem]:
    """Everything that would stop a server from starting with ``settings`` now (none: it would).

    ``running``: the settings of this wldesk's own running server, whose port is no problem."""
    return [*listen_problems(settings, running), *folder_problems(settings), *tls_problems(settings)]


def create_folder(folder: str) -> str | None:
    """Create the worklist folder (and its parents); why not, or None when it now exists."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"The folder {path} could not be created: {exc.strerror or exc}."
    return None
