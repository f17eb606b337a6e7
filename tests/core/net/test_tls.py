"""DICOM TLS: the settings (and ``wldesk serve --tls-*``) turn it on; DCMTK's findscu and echoscu
over TLS are the peers; client certificates are required when a CA file is set."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pynetdicom import AE
from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

from tests.helpers.dcmtk import dcmtk_tool, run_findscu
from tests.helpers.ports import LOCALHOST, free_port
from tests.helpers.processes import WldeskServe
from tests.helpers.samples import write_entry
from tests.helpers.tls import Certificates, make_certificates
from wldesk.core.events import Event, EventBus, ServerEvent
from wldesk.core.net import transport
from wldesk.core.net.server import ServerStartError, WorklistServer
from wldesk.core.settings import Settings

requires_dcmtk = pytest.mark.skipif(dcmtk_tool("findscu") is None, reason="DCMTK is not installed")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "worklists"
    path.mkdir()
    write_entry(path, "a.wl", accession="A1", modality="CT")
    write_entry(path, "b.wl", accession="A2", modality="CT")
    return path


@pytest.fixture
def query_file(tmp_path: Path) -> Path:
    query = Dataset()
    query.AccessionNumber = ""
    item = Dataset()
    item.Modality = "CT"
    query.ScheduledProcedureStepSequence = Sequence([item])
    path = tmp_path / "query.dcm"
    query.save_as(path, implicit_vr=False, little_endian=True)
    return path


class Serving:
    def __init__(self, folder: Path, **settings: Any) -> None:
        self.events: list[Event] = []
        bus = EventBus()
        bus.subscribe(self.events.append)
        self.settings = Settings(database=str(folder), port=free_port(), bind_address=LOCALHOST,
                                 **settings)
        self.server = WorklistServer(self.settings, bus)


@pytest.fixture
def serving(folder: Path) -> Iterator[list[Serving]]:
    made: list[Serving] = []
    yield made
    for each in made:
        each.server.stop()


def start(serving: list[Serving], folder: Path, **settings: str) -> Serving:
    made = Serving(folder, **settings)
    serving.append(made)
    made.server.start()
    return made


def tls_findscu(port: int, query: Path, certs: Certificates, *, client_cert: bool,
                ca: Path | None = None) -> list[str]:
    """findscu over TLS, verifying the server against ``ca`` (default: the test CA); with
    ``client_cert`` it presents the modality's certificate, else none (anonymous TLS)."""
    extra = ["+tls", str(certs.client_key), str(certs.client_cert)] if client_cert else ["+tla"]
    extra += ["+cf", str(ca or certs.ca)]
    result = run_findscu(port, query, "WLDESK", "CT1", extra)
    return sorted(str(ds.AccessionNumber) for ds in result.answers) if result.returncode == 0 \
        and result.final_status == "Success" else []


@requires_dcmtk
def test_dcmtk_findscu_queries_over_tls(serving: list[Serving], folder: Path, query_file: Path,
                                        certs: Certificates) -> None:
    made = start(serving, folder, tls_certificate=str(certs.server_cert),
                 tls_key=str(certs.server_key))
    assert tls_findscu(made.settings.port, query_file, certs, client_cert=False) == ["A1", "A2"]
    started = [e for e in made.events if isinstance(e, ServerEvent) and e.kind == "started"]
    assert "(DICOM TLS)" in started[0].message


@requires_dcmtk
@pytest.mark.expect_log_warnings(
    r"TLS handshake with 127\.0\.0\.1:\d+ failed: .*a modality not set up for DICOM TLS")
def test_a_client_without_tls_gets_nothing(serving: list[Serving], folder: Path, query_file: Path,
                                           certs: Certificates) -> None:
    made = start(serving, folder, tls_certificate=str(certs.server_cert),
                 tls_key=str(certs.server_key))
    result = run_findscu(made.settings.port, query_file, "WLDESK", "CT1")
    assert result.returncode != 0
    assert result.answers == []


@requires_dcmtk
@pytest.mark.expect_log_warnings(r"TLS handshake with 127\.0\.0\.1:\d+ failed")
def test_with_a_ca_file_modalities_need_a_certificate_it_signed(
        serving: list[Serving], folder: Path, query_file: Path, certs: Certificates) -> None:
    made = start(serving, folder, tls_certificate=str(certs.server_cert),
                 tls_key=str(certs.server_key), tls_ca=str(certs.ca))
    port = made.settings.port
    assert tls_findscu(port, query_file, certs, client_cert=True) == ["A1", "A2"]
    assert tls_findscu(port, query_file, certs, client_cert=False) == []
    started = [e for e in made.events if isinstance(e, ServerEvent) and e.kind == "started"]
    assert "client certificates required" in started[0].message

    other = start(serving, folder, tls_certificate=str(certs.server_cert),
                  tls_key=str(certs.server_key), tls_ca=str(certs.other_ca))
    assert tls_findscu(other.settings.port, query_file, certs, client_cert=True) == []


