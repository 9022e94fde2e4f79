"""The ``anyedit_records`` source: AnyEdit's own instruction files, read back as items.

A user of the reference scripts already has files in AnyEdit's form: the
instruction files (``mscoco_remove_-100.jsonl``, one record a line, keys with
spaces), the JSON lists its image stages write (``final_edit_results_*.json``,
where the remove/replace stage adds ``edited_file`` and spells the object
``edit object``), and multi-turn files whose entries are arrays
``[{"input": caption}, turn1, turn2, ...]``. This source reads all of them, so
they feed the ``edit_rules`` types (movement, resize, visual_reference, and the
visual conditions, which need the remove/replace stage's ``edited_file``) and
the ``edit`` generator.

Each record becomes one item whose ``data`` has our snake_case fields
(``edited_object``, ``new_object``, ...), AnyEdit's type name, and ``caption``
(the record's ``input``); keys this source does not know are kept as they are.
A multi-turn entry gives one item per turn, its ``turn`` and ``chain`` noted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from instructgen.plugin import Source
from instructgen.plugins.anyedit.contract import ALIASES
from instructgen.records import SourceItem

from .shape import DatasetError, kind_of, load_json, require_file

#: AnyEdit's keys with spaces (and the visual stages' "edit object") -> our fields.
SPACED_KEYS: dict[str, str] = {
    "edited object": "edited_object", "edit object": "edited_object",
    "new object": "new_object", "new background": "new_background", "new state": "new_state",
    "target object": "target_object",
}


@attrs.frozen
class AnyEditRecordsOptions:
    """Options of the ``anyedit_records`` source."""

    #: An AnyEdit file: JSON lines (objects, or multi-turn arrays) or one JSON list.
    path: Path
    #: Keep only records whose ``edit_type`` is one of these (old names too); empty: all.
    edit_types: list[str] = attrs.field(factory=list)


class AnyEditRecordsSource(Source):
    """Yields each AnyEdit record (each turn of a multi-turn entry) as an item."""

    def __init__(self, options: AnyEditRecordsOptions) -> None:
        self.options = options
        self.path = require_file(options.path)
        self._skipped: dict[str, int] = {}

    def stats(self) -> Mapping[str, int]:
        return {f"skipped_{k}": v for k, v in sorted(self._skipped.items())}

    def __iter__(self) -> Iterator[SourceItem]:
        wanted = {ALIASES.get(t, t) for t in self.options.edit_types}
        for where, n, entry in self._entries():
            turns = entry if isinstance(entry, list) else [entry]
            chain = isinstance(entry, list)
            for k, turn in enumerate(turns):
                at = f"{where}[{k}]" if chain else where
                if not isinstance(turn, Mapping):
                    raise DatasetError(f"{self.path}: {at}: expected a record object, got "
                                       f"{kind_of(turn)}")
                if chain and k == 0 and "edit" not in turn:
                    continue  # the array's head: the caption the turns start from
                data = self._data(turn, at)
                if wanted and data["edit_type"] not in wanted:
                    self._skipped["other_edit_type"] = self._skipped.get("other_edit_type", 0) + 1
                    continue
                if chain:
                    data.update(chain=n, turn=k)
                yield SourceItem(id=f"{n}.{k}" if chain else str(n), data=data,
                                 source=str(self.path))

    def _entries(self) -> Iterator[tuple[str, int, Any]]:
        """(where, index, entry) for a whole-file JSON list, or for each line of JSON lines."""
        whole = self._whole_file_list()
        if whole is not None:
            if whole and isinstance(whole[0], Mapping) and "edit_type" not in whole[0]:
                whole = [whole]  # one multi-turn array: the caption, then its turns
            for i, entry in enumerate(whole):
                yield f"[{i}]", i, entry
            return
        with self.path.open("rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{self.path}: line {lineno}: not valid JSON "
                                       f"({exc.msg})") from None
                yield f"line {lineno}", lineno, entry

    def _whole_file_list(self) -> list[Any] | None:
        """The file as one JSON list (the stages' output); ``None`` for JSON lines."""
        with self.path.open("rb") as f:
            if not f.read(4096).lstrip().startswith(b"["):
                return None
        try:
            data = load_json(self.path)
        except DatasetError:
            return None  # lines of arrays: read line by line
        return data if isinstance(data, list) else None

    def _data(self, turn: Mapping[str, Any], at: str) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in turn.items():
            data[SPACED_KEYS.get(key, key)] = value
        etype = data.get("edit_type")
        if not isinstance(etype, str) or not etype:
            raise DatasetError(f"{self.path}: {at}: edit_type: missing (is this an AnyEdit "
                               "instruction file?)")
        data["edit_type"] = ALIASES.get(etype, etype)
        if isinstance(data.get("input"), str) and "caption" not in data:
            data["caption"] = data["input"]
        return data
