"""Malformed HL7 input for the MLLP listener: random bytes, broken segments, wrong framing, huge
fields, wrong character sets. Used by ``tests/core/flow/test_hl7_fuzz.py`` (a fixed slice) and
``benchmarks/hl7_bench.py --fuzz`` (as many as asked)."""

from __future__ import annotations

import random
import socket
from collections import Counter

VALID = ("MSH|^~\\&|RIS|CLINIC|WLDESK|RAD|20260301090000||ORM^O01|F{n}|P|2.3.1||||||UNICODE UTF-8\r"
         "PID|||PAT{n}^^^HOSP||Fuzz^Patient{n}||19800102|F\r"
         "ORC|NW|PLC{n}|FIL{n}||SC\r"
         "OBR|1|PLC{n}|FIL{n}|CTHEAD^CT Head^L||||||||||||||FZ{n}|RP{n}|SPS{n}||||CT|||^^^20260301100000\r")

KINDS = ("random bytes", "broken segments", "wrong framing", "huge field", "byte flips",
         "wrong character set", "truncated")


def frame(payload: bytes) -> bytes:
    return b"\x0b" + payload + b"\x1c\r"


def case(rng: random.Random, number: int) -> tuple[str, bytes]:
    """One malformed input as it goes on the wire (framed, or deliberately not)."""
    kind = KINDS[number % len(KINDS)]
    good = VALID.format(n=number).encode("utf-8")
    if kind == "random bytes":
        data = frame(rng.randbytes(rng.randint(0, 400)).replace(b"\x1c\r", b""))
    elif kind == "broken segments":
        segments = good.split(b"\r")
        rng.shuffle(segments)
        cut = [s[: rng.randint(0, len(s))] for s in segments]
        seps = [b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b""]
        data = frame(b"\r".join(c + rng.choice(seps) * rng.randint(0, 30) for c in cut))
    elif kind == "wrong framing":
        data = rng.choice([good + b"\x1c\r", b"\x0b\x0b" + good + b"\x1c\r", b"\x0b" + good + b"\x1c",
                           b"\x1c\r" + frame(good[: rng.randint(0, 40)]),
                           b"junk" + frame(good.replace(b"ORC|NW", b"ORC|ZZ"))])
    elif kind == "huge field":
        data = frame(good.replace(b"Fuzz", b"F" * rng.choice([70, 5000, 300_000])))
    elif kind == "byte flips":
        flipped = bytearray(good)
        for _ in range(rng.randint(1, 12)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        data = frame(bytes(flipped).replace(b"\x1c\r", b"\x1c"))
    elif kind == "wrong character set":
        data = frame(good.replace(b"UNICODE UTF-8", rng.choice([b"8859/1", b"ASCII", b"KOI8"]))
                     .replace(b"Patient", "Pätiënt".encode(rng.choice(["utf-8", "latin_1", "utf-16"]))))
    else:
        data = frame(good[: rng.randint(0, len(good))])
    return kind, data


def send_raw(port: int, data: bytes) -> bytes:
    """``data`` as it is, on a connection of its own; whatever comes back before the listener
    waits for more."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def run(port: int, count: int, seed: int = 14) -> Counter[str]:
    """``count`` malformed inputs sent to the listener on ``port``; how many of each kind got
    which MSA-1 code ("-": no ACK)."""
    rng = random.Random(seed)
    acks: Counter[str] = Counter()
    for number in range(count):
        kind, data = case(rng, number)
        answer = send_raw(port, data)
        code = answer[answer.find(b"MSA|") + 4:][:2].decode("latin_1") if b"MSA|" in answer else "-"
        acks[f"{kind}: {code}"] += 1
    return acks
