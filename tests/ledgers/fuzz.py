"""Fuzz inputs shared by the fast decoder's tests and the skippers' (tests/ledgers/test_fast_decoder.py,
test_skipgen.py): small corpus ledgers, mutated with a fixed seed."""

from __future__ import annotations

import random

FUZZ_FILES = (  # small ledgers of each LedgerCloseMeta version, with transactions
    ("stellar-go/ttp-example/mint-ledger-7320888", 0),
    ("stellar-go/testbucket/FFFFFC18--999.xdr.zst", 0),
    ("stellar-go/load-test/load-test-ledgers-v23.xdr.zstd", 0),
)


def mutants(raw: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        kind = i % 4
        if kind == 0:  # flip a few bytes
            data = bytearray(raw)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            out.append(bytes(data))
        elif kind == 1:  # truncated
            out.append(raw[: rng.randrange(len(raw))])
        elif kind == 2:  # extended
            out.append(raw + rng.randbytes(rng.randint(1, 64)))
        else:  # a small integer written over an aligned word (counts, discriminants, lengths)
            data = bytearray(raw)
            at = rng.randrange(len(data) // 4) * 4
            data[at : at + 4] = rng.choice([0, 1, 2, 3, 7, 0xFF, 0x7FFFFFFF, 0xFFFFFFFF]).to_bytes(4, "big")
            out.append(bytes(data))
    return out
