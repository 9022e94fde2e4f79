"""AnyEdit's record contract, per edit type, written once as data.

AnyEdit's image stages read JSON records with keys that contain spaces
(``edited object``, ``new object``, ...) and, per edit type, a few more keys
(``remove_number`` for counting, ``visual_input`` and ``ref_object`` for
visual_reference, ``target object`` and ``direction`` for relation). A missing
key stops those stages with a ``KeyError``.

Each edit type says what AnyEdit reads of it, as :class:`TypeContract` data on the
type itself (``EditType.anyedit``, ``RuleType.anyedit``); the families hand their
types' contracts to this one through ``instructgen_anyedit_contracts``
(:mod:`.gather`), so this family depends on none of them and a plugin's type gets
its own keys, not generic ones. The ``anyedit`` sink writes records from them, a test
reads the sink's output back with a reader written from them, and ``docs/anyedit.md``
renders them (:func:`contract_table`). :data:`ALIASES` maps the names instructgen used
before it adopted AnyEdit's type names; they keep working, with a one-line notice
(:func:`canonical_type`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs
from attrs import field, frozen

from instructgen.errors import PluginError
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


#: The keys most edit types share, as AnyEdit spells them.
EDITED_OBJECT = Key("edited object", "edited_object", meaning="the object the edit acts on")
NEW_OBJECT = Key("new object", "new_object", meaning="what replaces it")
#: The visual condition stage spells it without the "-ed" (its records are copied from
#: the remove/replace stage's output, which writes "edit object").
CONDITION_OBJECT = Key("edit object", "edited_object",
                       meaning="the object the condition marks")
EDITED_FILE = Key("edited_file", "edited_file",
                  meaning="the image AnyEdit's remove/replace stage drew (its output JSON)")


#: AnyEdit's names of the answer fields an LLM-written type may ask for: the keys written
#: for a type that declares none of its own, and for records of a type no loaded family
#: gives a contract for (read back from another tool or an uninstalled plugin).
GENERIC_KEYS: dict[str, str] = {
    "edited_object": "edited object",
    "new_object": "new object",
    "new_background": "new background",
    "new_state": "new state",
}


def optional(key: Key) -> Key:
    """``key``, written only when the record has it."""
    return attrs.evolve(key, required=False)


#: The edit types AnyEdit's stages dispatch on (``tools/tool.py``), by AnyEdit's names.
#: A record of any other type is one no stage reads.
ANYEDIT_TYPES: tuple[str, ...] = (
    "add", "remove", "replace", "color_alter", "appearance_alter", "material_alter",
    "texture_alter", "action_change", "background_change", "tone_transfer",
    "textual_change", "counting", "movement", "resize", "visual_reference",
    "visual_material_transfer", "visual_sketch", "visual_scribble", "visual_segment",
    "visual_depth", "visual_bbox", "material_change", "style_change", "relation",
    "rotation_change", "outpainting", "implicit_change")

#: Types whose records carry an ``edit`` AnyEdit's pre-filters read (implicit records
#: say ``instruction``).
WITH_EDIT: tuple[str, ...] = tuple(n for n in ANYEDIT_TYPES if n != "implicit_change")


def contracts_of(gathered: Iterable[Iterable[TypeContract]]) -> dict[str, TypeContract]:
    """Name -> contract from every ``instructgen_anyedit_contracts`` answer; a name given
    twice is a plugin error naming it (two families would write its records differently)."""
    out: dict[str, TypeContract] = {}
    for answer in gathered:
        for contract in answer or ():
            if contract.name in out:
                raise PluginError(f"AnyEdit contract for edit type {contract.name!r} is given "
                                  "twice; each type has one")
            out[contract.name] = contract
    return out


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


def anyedit_keys(contract: TypeContract | None) -> list[str]:
    """Every key an AnyEdit record of ``contract``'s type must have (required ones only)."""
    extra = [k.anyedit for k in contract.keys if k.required] if contract else []
    return [*COMMON_KEYS, *extra]


def contract_table(contracts: Mapping[str, TypeContract]) -> str:
    """The contracts as a Markdown table (rendered into docs/anyedit.md), in AnyEdit's
    order of types, then any others by name."""
    lines = ["| edit_type | made by | keys AnyEdit reads besides the common ones | note |",
             "|---|---|---|---|"]
    rank = {name: i for i, name in enumerate(ANYEDIT_TYPES)}
    for c in sorted(contracts.values(), key=lambda c: (rank.get(c.name, len(rank)), c.name)):
        keys = ", ".join(
            f"`{k.anyedit}`" + ("" if k.field == k.anyedit.replace(" ", "_") else
                                f" (from `{k.field}`)")
            + (" (int)" if k.kind == "int" else "") + ("" if k.required else " (optional)")
            for k in c.keys) or "-"
        lines.append(f"| `{c.name}` | `{c.made_by}` | {keys} | {c.note or ''} |")
    return "\n".join(lines)
