"""Human good/bad labels of a run's records, kept in the run directory as ``labels.jsonl``.

A label names what it is about by record id and recipe hash: the same id in a
run of another recipe is another text, so such labels are refused on import.
Accepted records are named by their ``id``; a rejection line (which has no id)
by :func:`rejection_id`, so the judge's "no" answers can be labelled too.

The review page (:mod:`.review_page`) exports this format and
``instructgen review --import`` stores it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import UserError
from instructgen.jsonl import iter_objects

LABELS_FILE = "labels.jsonl"
#: Why a record is bad, in the labelling guide's order (docs/labelling.md).
REASONS: tuple[str, ...] = (
    "wrong_type",
    "object_not_in_image",
    "not_one_change",
    "output_not_input_with_change",
    "not_fluent",
    "rambling",
    "repeated",
    "stage_incompatible",
)
VERDICTS: tuple[str, ...] = ("good", "bad")
Verdict = Literal["good", "bad"]


@attrs.frozen
class Label:
    """One person's verdict on one record (or rejection line) of one recipe."""

    record_id: str
    recipe_hash: str
    label: Verdict
    reason: str | None = None

    def to_json(self) -> str:
        return json.dumps(attrs.asdict(self), ensure_ascii=False, separators=(",", ":"))


def rejection_id(item_id: Any, index: int) -> str:
    """The id of an item's ``index``-th rejection line (0-based, in file order)."""
    return f"{item_id}/rejected/{index}"


def rejection_ids(rejections: Iterable[Mapping[str, Any]]) -> list[str]:
    """:func:`rejection_id` of every rejection line, in file order."""
    seen: dict[str, int] = {}
    out = []
    for rej in rejections:
        item = str(rej.get("item_id"))
        out.append(rejection_id(item, seen.get(item, 0)))
        seen[item] = seen.get(item, 0) + 1
    return out


def parse_label(obj: Mapping[str, Any], where: str) -> Label:
    """A label from one JSON object; a bad key is a :class:`UserError` naming ``where``."""
    for key in ("record_id", "recipe_hash"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise UserError(f"{where}: {key} must be a non-empty string")
    verdict = obj.get("label")
    if verdict not in VERDICTS:
        raise UserError(f"{where}: label must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    reason = obj.get("reason")
    if reason is not None and reason not in REASONS:
        raise UserError(f"{where}: reason must be null or one of {', '.join(REASONS)}, "
                        f"got {reason!r}")
    if reason is not None and verdict == "good":
        raise UserError(f"{where}: a good label has no reason (got {reason!r})")
    unknown = sorted(set(obj) - {"record_id", "recipe_hash", "label", "reason"})
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}")
    return Label(obj["record_id"], obj["recipe_hash"], verdict, reason)


def read_labels(path: Path) -> list[Label]:
    """Every label of a ``labels.jsonl`` file, validated line by line."""
    if not path.is_file():
        raise UserError(f"{path}: no such labels file")
    return [parse_label(obj, f"{path}:{lineno}") for lineno, obj in iter_objects(path)]


def load_labels(run_dir: Path, recipe_hash: str | None) -> dict[str, Label]:
    """The run's stored labels by record id (empty when it has none).

    Labels of another recipe hash are left out: they outlive a fresh run of a
    changed recipe in the same folder, but describe texts that are gone.
    """
    path = run_dir / LABELS_FILE
    if not path.is_file():
        return {}
    return {lab.record_id: lab for lab in read_labels(path)
            if recipe_hash is None or lab.recipe_hash == recipe_hash}


@attrs.frozen
class ImportResult:
    """What ``instructgen review --import`` did."""

    path: Path
    stored: int
    new: int
    changed: int
    unknown_ids: int


def import_labels(run_dir: Path, recipe_hash: str, labels: Sequence[Label],
                  known_ids: Iterable[str]) -> ImportResult:
    """Merge ``labels`` into the run's ``labels.jsonl``; a later label of a record wins.

    Labels of another recipe are refused before anything is written; ids the
    run does not have are kept (and counted), since a label is cheap and
    losing one is not.
    """
    foreign = next((lab for lab in labels if lab.recipe_hash != recipe_hash), None)
    if foreign is not None:
        raise UserError(f"label of {foreign.record_id!r} is for recipe hash "
                        f"{foreign.recipe_hash[:12]}, but {run_dir} has {recipe_hash[:12]}: "
                        f"labels belong to the run they were made on")
    current = load_labels(run_dir, recipe_hash)
    new = sum(lab.record_id not in current for lab in labels)
    changed = sum(lab.record_id in current and current[lab.record_id] != lab for lab in labels)
    merged = dict(current)
    for lab in labels:
        merged[lab.record_id] = lab
    path = run_dir / LABELS_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(lab.to_json() + "\n" for lab in merged.values()), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
    known = set(known_ids)
    return ImportResult(path, len(merged), new, changed,
                        sum(rid not in known for rid in merged))


__all__ = [
    "LABELS_FILE",
    "REASONS",
    "VERDICTS",
    "ImportResult",
    "Label",
    "import_labels",
    "load_labels",
    "parse_label",
    "read_labels",
    "rejection_id",
    "rejection_ids",
]
