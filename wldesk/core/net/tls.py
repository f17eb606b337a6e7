"""DICOM TLS (PS3.15 B.9, the BCP 195 profile): the server's ``ssl.SSLContext`` from the settings.

With a certificate and its key the server speaks TLS only, on its one port (a modality that does
not speak TLS cannot associate). With a CA file too, a modality must present a certificate signed
by one of its CAs (mutual authentication); without one, any modality may connect, as over plain
TCP. TLS 1.2 is the oldest version accepted, as BCP 195 asks.
"""

from __future__ import annotations

import ssl
from pathlib import Path


class TLSConfigError(ValueError):
    """The TLS settings cannot make a working server; the message says which file and why."""


def _readable(path: str, what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise TLSConfigError(f"the TLS {what} {file} does not exist")
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise TLSConfigError(f"the TLS {what} {file} cannot be read: {exc.strerror or exc}") from None
    return file


def server_context(certificate: str, key: str, ca: str = "") -> ssl.SSLContext | None:
    """The server's TLS context, or None when no certificate and no key are set (plain TCP)."""
    if not certificate and not key:
        if ca:
            raise TLSConfigError("a TLS CA file is set but no certificate and key: TLS needs both")
        return None
    if not certificate or not key:
        missing = "certificate" if not certificate else "key"
        raise TLSConfigError(f"TLS needs a certificate and its key; the {missing} is not set")
    cert_file = _readable(certificate, "certificate")
    key_file = _readable(key, "key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        raise TLSConfigError(f"the TLS certificate {cert_file} and key {key_file} cannot be used "
                             f"together ({exc.reason or exc}): are both PEM files, the key "
                             f"unencrypted and the one of this certificate?") from None
    if ca:
        ca_file = _readable(ca, "CA file")
        try:
            context.load_verify_locations(cafile=ca_file)
        except ssl.SSLError as exc:
            raise TLSConfigError(f"the TLS CA file {ca_file} holds no usable certificate "
                                 f"({exc.reason or exc})") from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context
