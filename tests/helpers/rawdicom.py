"""A DICOM peer over a raw socket, for what no well-behaved SCU sends: A-ASSOCIATE-RQ PDUs with
any AE title bytes, and connections that stop half-way (PS3.8 9.3)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence

from tests.helpers.ports import LOCALHOST

MWL = "1.2.840.10008.5.1.4.31"
VERIFICATION = "1.2.840.10008.1.1"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"

A_ASSOCIATE_AC, A_ASSOCIATE_RJ, A_RELEASE_RP, A_ABORT = 0x02, 0x03, 0x06, 0x07
RELEASE_RQ = struct.pack(">BBLL", 0x05, 0, 4, 0)


def _item(kind: int, body: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(body)) + body


def associate_rq(calling: bytes = b"MODALITY", called: bytes = b"WLDESK",
                 abstract_syntaxes: Sequence[str] = (MWL, VERIFICATION)) -> bytes:
    """An A-ASSOCIATE-RQ PDU with the AE title bytes as given (space padded to 16), one
    presentation context (implicit VR little endian) per abstract syntax."""
    body = struct.pack(">HH", 1, 0) + called.ljust(16, b" ") + calling.ljust(16, b" ") + bytes(32)
    body += _item(0x10, APPLICATION_CONTEXT.encode())
    for index, syntax in enumerate(abstract_syntaxes):
        body += _item(0x20, bytes([1 + 2 * index, 0, 0, 0]) + _item(0x30, syntax.encode())
                      + _item(0x40, IMPLICIT_LE.encode()))
    body += _item(0x50, _item(0x51, struct.pack(">L", 16384)) + _item(0x52, b"1.2.3.4.5"))
    return struct.pack(">BBL", 0x01, 0, len(body)) + body


def _command(group: bytes) -> bytes:
    """A command set (implicit VR little endian) behind its group length."""
    return struct.pack("<HHLL", 0x0000, 0x0000, 4, len(group)) + group


def echo_rq(message_id: int = 1, context_id: int = 1) -> bytes:
    """A P-DATA-TF PDU carrying a whole C-ECHO-RQ command set on presentation context
    ``context_id`` (PS3.7 9.3.5; an association proposing only Verification has it as 1)."""
    uid = VERIFICATION.encode() + b"\0"
    group = (struct.pack("<HHL", 0x0000, 0x0002, len(uid)) + uid
             + struct.pack("<HHLH", 0x0000, 0x0100, 2, 0x0030)  # C-ECHO-RQ
             + struct.pack("<HHLH", 0x0000, 0x0110, 2, message_id)
             + struct.pack("<HHLH", 0x0000, 0x0800, 2, 0x0101))  # no data set
    pdv = bytes([context_id, 0x03]) + _command(group)  # command, last fragment
    return struct.pack(">BBLL", 0x04, 0, len(pdv) + 4, len(pdv)) + pdv


def echo_status(pdu: bytes) -> int | None:
    """The Status of a P-DATA-TF PDU carrying a whole C-ECHO-RSP command set, else None."""
    if pdu[:1] != b"\x04" or len(pdu) < 12 or pdu[11] != 0x03:
        return None
    data, offset = pdu[12:], 0
    while offset + 8 <= len(data):
        _, element, length = struct.unpack_from("<HHL", data, offset)
        if element == 0x0900 and length == 2:
            return int(struct.unpack_from("<H", data, offset + 8)[0])
        offset += 8 + length
    return None


def read_pdu(sock: socket.socket) -> bytes:
    """One whole PDU (header included); b"" when the peer closed first."""
    header = _read(sock, 6)
    if len(header) < 6:
        return b""
    return header + _read(sock, struct.unpack(">L", header[2:6])[0])


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def reject_fields(pdu: bytes) -> tuple[int, int, int]:
    """(result, source, reason) of an A-ASSOCIATE-RJ PDU."""
    assert pdu[0] == A_ASSOCIATE_RJ, f"not an A-ASSOCIATE-RJ: {pdu[:12]!r}"
    return pdu[7], pdu[8], pdu[9]


def connect(port: int, source: str = LOCALHOST, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to 127.0.0.1:port from ``source`` (another loopback address, such as
    127.0.0.2, stands for another host)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((LOCALHOST, port))
    return sock


def request(port: int, pdu: bytes, source: str = LOCALHOST) -> bytes:
    """Send ``pdu`` on a new connection; the answer PDU (released again when it is an AC)."""
    with connect(port, source) as sock:
        sock.sendall(pdu)
        answer = read_pdu(sock)
        if answer[:1] == bytes([A_ASSOCIATE_AC]):
            sock.sendall(RELEASE_RQ)
            read_pdu(sock)
        return answer
