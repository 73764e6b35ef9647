"""Unique visitors as HyperLogLog registers, mergeable by ``MAX`` in plain SQL.

Counting distinct visitors over a range cannot be a sum of hourly counts (a
visitor seen in two hours is one visitor), and counting distinct ids over
raw events reads every event of the range. A HyperLogLog sketch of each hour
and each day answers in constant space: each visitor hashes to one of
:data:`REGISTERS` registers and a rank (leading zeros of the rest of the
hash, plus one), a register keeps the highest rank it saw, and the sketch of
a range is the register-wise maximum of its hours' or days' sketches.

The registers are rows ``(period, register, rank)`` upserted with
``rank = MAX(rank, new)``: commutative and idempotent, so concurrent digest
workers never lose an update and no row is read back before writing, on any
backend. Only registers a visitor touched have a row: a small site stores a
few rows an hour, a large one at most :data:`REGISTERS`.

With 4,096 registers the standard error is about 1.6%; below ~10,000
visitors the estimate switches to linear counting, which is near exact.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

__all__ = ["PRECISION", "REGISTERS", "estimate", "register_of"]

PRECISION = 12
REGISTERS = 1 << PRECISION
_REST_BITS = 64 - PRECISION
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


def register_of(visitor: str) -> tuple[int, int]:
    """The (register, rank) a visitor sets: a 64-bit hash split into index and rank."""
    digest = hashlib.blake2b(visitor.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    register = value >> _REST_BITS
    rest = value & ((1 << _REST_BITS) - 1)
    rank = _REST_BITS - rest.bit_length() + 1
    return register, rank


def estimate(registers: Mapping[int, int] | Iterable[tuple[int, int]]) -> int:
    """How many distinct visitors a sketch (register -> rank, highest kept) holds."""
    items = registers.items() if isinstance(registers, Mapping) else registers
    ranks: dict[int, int] = {}
    for register, rank in items:
        if rank > ranks.get(register, 0):
            ranks[register] = rank
    if not ranks:
        return 0
    zeros = REGISTERS - len(ranks)
    harmonic = zeros + sum(2.0**-rank for rank in ranks.values())
    raw = _ALPHA * REGISTERS * REGISTERS / harmonic
    if raw <= 2.5 * REGISTERS and zeros:
        return round(REGISTERS * math.log(REGISTERS / zeros))
    return round(raw)
