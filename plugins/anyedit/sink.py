"""The ``anyedit`` sink: records that AnyEdit's image stages read unchanged.

AnyEdit's stages read JSON records with ``edit``, ``input``, ``output``,
``edit_type``, ``image_file`` and, per edit type, keys with spaces
(``edited object``, ``new object``, ...) or extra keys (``remove_number``,
``visual_input``, ``ref_object``, ``target object``, ``direction``). Which
keys each type needs is its :class:`~.contract.TypeContract`, which the type
declares and the sink gathers at plan time; this sink writes exactly that,
from instructgen's snake_case records, so the file plugs straight in. The native
``records.jsonl`` keeps the clean names.

* ``image_file`` is always written; when a record has no image (captions made
  by the concept generators, implicit quadruples) it is null and
  ``edited_file`` names the file the image stage should draw, since AnyEdit
  reads that key instead.
* Old type names (``textual``, ...) are written as AnyEdit's
  (:data:`~.contract.ALIASES`).
* A chain is one line: by default an object with its turns under ``turns``;
  with ``multi_turn = "array"`` the reference's JSON array
  ``[{"input": caption}, turn1, turn2, ...]``.
* A record that lacks a key its type needs stops the run with a one-line
  error naming the record, the type and the key, instead of a file that
  AnyEdit's stage would stop on later.
* With ``stage_rules = "check"`` (the default) every record is checked again, as
  written, against AnyEdit's downstream rules (:mod:`.stage_rules`); one that a
  filter or stage would skip or rewrite wrongly is left out of the file and
  counted by rule in ``anyedit_stage_rules.json`` (one stderr line when any is
  dropped). ``records.jsonl`` keeps every accepted record either way.
* textual_change records get ``image_file`` and ``edited_file`` as the textual
  stage joins them under its root: ``input_img/<name>`` and ``edited_img/<name>``.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from instructgen.errors import UserError
from instructgen.plugin import Sink
from instructgen.records import OutputRecord

from .contract import ALIASES, GENERIC_KEYS, TypeContract
from .gather import gather_contracts
from .stage_rules import first_failure

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext

#: The file the sink writes its stage-rule counts to, beside its line file.
STAGE_REPORT = "anyedit_stage_rules.json"

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` ("fire hydrant" → "fire_hydrant")."""
    return _SLUG.sub("_", text.strip()).strip("_") or "x"


@attrs.frozen
class AnyEditOptions:
    """Options of the ``anyedit`` sink."""

    #: File name inside the run directory.
    filename: str = "anyedit.jsonl"
    #: Also write fields AnyEdit does not read (``derived_from``, ``judge``, ...).
    keep_other_fields: bool = False
    #: Rename edit types on the way out, after old names became AnyEdit's.
    edit_type_names: dict[str, str] = attrs.field(factory=dict)
    #: Folder the ``visual_input`` paths of visual_reference and
    #: visual_material_transfer records are under; empty: the paths as recorded.
    visual_input_root: str = "visual_input"
    #: A chain as ``object`` (one line with ``turns``) or ``array`` (the reference's
    #: ``[{"input": caption}, turn1, turn2, ...]``, one array a line).
    multi_turn: Literal["object", "array"] = "object"
    #: Extension of the ``edited_file`` name written for records without an image.
    edited_file_ext: str = ".jpg"
    #: ``check``: leave out (and count) records AnyEdit's filters or stages would skip
    #: or rewrite wrongly (:mod:`~.stage_rules`); ``off``: write every record.
    stage_rules: Literal["check", "off"] = "check"


@attrs.frozen
class PreparedAnyEdit:
    """The sink's options and, from plan time, the contract of every type it may meet."""

    options: AnyEditOptions
    contracts: Mapping[str, TypeContract]


def prepare_anyedit(options: AnyEditOptions, ctx: BuildContext) -> PreparedAnyEdit:
    """Plan time: gather the contracts of every edit type the loaded families write."""
    return PreparedAnyEdit(options, gather_contracts(ctx))


