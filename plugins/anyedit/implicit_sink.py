"""The ``anyedit_implicit`` sink: the keys AnyEdit's implicit stage reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import UserError
from instructgen.plugin import Sink
from instructgen.records import OutputRecord

#: The keys of the AnyEdit format, spelled correctly, mapped from our record keys.
ANYEDIT_KEYS: dict[str, str] = {
    "original_caption": "original_caption",
    "instruction": "instruction",
    "target_caption": "target_caption",
    "keywords": "key_words",
}


@attrs.frozen
class AnyEditImplicitOptions:
    """Options of the ``anyedit_implicit`` sink."""

    #: JSONL file inside the run directory, one sample a line.
    filename: str = "implicit_anyedit.jsonl"
    #: Also write the whole run as one ``{"sample1": {...}}`` JSON file; empty: don't.
    samples_file: str = "implicit_samples.json"
    #: ``string``: "egg, floor", as the hand-written file has it; ``list``: ["egg", "floor"].
    key_words: Literal["string", "list"] = "string"


class AnyEditImplicitSink(Sink):
    """Writes ``original_caption``, ``instruction``, ``target_caption``, ``key_words``."""

    def __init__(self, options: AnyEditImplicitOptions) -> None:
        self.options = options
        self.filename = options.filename

    def sample(self, record: OutputRecord) -> dict[str, Any]:
        """The four AnyEdit keys of one record."""
        out: dict[str, Any] = {}
        for ours, theirs in ANYEDIT_KEYS.items():
            if ours not in record.data:
                raise UserError(f"sink anyedit_implicit: record {record.id!r} has no {ours!r}; "
                                "this sink writes records of the implicit generator")
            out[theirs] = record.data[ours]
        if self.options.key_words == "string":
            kw = out["key_words"]
            out["key_words"] = ", ".join(kw) if isinstance(kw, list) else str(kw)
        return out

    def encode(self, record: OutputRecord) -> str:
        return json.dumps({"id": record.id, **self.sample(record)}, ensure_ascii=False,
                          separators=(",", ":"))

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        if not self.options.samples_file:
            return
        from instructgen.rundir import write_json_atomic

        samples = {f"sample{i}": self.sample(r) for i, r in enumerate(records(), 1)}
        write_json_atomic(run_dir / self.options.samples_file, samples)
