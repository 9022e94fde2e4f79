"""Concept pools: reading every accepted file shape into one :class:`ConceptPool`.

Accepted shapes (JSON unless noted):

- a list of names, or a text file with one name per line;
- ``{"concepts": [...], "backgrounds": [...]}``, the backgrounds shared by all
  concepts; entries of ``concepts`` may also be objects
  ``{"name", "backgrounds", "sources"}`` (what ``instructgen concepts merge`` writes);
- ``{concept: [backgrounds]}``, as in SynCLR's background dictionaries, and
  ``{dataset: [classes]}``, as in the reference's ``classname.json``: the same
  JSON shape, so ``shape`` must say which (``auto`` refuses to guess);
- ``{concept: {"b": [backgrounds], "c": ...}}``, the reference's hand-filtered
  ``concept_pool.json`` (keys other than ``b`` are kept as notes);
- JSONL output of a ``c2b`` run (``records.jsonl`` or a flat sink file), one
  concept per line with its ``backgrounds``;
- CSV output of the reference's c2b (header ``concept,caption``; the caption
  column holds the comma-separated backgrounds).

Each concept remembers which files it came from, and concepts are merged on a
case- and spacing-insensitive key, so the same name never appears twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import UserError
from instructgen.text import dedup_key, normalize

SHAPES = (
    "a JSON list of names",
    "a text file with one name per line",
    '{"concepts": [...], "backgrounds": [...]}',
    "{concept: [backgrounds]} (shape = \"concept_backgrounds\")",
    "{dataset: [classes]} (shape = \"dataset_classes\")",
    '{concept: {"b": [backgrounds], ...}}',
    "JSONL output of a c2b run",
    "CSV output of the reference's c2b (concept,caption)",
)
#: How a ``{key: [strings]}`` object is read: ``auto`` refuses, since a
#: concept → backgrounds dictionary and a dataset → class names list look alike.
PoolShape = Literal["auto", "concept_backgrounds", "dataset_classes"]
POOL_SHAPES: tuple[str, ...] = ("auto", "concept_backgrounds", "dataset_classes")


class PoolError(UserError):
    """A concept-pool file that cannot be read or is in none of the accepted shapes."""


@attrs.define
class Concept:
    """One concept with its backgrounds and the files it was read from."""

    name: str
    backgrounds: list[str] = attrs.field(factory=list)
    sources: list[str] = attrs.field(factory=list)
    #: What tools learned about the concept (``aliases``, ``photographable``), kept on merge.
    notes: dict[str, Any] = attrs.field(factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "backgrounds": list(self.backgrounds),
                "sources": list(self.sources), **self.notes}


class ConceptPool:
    """Concepts in first-seen order, merged by key; plus backgrounds shared by the pool."""

    def __init__(self) -> None:
        self._by_key: dict[str, Concept] = {}
        #: Backgrounds given for the whole pool (the ``{"concepts", "backgrounds"}`` shape).
        self.shared_backgrounds: list[str] = []
        self._shared_keys: set[str] = set()
        #: Concepts per file, counted as read (before merging).
        self.per_source: dict[str, int] = {}
        #: How many entries were merged into a concept read earlier.
        self.merged_duplicates = 0

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Concept]:
        return iter(self._by_key.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dedup_key(name) in self._by_key

    @property
    def concepts(self) -> list[Concept]:
        return list(self._by_key.values())

    def get(self, name: str) -> Concept | None:
        return self._by_key.get(dedup_key(name))

    def add(self, name: str, backgrounds: Iterable[str] = (), sources: Iterable[str] = (),
            notes: Mapping[str, Any] | None = None) -> Concept:
        """Add a concept, or merge its backgrounds and sources into an existing one."""
        key = dedup_key(name)
        concept = self._by_key.get(key)
        if concept is None:
            concept = self._by_key[key] = Concept(normalize(name))
        else:
            self.merged_duplicates += 1
        _extend_unique(concept.backgrounds, backgrounds)
        for src in sources:
            if src not in concept.sources:
                concept.sources.append(src)
        for key, value in (notes or {}).items():
            concept.notes.setdefault(key, value)
        return concept

    def add_shared(self, backgrounds: Iterable[str]) -> None:
        for bg in backgrounds:
            key = dedup_key(bg)
            if key and key not in self._shared_keys:
                self._shared_keys.add(key)
                self.shared_backgrounds.append(normalize(bg))

    def backgrounds_for(self, concept: Concept) -> tuple[list[str], str]:
        """The concept's own backgrounds, else the pool's shared ones, and which it was."""
        if concept.backgrounds:
            return concept.backgrounds, "concept"
        if self.shared_backgrounds:
            return self.shared_backgrounds, "pool"
        return [], "none"

    def all_backgrounds(self) -> list[str]:
        """Every background in the pool, shared and per concept, each once."""
        out = list(self.shared_backgrounds)
        _extend_unique(out, (bg for c in self for bg in c.backgrounds))
        return out

    def to_json(self) -> dict[str, Any]:
        """The merged shape: concepts as objects, provenance kept."""
        data: dict[str, Any] = {"concepts": [c.as_json() for c in self]}
        if self.shared_backgrounds:
            data["backgrounds"] = list(self.shared_backgrounds)
        return data


def _extend_unique(target: list[str], extra: Iterable[str]) -> None:
    seen = {dedup_key(x) for x in target}
    for item in extra:
        key = dedup_key(item)
        if key and key not in seen:
            seen.add(key)
            target.append(normalize(item))


def load_pool(paths: Sequence[Path | str], pool: ConceptPool | None = None,
              shape: PoolShape = "auto") -> ConceptPool:
    """Read and merge pool files; raise :class:`PoolError` naming the file and index.

    ``shape`` says how a ``{key: [strings]}`` object is read; other shapes are
    unambiguous and read as they are.
    """
    if shape not in POOL_SHAPES:
        raise PoolError(f"shape: unknown pool shape {shape!r} (valid: {', '.join(POOL_SHAPES)})")
    pool = pool if pool is not None else ConceptPool()
    for path in paths:
        read_pool_file(Path(path), pool, shape)
    return pool


def read_pool_file(path: Path, pool: ConceptPool, shape: PoolShape = "auto") -> None:
    """Read one file in any accepted shape into ``pool``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PoolError(f"{path}: concept pool file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PoolError(f"{path}: cannot read concept pool ({exc})") from None
    src = str(path)
    before = len(pool) + pool.merged_duplicates
    stripped = text.lstrip()
    data: Any = None
    if stripped[:1] in ("[", "{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            if stripped[:1] == "{" and _read_jsonl(path, text, pool, src):
                pool.per_source[src] = len(pool) + pool.merged_duplicates - before
                return
            raise PoolError(f"{path}: not valid JSON; {_accepted()}") from None
        _read_json(path, data, pool, src, shape)
    elif path.suffix.lower() == ".csv" or _csv_header(stripped) is not None:
        _read_c2b_csv(path, text, pool, src)
    elif path.suffix.lower() in (".json", ".jsonl"):
        raise PoolError(f"{path}: {'empty file' if not stripped else 'not JSON'}; {_accepted()}")
    else:
        for line in text.splitlines():
            name = line.strip()
            if name and not name.startswith("#"):
                pool.add(name, sources=[src])
        if len(pool) + pool.merged_duplicates == before:
            raise PoolError(f"{path}: no concept names found; {_accepted()}")
    pool.per_source[src] = len(pool) + pool.merged_duplicates - before


def _accepted() -> str:
    return "accepted shapes: " + "; ".join(SHAPES)


def _name(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PoolError(f"{path}: {where}: a concept must be a string, got {_short(value)}")
    if not value.strip():
        raise PoolError(f"{path}: {where}: empty concept name")
    return value


def _backgrounds(path: Path, where: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PoolError(f"{path}: {where}: backgrounds must be a list of strings, "
                        f"got {_short(value)}")
    for i, bg in enumerate(value):
        if not isinstance(bg, str):
            raise PoolError(f"{path}: {where}[{i}]: a background must be a string, "
                            f"got {_short(bg)}")
    return [bg for bg in value if bg.strip()]


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_json(path: Path, data: Any, pool: ConceptPool, src: str,
               shape: PoolShape = "auto") -> None:
    if isinstance(data, list):
        if not data:
            raise PoolError(f"{path}: the list of concepts is empty")
        for i, entry in enumerate(data):
            if isinstance(entry, Mapping):
                _read_object(path, f"[{i}]", entry, pool, src)
            else:
                pool.add(_name(path, f"[{i}]", entry), sources=[src])
        return
    if isinstance(data, Mapping) and ("concept" in data or "data" in data):
        _read_object(path, "line 1", data, pool, src)  # a one-line c2b output
        return
    if not isinstance(data, Mapping) or not data:
        raise PoolError(f"{path}: {'empty object' if data == {} else 'unexpected JSON'}; "
                        f"{_accepted()}")
    if "concepts" in data and isinstance(data["concepts"], list):
        extra = set(data) - {"concepts", "backgrounds"}
        if extra:
            raise PoolError(f"{path}: unexpected key(s) {', '.join(sorted(map(repr, extra)))} "
                            f"beside 'concepts'; {_accepted()}")
        pool.add_shared(_backgrounds(path, "backgrounds", data.get("backgrounds")))
        for i, entry in enumerate(data["concepts"]):
            where = f"concepts[{i}]"
            if isinstance(entry, Mapping):
                _read_object(path, where, entry, pool, src)
            else:
                pool.add(_name(path, where, entry), sources=[src])
        return
    if all(isinstance(v, Mapping) and "b" in v for v in data.values()):
        for i, (name, entry) in enumerate(data.items()):  # the reference's concept_pool.json
            where = f"entry {i} ({name!r})"
            notes = {k: v for k, v in entry.items() if k != "b"}
            pool.add(_name(path, where, name), _backgrounds(path, f"{where}.b", entry["b"]),
                     [src], notes)
        return
    if all(isinstance(v, list) for v in data.values()):
        if shape == "auto":
            raise PoolError(
                f"{path}: {{key: [strings]}} is either {{concept: [backgrounds]}} (SynCLR) or "
                f"{{dataset: [classes]}} (classname.json); set shape = \"concept_backgrounds\" "
                f"or shape = \"dataset_classes\"")
        for i, (name, values) in enumerate(data.items()):
            where = f"entry {i} ({name!r})"
            if shape == "concept_backgrounds":
                pool.add(_name(path, where, name), _backgrounds(path, where, values), [src])
                continue
            for j, cls in enumerate(values):
                pool.add(_name(path, f"{where}[{j}]", cls), (), [src], {"dataset": name})
        return
    raise PoolError(f"{path}: a JSON object in none of the accepted shapes; {_accepted()}")


def _read_object(path: Path, where: str, entry: Mapping[str, Any], pool: ConceptPool,
                 src: str) -> None:
    """A concept object: merged pools (``name``) and c2b records (``concept``)."""
    if "data" in entry and isinstance(entry["data"], Mapping):  # a native run record
        entry = entry["data"]
    key = "name" if "name" in entry else "concept" if "concept" in entry else None
    if key is None:
        raise PoolError(f"{path}: {where}: object without 'name' or 'concept'; {_accepted()}")
    name = _name(path, f"{where}.{key}", entry[key])
    bgs = _backgrounds(path, f"{where}.backgrounds", entry.get("backgrounds"))
    recorded = entry.get("sources")
    if not (isinstance(recorded, list) and all(isinstance(s, str) for s in recorded)):
        recorded = []
    # A merged pool only carries provenance; a c2b record's backgrounds came from this file.
    sources = recorded if key == "name" and recorded else [*recorded, src]
    notes = ({k: v for k, v in entry.items() if k not in ("name", "backgrounds", "sources")}
             if key == "name" else {})
    pool.add(name, bgs, sources, notes)


def _read_jsonl(path: Path, text: str, pool: ConceptPool, src: str) -> bool:
    """Read c2b output, one JSON object per line; False when it is not JSONL."""
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            return False
        if not isinstance(row, Mapping):
            raise PoolError(f"{path}:{lineno}: expected a JSON object per line; {_accepted()}")
        rows.append((lineno, row))
    for lineno, row in rows:
        _read_object(path, f"line {lineno}", row, pool, src)
    return True


_C2B_HEADER = ["concept", "caption"]


def _csv_header(text: str) -> list[str] | None:
    first = text.split("\n", 1)[0].strip().lower()
    return _C2B_HEADER if first.replace(" ", "") == "concept,caption" else None


def _read_c2b_csv(path: Path, text: str, pool: ConceptPool, src: str) -> None:
    """The reference's c2b CSV: ``concept,caption`` rows, backgrounds comma-separated."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if header != _C2B_HEADER:
        raise PoolError(f"{path}: a CSV pool needs the c2b header 'concept,caption', "
                        f"found {','.join(header) or 'nothing'!r}")
    read = 0
    for lineno, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2:
            raise PoolError(f"{path}:{lineno}: expected concept,caption, got {_short(row)}")
        # A model answer with commas may spill over several columns: they are all backgrounds.
        backgrounds = [b.strip().strip('"').strip() for cell in row[1:] for b in cell.split(",")]
        backgrounds = [b for b in backgrounds if b]
        pool.add(_name(path, f"line {lineno}", row[0].strip()), backgrounds, [src])
        read += 1
    if not read:
        raise PoolError(f"{path}: no concept rows after the header")
