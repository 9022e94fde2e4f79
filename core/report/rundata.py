"""Reading a run directory back for reports: manifest, accepted records, rejections.

The report reads plain JSON rather than the typed records, so it keeps working
on runs written by other versions and on payloads of any generator.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from instructgen.errors import UserError
from instructgen.jsonl import iter_objects
from instructgen.rundir import MANIFEST, RECORDS, REJECTS

from .labels import Label, load_labels

#: Payload keys that hold the instruction-like text, in order of preference.
#: ``edit`` (edit generators) comes before ``instruction`` (implicit edits),
#: then captions and free text; ``backgrounds`` is a list of phrases (c2b).
TEXT_FIELDS: tuple[str, ...] = ("edit", "instruction", "caption", "text", "backgrounds")
#: Fields that name the object an edit acts on.
OBJECT_FIELDS: tuple[str, ...] = ("edited_object",)
#: Fields that read as instructions (their first word is usually the verb).
INSTRUCTION_FIELDS: frozenset[str] = frozenset({"edit", "instruction"})


@attrs.frozen
class RunData:
    """One run directory, read back."""

    path: Path
    manifest: Mapping[str, Any]
    records: Sequence[Mapping[str, Any]]
    rejections: Sequence[Mapping[str, Any]]
    #: Column title; default: the folder name.
    name: str = ""
    #: Human labels stored in the run directory (``labels.jsonl``), by record id.
    labels: Mapping[str, Label] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.path.name or str(self.path)

    @property
    def recipe(self) -> Mapping[str, Any]:
        return self.manifest.get("recipe") or {}

    @property
    def counts(self) -> Mapping[str, Any]:
        return self.manifest.get("counts") or {}

    def source_name(self) -> str:
        source = self.recipe.get("source") or {}
        return str(source.get("name", "unknown")) if isinstance(source, Mapping) else "unknown"

    def generator_name(self) -> str:
        gen = self.recipe.get("generator") or {}
        if isinstance(gen, Mapping) and gen.get("name"):
            return str(gen["name"])
        names = sorted({str(r.get("generator", "")) for r in self.records} - {""})
        return ", ".join(names) or "unknown"


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        for _, obj in iter_objects(path):
            yield obj


def load_run(path: str | Path) -> RunData:
    """Read a run directory; a missing folder or manifest is a :class:`UserError`."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: not a run directory (no such folder)")
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no {MANIFEST}); "
                        f"run a recipe into it first")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise UserError(f"{manifest_path}: unreadable manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise UserError(f"{manifest_path}: expected a JSON object")
    recipe_hash = manifest.get("recipe_hash")
    return RunData(run_dir, manifest, list(_lines(run_dir / RECORDS)),
                   list(_lines(run_dir / REJECTS)),
                   labels=load_labels(run_dir, recipe_hash if isinstance(recipe_hash, str)
                                      else None))


def payload(record: Mapping[str, Any]) -> Mapping[str, Any]:
    data = record.get("data")
    return data if isinstance(data, Mapping) else {}


def _turns(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The turns of a multi-turn chain, or the payload itself."""
    turns = data.get("turns")
    if isinstance(turns, list) and turns and all(isinstance(t, Mapping) for t in turns):
        return turns
    return [data]


def detect_text_field(records: Sequence[Mapping[str, Any]],
                      preferred: str | None = None) -> str | None:
    """The payload key the text metrics read.

    ``preferred`` wins when any record has it; otherwise the first entry of
    :data:`TEXT_FIELDS` that most records carry (turns of chains included).
    """
    counts: dict[str, int] = {}
    for rec in records:
        for part in _turns(payload(rec)):
            for key, value in part.items():
                if isinstance(value, str) or (isinstance(value, list) and value
                                              and all(isinstance(v, str) for v in value)):
                    counts[key] = counts.get(key, 0) + 1
    if preferred:
        return preferred if counts.get(preferred) else None
    present = [f for f in TEXT_FIELDS if counts.get(f)]
    if not present:
        return None
    best = max(counts[f] for f in present)
    # Preference order breaks ties and also beats a field that only a few records carry.
    return next(f for f in present if counts[f] * 2 >= best)


def texts_of(record: Mapping[str, Any], field: str) -> list[str]:
    """The texts of one record under ``field``: one per turn, or each phrase of a list."""
    out: list[str] = []
    for part in _turns(payload(record)):
        value = part.get(field)
        if isinstance(value, str) and value.strip():
            out.append(value)
        elif isinstance(value, list):
            out.extend(v for v in value if isinstance(v, str) and v.strip())
    return out


def objects_of(record: Mapping[str, Any]) -> list[str]:
    """Edited objects named by a record (each turn of a chain)."""
    out = []
    for part in _turns(payload(record)):
        for key in OBJECT_FIELDS:
            value = part.get(key)
            if isinstance(value, str) and value.strip():
                out.append(value)
    return out


def edit_type_of(record: Mapping[str, Any]) -> str | None:
    value = payload(record).get("edit_type")
    return value if isinstance(value, str) and value else None


def source_of(record: Mapping[str, Any], default: str) -> str:
    """The record's source: a ``source`` field in the payload or extras, else the recipe's."""
    for where in (payload(record), record.get("extra") or {}):
        value = where.get("source") if isinstance(where, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return default
