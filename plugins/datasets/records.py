"""The ``records`` source: this project's own run output, read back as items.

It closes the loop of AnyEdit's composition flow: captions written by
``c2cap``, ``cb2cap`` or ``cc2cap`` feed the edit generator, and edit records
(``remove``, ``replace``) feed the rule-derived types. Each line of
``records.jsonl`` is one :class:`~instructgen.records.OutputRecord`; the file
is streamed.
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
from instructgen.rundir import RECORDS

from .shape import DatasetError, kind_of, require_file


@attrs.frozen
class RecordsOptions:
    """Options of the ``records`` source."""

    #: A run directory, or a ``records.jsonl`` file inside one.
    path: Path
    #: Keep only records written by these generators (e.g. ``["c2cap", "cc2cap"]``); empty: all.
    generators: list[str] = attrs.field(factory=list)
    #: Keep only records whose ``edit_type`` is one of these; empty: all.
    edit_types: list[str] = attrs.field(factory=list)
    #: The ``data`` key copied to the item's ``caption`` when the record has no ``caption``.
    caption_field: str = "caption"


class RecordsSource(Source):
    """Yields each record's ``data`` (plus ``record_id``/``record_generator``) as an item."""

    def __init__(self, options: RecordsOptions) -> None:
        self.options = options
        path = options.path / RECORDS if options.path.is_dir() else options.path
        self.path = require_file(path)
        self._skipped: dict[str, int] = {}

    def stats(self) -> Mapping[str, int]:
        return {f"skipped_{k}": v for k, v in sorted(self._skipped.items())}

    def __iter__(self) -> Iterator[SourceItem]:
        opts = self.options
        # Old runs may carry the pre-AnyEdit names ("textual"); compare AnyEdit's names.
        wanted_types = {ALIASES.get(t, t) for t in opts.edit_types}
        with self.path.open("rb") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                record = self._parse(line, lineno)
                data = record["data"]
                if opts.generators and record["generator"] not in opts.generators:
                    self._skip("other_generator")
                    continue
                etype = data.get("edit_type")
                if wanted_types and (not isinstance(etype, str)
                                     or ALIASES.get(etype, etype) not in wanted_types):
                    self._skip("other_edit_type")
                    continue
                item = dict(data)
                if "caption" not in item and opts.caption_field in item:
                    item["caption"] = item[opts.caption_field]
                item["record_id"] = record["id"]
                item["record_generator"] = record["generator"]
                extra = record.get("extra") or {}
                yield SourceItem(id=str(record["id"]), data=item, source=str(self.path),
                                 extra=dict(extra) if isinstance(extra, Mapping) else {})

    def _skip(self, reason: str) -> None:
        self._skipped[reason] = self._skipped.get(reason, 0) + 1

    def _parse(self, line: bytes, lineno: int) -> Mapping[str, Any]:
        where = f"{self.path}: line {lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, Mapping):
            raise DatasetError(f"{where}: expected a record object, got {kind_of(record)}")
        for key, kind in (("id", str), ("generator", str), ("data", Mapping)):
            if key not in record:
                raise DatasetError(f"{where}: {key}: missing (is this an instructgen "
                                   f"records.jsonl?)")
            if not isinstance(record[key], kind):
                raise DatasetError(f"{where}: {key}: expected "
                                   f"{'an object' if kind is Mapping else 'a string'}, got "
                                   f"{kind_of(record[key])}")
        return record
