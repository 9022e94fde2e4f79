"""The ``implicit_seeds`` source: hand-written example quadruples, checked up front.

The real ``{"sampleN": {...}}`` file misspells two keys; both spellings are read.
A JSON list or a JSONL file (one object a line) works too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import UserError
from instructgen.jsonl import iter_objects
from instructgen.plugin import Source
from instructgen.records import SourceItem
from instructgen.text import normalize

from .checks import split_keywords

#: Accepted spellings of each field, the correct one first. The real seed file
#: spells two of them wrong; the reference generator crashed on that.
FIELD_SPELLINGS: dict[str, tuple[str, ...]] = {
    "original_caption": ("original_caption",),
    "instruction": ("instruction", "instuction"),
    "target_caption": ("target_caption", "target_cation"),
    "keywords": ("key_words", "keywords"),
}
_ALL_SPELLINGS = {s for spellings in FIELD_SPELLINGS.values() for s in spellings}


def normalize_seed(key: str, raw: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One seed sample as ``(data, extra)`` with snake_case field names.

    Raises :class:`UserError` naming the sample key and the field.
    """
    if not isinstance(raw, Mapping):
        raise UserError(f"{where}: sample {key!r}: expected an object, got {type(raw).__name__}")
    data: dict[str, Any] = {}
    for field_name, spellings in FIELD_SPELLINGS.items():
        found = next((s for s in spellings if s in raw), None)
        if found is None:
            also = [s for s in spellings if s != field_name]
            hint = f" (also accepted: {', '.join(map(repr, also))})" if also else ""
            raise UserError(f"{where}: sample {key!r}: missing field {field_name!r}{hint}")
        value = raw[found]
        if field_name == "keywords":
            if not (isinstance(value, str) or (isinstance(value, list)
                                               and all(isinstance(v, str) for v in value))):
                raise UserError(f"{where}: sample {key!r}: field {found!r} must be a string or "
                                "a list of strings")
            value = split_keywords(value)
            if not value:
                raise UserError(f"{where}: sample {key!r}: field {found!r} is empty")
        else:
            if not isinstance(value, str):
                raise UserError(f"{where}: sample {key!r}: field {found!r} must be a string, "
                                f"got {type(value).__name__}")
            value = normalize(value)
            if not value:
                raise UserError(f"{where}: sample {key!r}: field {found!r} is empty")
        data[field_name] = value
    extra = {k: v for k, v in raw.items() if k not in _ALL_SPELLINGS}
    return data, extra


def read_seed_file(path: Path, fmt: str = "auto") -> list[tuple[str, Any]]:
    """``(key, raw sample)`` pairs from a JSON dict, a JSON list or a JSONL file."""
    if not path.is_file():
        raise UserError(f"source.path: file not found: {path}")
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson") else "json"
    if fmt == "jsonl":
        pairs = []
        for lineno, row in iter_objects(path):
            key = row.pop("id", None)
            pairs.append((str(key) if key is not None else f"line{lineno}", row))
        return pairs
    text = path.read_text(encoding="utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if isinstance(doc, dict):
        return [(str(k), v) for k, v in doc.items()]
    if isinstance(doc, list):
        return [(f"sample{i}", v) for i, v in enumerate(doc, 1)]
    raise UserError(f"{path}: expected an object of samples or a list, got {type(doc).__name__}")


def _positive_or_none(_inst: Any, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


@attrs.frozen
class ImplicitSeedsOptions:
    """Options of the ``implicit_seeds`` source."""

    #: Seed examples: ``{"sampleN": {...}}`` JSON, a JSON list, or JSONL (one object a line).
    path: Path
    #: ``auto`` picks JSONL for ``.jsonl``/``.ndjson`` files and JSON otherwise.
    format: Literal["auto", "json", "jsonl"] = "auto"
    #: Use a seeded random sample of this many examples; default: all of them.
    sample: int | None = attrs.field(default=None, validator=_positive_or_none)
    #: Seed of that sample, so the same examples are chosen on every run.
    sample_seed: int = 0


class ImplicitSeedsSource(Source):
    """Reads and checks every seed example up front: the file is small, errors come early."""

    def __init__(self, options: ImplicitSeedsOptions) -> None:
        self.options = options
        pairs = read_seed_file(options.path, options.format)
        seen: set[str] = set()
        items = []
        for key, raw in pairs:
            if key in seen:
                raise UserError(f"{options.path}: sample {key!r} appears twice")
            seen.add(key)
            data, extra = normalize_seed(key, raw, str(options.path))
            items.append(SourceItem(id=key, data=data, source=str(options.path), extra=extra))
        if not items:
            raise UserError(f"{options.path}: no seed examples")
        self._found = len(items)
        if options.sample is not None and options.sample < len(items):
            chosen = random.Random(options.sample_seed).sample(range(len(items)), options.sample)
            items = [items[i] for i in sorted(chosen)]  # keep file order: stable resume
        self.items = items

    def __iter__(self) -> Iterator[SourceItem]:
        return iter(self.items)

    def total(self) -> int:
        return len(self.items)

    def stats(self) -> Mapping[str, int]:
        return {"seeds_in_file": self._found, "seeds_used": len(self.items)}
