"""Malformed requests for the REST API: random JSON, huge numbers, wrong VRs, broken UTF-8, deep
nesting, odd paths and broken headers, each sent as raw bytes over its own connection."""

from __future__ import annotations

import json
import random
import socket
from collections import Counter
from collections.abc import Iterator
from typing import Any

_KEYS = ["PatientName", "PatientID", "AccessionNumber", "PatientBirthDate", "0010,0010",
         "ScheduledProcedureStepSequence", "StudyInstanceUID", "0002,0010", "PatientWeight",
         "Modality", "7fe0,0010", "fffe,e000", "0008,0005", "Nope", "", "0010,ZZZZ"]
_VALUES: list[Any] = ["", "DOE^JOHN", "2026-13-45", "x" * 70000, "\\\\", 10**400, -1.5e308,
                      None, True, [], [{}], {"a": 1}, "\u0000\u001b", "李^雷", "\ud800", 1e999]


def _value(rng: random.Random, depth: int = 0) -> Any:
    if depth < 3 and rng.random() < 0.2:
        return [{rng.choice(_KEYS): _value(rng, depth + 1)} for _ in range(rng.randint(0, 3))]
    return rng.choice(_VALUES)


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(7)
    if kind == 0:  # random tags
        tags = {rng.choice(_KEYS): _value(rng) for _ in range(rng.randint(0, 6))}
        return json.dumps({"Tags": tags, "Force": False}).encode()  # all refused
    if kind == 1:  # broken UTF-8 inside otherwise good JSON
        return b'{"Tags": {"PatientName": "' + bytes([rng.randrange(128, 256)]) * 3 + b'"}}'
    if kind == 2:  # deep nesting
        depth = rng.choice([50, 500, 5000, 50000])
        return b'{"Tags": ' * depth + b"{}" + b"}" * depth
    if kind == 3:  # huge number
        return b'{"Tags": {"PatientID": ' + b"9" * rng.choice([100, 5000, 100000]) + b"}}"
    if kind == 4:  # random bytes
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    if kind == 5:  # a cut good body
        good = json.dumps({"Tags": {"PatientName": "DOE", "ScheduledProcedureStepSequence": [
            {"Modality": "CT", "ScheduledProcedureStepStartDate": "20260101"}]}}).encode()
        return good[:rng.randrange(len(good))]
    return json.dumps(rng.choice([[], "x", 1, None, {"Tags": None}, {"Tags": {}, "Force": "x"}])
                      ).encode()


def cases(seed: int, count: int) -> Iterator[bytes]:
    """``count`` raw HTTP requests, reproducible from ``seed``."""
    rng = random.Random(seed)
    for _ in range(count):
        kind = rng.randrange(10)
        if kind < 6:
            body = _body(rng)
            method, path = rng.choice([("POST", "/worklists/create"), ("PUT", "/worklists/x")])
            yield (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
        elif kind < 8:  # odd paths and query strings
            path = rng.choice(["/worklists/..%2F..%2Fetc%2Fpasswd", "/worklists/%00", "/worklists/.x",
                               "/worklists?format=Nope", "/worklists/" + "a" * 5000,
                               "/worklists?%ff=%fe", "/worklists/%ff%fe", "//", "/system/../x",
                               "/worklists?PatientID=" + "%" * 10])
            method = rng.choice(["GET", "DELETE", "PUT", "PATCH", "BREW"])
            yield f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(
                "latin-1")
        else:  # broken headers and request lines
            yield rng.choice([
                b"POST /worklists/create HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                b"POST /worklists/create HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                b"GET / HTTP/9.9\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
                b"GET /system HTTP/1.1\r\nAuthorization: Basic \xff\xff\r\nHost: x\r\n\r\n",
                b"GET /system HTTP/1.1\r\n" + b"X: " + b"y" * 100000 + b"\r\n\r\n",
                b"POST /worklists/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                b"\r\n\r\n\r\n", bytes(rng.randrange(256) for _ in range(64))])


def send(port: int, request: bytes, timeout: float = 10.0) -> str:
    """The status code the API answered ``request`` with, or what happened instead."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
            head = sock.recv(64)
    except TimeoutError:
        return "no answer"
    except OSError:
        return "connection reset"
    if not head:
        return "closed without answer"
    parts = head.split(b" ")
    return parts[1].decode("latin-1") if len(parts) > 1 and head.startswith(b"HTTP/") else "garbage"


def run(port: int, requests: Iterator[bytes]) -> Counter[str]:
    """Send every request; the count of each outcome."""
    return Counter(send(port, request) for request in requests)
