"""Malformed CSV files for the import: random bytes, huge fields, broken quoting, wrong
encodings, mutated good files. Used by ``tests/core/flow/test_csv_fuzz.py`` (through the core
functions) and ``test_dropfolder.py`` (through the running drop folder)."""

from __future__ import annotations

import random

GOOD = ("Patient name;Patient ID;Birth date;Sex;Accession;Modality;Station;Date;Time;Description\n"
        "Müller, José;P1;31.12.1970;M;A{n};CT;CT1;2026-05-04;09:30;CT head\n"
        'Roe^Jane;P2;;F;B{n};MR;MR1;04.05.2026;10:00;"MR knee; left"\n')


def malformed(rng: random.Random, n: int) -> bytes:
    good = GOOD.format(n=n % 50)
    kind = n % 6
    if kind == 0:  # random bytes
        return rng.randbytes(rng.randrange(0, 400))
    if kind == 1:  # a huge field
        return good.replace("CT head", "x" * rng.choice((70_000, 140_000, 1_000_000))).encode()
    if kind == 2:  # broken quoting
        return good.replace('"MR knee', rng.choice(('"MR knee"x"', 'MR "knee', '"""'))).encode()
    if kind == 3:  # a wrong encoding
        return good.encode(rng.choice(("utf-16-le", "utf-32", "cp1252", "latin-1", "cp437")))
    data = bytearray(good.encode())
    for _ in range(rng.randrange(1, 12)):  # bytes flipped, dropped, repeated
        at = rng.randrange(len(data))
        choice = rng.randrange(3)
        if choice == 0:
            data[at] = rng.randrange(256)
        elif choice == 1:
            del data[at]
        else:
            data[at:at] = data[at:at + rng.randrange(1, 20)]
    if kind == 5:
        data = data.replace(b";", rng.choice((b",", b"\t", b";;", b"\x00")))
    return bytes(data)
