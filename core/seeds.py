"""Seed derivation: every random choice is a pure function of the run seed.

Item seeds come from the run seed and the item's stable id, so results do not
depend on batch size, item order, or which items were resumed.
"""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 31-bit seed from any parts; fits every backend (llama.cpp takes uint32)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF
