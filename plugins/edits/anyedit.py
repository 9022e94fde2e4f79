"""The ``anyedit`` sink: records with the key names AnyEdit's editing pipelines read.

AnyEdit's scripts read JSON lines with ``edit``, ``edited object``, ``new
object``, ``new background``, ``new state``, ``input``, ``output``,
``edit_type`` and ``image_file`` (keys with spaces). This sink writes those
from instructgen's snake_case records, so its file plugs straight in; the
native ``records.jsonl`` keeps the clean names.

Textual edits put ``text_before``/``text_after`` under ``edited object`` /
``new object``. A chain is written as one line with ``edit_type`` set to
``multi_turn`` and its turns under ``turns``, each with the same keys. A
record with only a URL gets it under ``image_file`` too, since that is the
one image key the pipelines read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from instructgen.plugin import Sink
from instructgen.records import OutputRecord

#: instructgen field → AnyEdit key, in the order they are written.
ANYEDIT_KEYS: dict[str, str] = {
    "edit": "edit",
    "edited_object": "edited object",
    "new_object": "new object",
    "new_background": "new background",
    "new_state": "new state",
    "input": "input",
    "output": "output",
    "edit_type": "edit_type",
}
_TEXT_KEYS = {"text_before": "edited object", "text_after": "new object"}


@attrs.frozen
class AnyEditOptions:
    """Options of the ``anyedit`` sink."""

    #: File name inside the run directory.
    filename: str = "anyedit.jsonl"
    #: Also write fields AnyEdit does not read (``derived_from``, ``judge``, ...).
    keep_other_fields: bool = False
    #: Rename edit types on the way out, e.g. ``{textual = "textual_change"}``.
    edit_type_names: dict[str, str] = attrs.field(factory=dict)


class AnyEditSink(Sink):
    """Encodes each record with AnyEdit's key names."""

    def __init__(self, options: AnyEditOptions) -> None:
        self.options = options
        self.filename = options.filename

    def encode(self, record: OutputRecord) -> str:
        data = record.data
        obj: dict[str, Any] = {"id": record.id, **self.convert(data)}
        if "turns" in data and isinstance(data["turns"], list):
            obj["turns"] = [self.convert(t) for t in data["turns"] if isinstance(t, Mapping)]
        image = data.get("image_file") or data.get("url")
        if image is not None:
            obj["image_file"] = image
        if data.get("url") is not None:
            obj["url"] = data["url"]
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    def convert(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """One edit (or turn) with AnyEdit's keys; absent fields stay absent."""
        out: dict[str, Any] = {}
        for ours, theirs in ANYEDIT_KEYS.items():
            if data.get(ours) is not None:
                out[theirs] = data[ours]
        for ours, theirs in _TEXT_KEYS.items():
            if data.get(ours) is not None:
                out[theirs] = data[ours]
        if "edit_type" in out:
            out["edit_type"] = self.options.edit_type_names.get(out["edit_type"],
                                                                out["edit_type"])
        if self.options.keep_other_fields:
            skip = {*ANYEDIT_KEYS, *_TEXT_KEYS, "turns", "image_file", "url"}
            out.update({k: v for k, v in data.items() if k not in skip})
        return out