def test_pynetdicom_client_over_tls(serving: list[Serving], folder: Path,
                                    certs: Certificates) -> None:
    made = start(serving, folder, tls_certificate=str(certs.server_cert),
                 tls_key=str(certs.server_key), tls_ca=str(certs.ca))
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs.ca))
    client.load_cert_chain(certs.client_cert, certs.client_key)
    ae = AE(ae_title="CT1")
    ae.add_requested_context(ModalityWorklistInformationFind)
    assoc = ae.associate(LOCALHOST, made.settings.port, ae_title="WLDESK",
                         tls_args=(client, "localhost"))
    try:
        assert assoc.is_established
        query = Dataset()
        query.AccessionNumber = ""
        statuses = [int(status.Status) for status, _ in
                    assoc.send_c_find(query, ModalityWorklistInformationFind)]
        assert statuses == [0xFF00, 0xFF00, 0x0000]
    finally:
        assoc.release()
        ae.shutdown()


@pytest.mark.parametrize(("given", "expected"), [
    ({"tls_certificate": "CERT"}, "the key is not set"),
    ({"tls_key": "KEY"}, "the certificate is not set"),
    ({"tls_ca": "CA"}, "a TLS CA file is set but no certificate and key"),
    ({"tls_certificate": "CERT", "tls_key": "MISSING"}, "the TLS key .*missing.pem does not exist"),
    ({"tls_certificate": "CERT", "tls_key": "CLIENT_KEY"}, "cannot be used together"),
    ({"tls_certificate": "CERT", "tls_key": "KEY", "tls_ca": "KEY"}, "holds no usable certificate"),
])
def test_tls_settings_that_cannot_work_stop_the_start_with_the_reason(
        serving: list[Serving], folder: Path, tmp_path: Path, certs: Certificates, *,
        given: dict[str, str], expected: str) -> None:
    files = {"CERT": certs.server_cert, "KEY": certs.server_key, "CA": certs.ca,
             "CLIENT_KEY": certs.client_key, "MISSING": tmp_path / "missing.pem"}
    settings = {name: str(files[value]) for name, value in given.items()}
    made = Serving(folder, **settings)
    serving.append(made)
    with pytest.raises(ServerStartError, match=expected):
        made.server.start()
    failed = [e for e in made.events if isinstance(e, ServerEvent) and e.kind == "failed"]
    assert len(failed) == 1


@requires_dcmtk
def test_serve_command_speaks_tls(folder: Path, query_file: Path, certs: Certificates) -> None:
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs.ca))
    with WldeskServe(folder, extra_args=["--tls-cert", str(certs.server_cert),
                                         "--tls-key", str(certs.server_key)], tls=client) as serve:
        assert tls_findscu(serve.port, query_file, certs, client_cert=False) == ["A1", "A2"]
        assert "(DICOM TLS)" in serve.log_text()


@pytest.mark.expect_log_warnings(r"TLS handshake with 127\.0\.0\.1:\d+ failed")
def test_a_silent_connection_holds_no_other_modality_back(
        serving: list[Serving], folder: Path, certs: Certificates,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The handshake happens on each association's own thread with a deadline: a peer that
    connects and says nothing (or stops half-way) delays nobody else, and is let go."""
    monkeypatch.setattr(transport, "HANDSHAKE_TIMEOUT", 1.0)
    made = start(serving, folder, tls_certificate=str(certs.server_cert),
                 tls_key=str(certs.server_key))
    silent = socket.create_connection((LOCALHOST, made.settings.port))
    stalled = socket.create_connection((LOCALHOST, made.settings.port))
    stalled.sendall(b"\x16\x03\x01")  # the start of a ClientHello, and nothing more
    try:
        client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs.ca))
        ae = AE(ae_title="CT1")
        ae.add_requested_context(ModalityWorklistInformationFind)
        ae.acse_timeout = ae.connection_timeout = 5
        assoc = ae.associate(LOCALHOST, made.settings.port, ae_title="WLDESK",
                             tls_args=(client, "localhost"))
        try:
            assert assoc.is_established
        finally:
            assoc.release()
            ae.shutdown()
        stalled.settimeout(5)
        assert stalled.recv(1) == b""  # closed by the server after the handshake deadline
    finally:
        silent.close()
        stalled.close()
