"""AnyEdit's record contract, per edit type, written once as data.

AnyEdit's image stages read JSON records with keys that contain spaces
(``edited object``, ``new object``, ...) and, per edit type, a few more keys
(``remove_number`` for counting, ``visual_input`` and ``ref_object`` for
visual_reference, ``target object`` and ``direction`` for relation). A missing
key stops those stages with a ``KeyError``.

:data:`CONTRACTS` is the single statement of that contract: the ``anyedit``
sink writes records from it, a test reads the sink's output back with a
reader written from it, and ``docs/anyedit.md`` renders it
(:func:`contract_table`). :data:`ALIASES` maps the names instructgen used
before it adopted AnyEdit's type names; they keep working, with a one-line
notice (:func:`canonical_type`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, Literal

from attrs import field, frozen

from instructgen.records import as_tuple

#: Keys every AnyEdit record has. ``image_file`` may be null; then ``edited_file``
#: (a file name with an extension) is read instead, so the sink writes both.
COMMON_KEYS: tuple[str, ...] = ("edit", "input", "output", "edit_type", "image_file")

#: Names instructgen used before adopting AnyEdit's, mapped to AnyEdit's.
ALIASES: dict[str, str] = {
    "textual": "textual_change",
    "visual_segmentation": "visual_segment",
    "material_transfer": "visual_material_transfer",
    "outpaint": "outpainting",
}

#: Directions AnyEdit's relation stage understands.
RELATION_DIRECTIONS: tuple[str, ...] = ("swap", "left", "right", "down", "upper")


@frozen
class Key:
    """One key AnyEdit reads beyond the common ones, and where our record keeps it."""

    #: The key as AnyEdit spells it (spaces included).
    anyedit: str
    #: The snake_case field of instructgen's record that fills it.
    field: str
    #: ``str`` or ``int`` (``remove_number`` is a count).
    kind: Literal["str", "int"] = "str"
    #: A required key is always written; an optional one only when the record has it
    #: (a plain relation move has no ``target object``).
    required: bool = True
    #: What the key holds, one line for the reference page.
    meaning: str = ""


@frozen
class TypeContract:
    """What AnyEdit reads for one edit type, and which instructgen plugin makes it."""

    name: str
    keys: tuple[Key, ...] = field(converter=as_tuple)
    #: ``edit`` (LLM), ``edit_rules`` (rules, no LLM) or ``implicit``.
    made_by: Literal["edit", "edit_rules", "implicit"]
    #: Our record's fields that fill the common keys when they are not named alike
    #: (implicit records say ``instruction``, ``original_caption``, ``target_caption``).
    common_from: Mapping[str, str] = field(factory=dict)
    note: str = ""


def _obj(required: bool = True) -> Key:
    return Key("edited object", "edited_object", required=required,
               meaning="the object the edit acts on")


def _new(required: bool = True) -> Key:
    return Key("new object", "new_object", required=required, meaning="what replaces it")


def _t(name: str, made_by: Any, *keys: Key, note: str = "", **common: str) -> TypeContract:
    return TypeContract(name=name, keys=keys, made_by=made_by, common_from=common, note=note)


def _cond_obj() -> Key:
    # The visual condition stage spells it without the "-ed" (its records are copied
    # from the remove/replace stage's output, which writes "edit object").
    return Key("edit object", "edited_object", meaning="the object the condition marks")


def _edited_file() -> Key:
    return Key("edited_file", "edited_file",
               meaning="the image AnyEdit's remove/replace stage drew (its output JSON)")


_AFTER_STAGE = ("comes after AnyEdit's remove/replace image stage: made from that stage's "
                "output JSON (source `anyedit_records`)")
_LLM = "edit"
_RULES = "edit_rules"

#: Every edit type instructgen writes, with the keys AnyEdit reads for it.
CONTRACTS: dict[str, TypeContract] = {c.name: c for c in (
    _t("add", _LLM, _obj()),
    _t("remove", _LLM, _obj()),
    _t("replace", _LLM, _obj(), _new()),
    _t("color_alter", _LLM, _obj(), note="the colour is read after \"to \" in the edit"),
    _t("appearance_alter", _LLM, _obj()),
    _t("material_alter", _LLM, _obj()),
    _t("texture_alter", _LLM, _obj()),
    _t("action_change", _LLM, _obj(), note="the action is read after \"to \" in the edit"),
    _t("background_change", _LLM,
       Key("new background", "new_background", meaning="the new setting (kept, not read)")),
    _t("tone_transfer", _LLM,
       Key("new state", "new_state", meaning="time, weather, season or era (kept, not read)")),
    _t("textual_change", _LLM,
       Key("edited object", "text_before", meaning="the text before the edit"),
       Key("new object", "text_after", meaning="the text after, same word count")),
    _t("counting", _RULES, _obj(),
       Key("remove_number", "remove_number", kind="int",
           meaning="how many instances to remove")),
    _t("movement", _RULES, _obj()),
    _t("resize", _RULES, _obj()),
    _t("visual_reference", _RULES, _obj(),
       Key("visual_input", "visual_input", meaning="path of the reference image"),
       Key("ref_object", "ref_object", meaning="category of the reference object"),
       note="the edit names the reference [V*]; new object is not written"),
    _t("visual_material_transfer", _RULES, _obj(),
       Key("visual_input", "visual_input", meaning="path of the material exemplar image"),
       Key("material", "material", required=False, meaning="the exemplar's material")),
    *(_t(name, _RULES, _cond_obj(), _edited_file(), _new(required=False), note=_AFTER_STAGE)
      for name in ("visual_sketch", "visual_scribble", "visual_segment", "visual_depth",
                   "visual_bbox")),
    _t("material_change", _RULES, _obj(),
       Key("material", "material", required=False, meaning="the material category")),
    _t("style_change", _RULES),
    _t("relation", _RULES, _obj(),
       Key("target object", "target_object", required=False,
           meaning="the reference object (absent for a plain move)"),
       Key("direction", "direction", meaning="swap, left, right, down or upper")),
    _t("rotation_change", _RULES, _obj(),
       Key("direction", "direction", required=False,
           meaning="clockwise or counterclockwise"),
       note="the edit says clockwise or counterclockwise"),
    _t("outpainting", _RULES,
       Key("direction", "direction", required=False, meaning="where the canvas grows")),
    _t("implicit_change", "implicit", note="image_file is null: the image is drawn first",
       edit="instruction", input="original_caption", output="target_caption"),
)}

_noticed: set[str] = set()


def canonical_type(name: str, where: str = "") -> str:
    """AnyEdit's name for ``name``; an old alias prints a one-line notice (once per alias)."""
    new = ALIASES.get(name)
    if new is None:
        return name
    if name not in _noticed:
        _noticed.add(name)
        at = f"{where}: " if where else ""
        sys.stderr.write(f"notice: {at}edit type {name!r} is now {new!r} (AnyEdit's name); "
                         f"the old name still works\n")
    return new


def anyedit_keys(etype: str) -> list[str]:
    """Every key an AnyEdit record of ``etype`` must have (required ones only)."""
    contract = CONTRACTS.get(ALIASES.get(etype, etype))
    extra = [k.anyedit for k in contract.keys if k.required] if contract else []
    return [*COMMON_KEYS, *extra]


def contract_table() -> str:
    """The contract as a Markdown table (rendered into docs/anyedit.md)."""
    lines = ["| edit_type | made by | keys AnyEdit reads besides the common ones | note |",
             "|---|---|---|---|"]
    for c in CONTRACTS.values():
        keys = ", ".join(
            f"`{k.anyedit}`" + ("" if k.field == k.anyedit.replace(" ", "_") else
                                f" (from `{k.field}`)")
            + (" (int)" if k.kind == "int" else "") + ("" if k.required else " (optional)")
            for k in c.keys) or "-"
        lines.append(f"| `{c.name}` | `{c.made_by}` | {keys} | {c.note or ''} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m instructgen.plugins.anyedit.contract > table.md
    print(contract_table())
