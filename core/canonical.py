"""Plain JSON for attrs records: the one converter, one-line JSON, and the stable hash.

Records (:mod:`instructgen.records`), requests and answers (:mod:`instructgen.backend`)
all convert to and from plain JSON through :data:`converter`; :func:`stable_hash` keys
the call cache, the recipe hash and a backend's identity. This module imports nothing
from the package, so every contract can lean on it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import cattrs


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(tuple, list)
    return conv


#: The converter for records (not for recipes: those use a stricter one).
converter = _make_converter()


def to_json(record: Any) -> str:
    """Serialise a record as one compact JSON line (no trailing newline)."""
    return json.dumps(converter.unstructure(record), ensure_ascii=False, separators=(",", ":"))


def from_json(text: str | bytes, cls: type) -> Any:
    """Rebuild a record of ``cls`` from :func:`to_json` output."""
    return converter.structure(json.loads(text), cls)


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, compact)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


__all__ = ["converter", "from_json", "stable_hash", "to_json"]