class AnyEditSink(Sink):
    """Encodes each record with the keys AnyEdit reads for its edit type."""

    def __init__(self, prepared: PreparedAnyEdit) -> None:
        self.options = prepared.options
        self.contracts = prepared.contracts
        self.filename = self.options.filename

    def encode(self, record: OutputRecord) -> str | None:
        obj = self.anyedit_record(record)
        if self.options.stage_rules == "check" and self.failure(obj) is not None:
            return None  # counted in finalize, over the whole run (resumes included)
        return _dumps(obj)

    def failure(self, obj: Mapping[str, Any]) -> tuple[str, str] | None:
        """(rule name, why) of the first stage rule a written record (or a turn) fails."""
        if isinstance(obj, list):  # the reference's array form: the caption, then turns
            parts = obj[1:]
        else:
            parts = obj["turns"] if isinstance(obj.get("turns"), list) else [obj]
        for part in parts:
            failed = first_failure(part)
            if failed is not None:
                return failed[0].name, failed[1]
        return None

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:
        """Count, by rule, the records the stage rules left out, over the whole run."""
        if self.options.stage_rules != "check":
            return
        from instructgen.rundir import write_json_atomic

        checked, dropped = 0, Counter[str]()
        for record in records():
            checked += 1
            failed = self.failure(self.anyedit_record(record))
            if failed is not None:
                dropped[failed[0]] += 1
        total = sum(dropped.values())
        write_json_atomic(run_dir / STAGE_REPORT, {
            "file": self.filename, "checked": checked, "written": checked - total,
            "dropped": total, "dropped_by_rule": dict(sorted(dropped.items()))})
        if total:
            rules = ", ".join(f"{name} {n}" for name, n in dropped.most_common())
            sys.stderr.write(f"sink anyedit: {total} of {checked} records left out of "
                             f"{self.filename} by AnyEdit's stage rules ({rules}); "
                             f"see {STAGE_REPORT}\n")

    def anyedit_record(self, record: OutputRecord) -> Any:
        """The record as AnyEdit reads it: an object, or the reference's array for a chain."""
        data = record.data
        turns = data.get("turns")
        if isinstance(turns, list):
            array = self.options.multi_turn == "array"
            # In the array form every turn is read on its own, so each names the image.
            image = self._image(data, record) if array else {}
            converted = [self.convert(t, record, f"turns[{i}]", image=image)
                         for i, t in enumerate(turns) if isinstance(t, Mapping)]
            if array:
                return [{"input": data.get("input"), **image}, *converted]
            obj = {"id": record.id, **self.convert(data, record, "", image=None),
                   "turns": converted}
        else:
            obj = {"id": record.id, **self.convert(data, record, "", image=None)}
        if data.get("url") is not None:
            obj["url"] = data["url"]
        return obj

    def _image(self, data: Mapping[str, Any], record: OutputRecord) -> dict[str, Any]:
        image = data.get("image_file") or data.get("url")
        if image is not None:
            return {"image_file": image}
        edited = data.get("edited_file") or f"{slug(record.id)}{self.options.edited_file_ext}"
        return {"image_file": None, "edited_file": edited}

    def convert(self, data: Mapping[str, Any], record: OutputRecord, where: str = "",
                image: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One edit (or turn) with AnyEdit's keys for its type."""
        etype = str(data.get("edit_type", ""))
        etype = ALIASES.get(etype, etype)
        contract = self.contracts.get(etype)
        common = contract.common_from if contract else {}
        out: dict[str, Any] = {}
        for key in ("edit", "input", "output"):
            value = data.get(common.get(key, key))
            if value is not None:
                out[key] = value
        if etype == "multi_turn":
            out.update({k: data[k] for k in ("num_turns",) if k in data})
        elif contract is not None:
            self._typed(out, data, contract, record, where)
        else:
            out.update({theirs: data[ours] for ours, theirs in GENERIC_KEYS.items()
                        if data.get(ours) is not None})
        out["edit_type"] = self.options.edit_type_names.get(etype, etype)
        out.update(image if image is not None else self._image(data, record))
        if etype == "textual_change":
            out.update(_textual_files(out, data, record))
        if self.options.keep_other_fields:
            used = {*common.values(), "edit", "input", "output", "edit_type", "turns",
                    "image_file", "url", "edited_file"}
            if contract is not None:
                used |= {k.field for k in contract.keys}
            out.update({k: v for k, v in data.items() if k not in used and k not in out})
        return out

    def _typed(self, out: dict[str, Any], data: Mapping[str, Any], contract: TypeContract,
               record: OutputRecord, where: str) -> None:
        for key in contract.keys:
            value = data.get(key.field)
            if value is None:
                value = self._derive(key.field, data, record)
            if value is None:
                if not key.required:
                    continue
                at = f" {where}" if where else ""
                raise UserError(f"sink anyedit: record {record.id!r}{at} ({contract.name}) has "
                                f"no {key.field!r}, which AnyEdit reads as {key.anyedit!r}")
            if key.kind == "int":
                value = int(value)
            if key.field == "visual_input" and self.options.visual_input_root:
                value = f"{self.options.visual_input_root.rstrip('/')}/{value}"
            out[key.anyedit] = value

    def _derive(self, field: str, data: Mapping[str, Any], record: OutputRecord) -> Any:
        """Keys older records lack but carry the facts for."""
        if field == "remove_number":
            before, after = data.get("count_before"), data.get("count_after")
            if isinstance(before, int) and isinstance(after, int) and before > after:
                return before - after
        if field == "ref_object" and isinstance(data.get("new_object"), str):
            return data["new_object"]
        if field == "visual_input":
            what = data.get("ref_object") or data.get("new_object") or data.get("material")
            if isinstance(what, str) and what.strip():
                return f"{slug(what)}/{slug(record.item_id)}.jpg"
        return None


def _textual_files(out: Mapping[str, Any], data: Mapping[str, Any],
                   record: OutputRecord) -> dict[str, str]:
    """``image_file`` and ``edited_file`` as AnyEdit's textual stage joins them under its
    root: ``input_img/<name>`` and ``edited_img/<name>``. The stage draws both images from
    the captions, so the name is all it needs of the source image."""
    given = data.get("edited_file") if isinstance(data.get("edited_file"), str) else None
    image = out.get("image_file") or out.get("edited_file") or f"{slug(record.id)}.jpg"
    name = str(image).rsplit("/", 1)[-1]
    return {"image_file": f"input_img/{name}",
            "edited_file": given or f"edited_img/{name}"}


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
