"""Edit instructions from captions: the AnyEdit edit types, chains, rules and output.

* :class:`EditType` records, registered through the ``instructgen_edit_types``
  hook, which this family declares (``hookspecs.py``, added through
  ``instructgen_addhooks``); the eleven builtin types are registered here like
  any third-party one.
* The ``edit`` generator (single edits and multi-turn chains) and the
  ``edit_rules`` generator (rule-derived types, no LLM).

What AnyEdit reads of these records (its keys, type names, sinks) is the
``anyedit`` family's (:mod:`instructgen.plugins.anyedit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pluggy

from instructgen.manager import hookimpl
from instructgen.plugin import GeneratorPlugin, PayloadKeys
from instructgen.plugins.anyedit.contract import ALIASES

from . import hookspecs
from .attributes import ATTRIBUTE_TYPES
from .generator import EditGenerator, EditOptions
from .objects import OBJECT_TYPES
from .rules import RULES, RulesGenerator, RulesOptions
from .rules_records import CONDITIONS
from .scenes import SCENE_TYPES
from .types import EDIT_TYPES, Check, EditExample, EditType, get_edit_types, select_edit_types

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext

#: The eleven builtin edit types, in AnyEdit's order.
BUILTIN_EDIT_TYPES: tuple[EditType, ...] = OBJECT_TYPES + ATTRIBUTE_TYPES + SCENE_TYPES


@hookimpl
def instructgen_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def instructgen_edit_types() -> Iterator[EditType]:
    yield from BUILTIN_EDIT_TYPES


def check_edit_types(options: EditOptions, ctx: BuildContext) -> EditOptions:
    """Plan time: every name in ``generator.types`` is a registered edit type."""
    select_edit_types(ctx.catalog(EDIT_TYPES), options.types, ctx.key("types"))
    return options


#: Keys of one edit (``EditGenerator._turn`` and its retry loop), besides the type's fields.
EDIT_KEYS = ("edit_type", "edit", "input", "output", "judge", "few_shot", "attempts")
#: Keys of a chain (``turns`` > 1); its edits are under ``turns``.
CHAIN_KEYS = ("edit_type", "num_turns", "input", "output", "turns", "chain")
#: From the item, when it has them: its image, and the earlier record it was read from.
ITEM_KEYS = ("image_file", "url", "derived_from")


def edit_keys(options: EditOptions, ctx: BuildContext) -> PayloadKeys:
    """The ``edit`` generator's keys: one edit's, with its type's fields, or a chain's."""
    if options.turns > 1:
        keys = PayloadKeys(CHAIN_KEYS)
    else:
        types = select_edit_types(ctx.catalog(EDIT_TYPES), options.types, ctx.key("types"))
        keys = PayloadKeys.one_of(PayloadKeys((*EDIT_KEYS, *t.fields)) for t in types)
        if options.judge and options.judge_format == "score":
            keys = keys.plus(always=("judge_p_yes",))
    return keys.plus(always=("prefilter",), may=(*ITEM_KEYS, "compose"))


def edit_requires(options: EditOptions) -> dict[str, str]:
    """The judge's score mode needs first-token scores, which only some backends give."""
    if options.judge and options.judge_format == "score":
        return {"scores": "judge_format"}
    return {}


#: The keys each rule adds to ``edit_type``, ``edit``, ``input``, ``output`` and
#: ``derived_from`` (rules_records.py, rules_scenes.py); a test runs the examples
#: against this table.
RULE_KEYS: dict[str, PayloadKeys] = {
    "counting": PayloadKeys({"edited_object", "remove_number", "count_before", "count_after"}),
    "movement": PayloadKeys({"edited_object", "position"}),
    "resize": PayloadKeys({"edited_object", "scale"}),
    "visual_reference": PayloadKeys({"edited_object", "new_object", "ref_object",
                                     "visual_input", "reference"}),
    "visual_material_transfer": PayloadKeys({"edited_object", "material", "visual_input",
                                             "reference"}),
    "material_change": PayloadKeys({"edited_object", "material"}),
    **{name: PayloadKeys({"edited_object", "condition", "edited_file"}, {"new_object"})
       for name in CONDITIONS},
    "style_change": PayloadKeys({"style"}),
    "relation": PayloadKeys({"edited_object", "direction", "relation_before"},
                            {"target_object"}),
    "rotation_change": PayloadKeys({"edited_object", "direction"}),
    "outpainting": PayloadKeys({"direction"}),
}


def rule_keys(options: RulesOptions, _ctx: BuildContext) -> PayloadKeys:
    """The ``edit_rules`` generator's keys for its types; an unknown type (refused when the
    generator is built) leaves them open."""
    names = [ALIASES.get(n, n) for n in options.types]
    if not all(n in RULE_KEYS for n in names):
        return PayloadKeys(open=True)
    return PayloadKeys.one_of(RULE_KEYS[n] for n in names).plus(
        always=("edit_type", "edit", "input", "output", "derived_from"), may=("image_file", "url"))


@hookimpl
def instructgen_generators() -> Iterator[GeneratorPlugin]:
    yield GeneratorPlugin(
        name="edit", options=EditOptions, factory=EditGenerator, prepare=check_edit_types,
        produces=edit_keys, requires=edit_requires,
        description="Edit instructions from captions (AnyEdit types), single or multi-turn, "
                    "with consistency checks and a yes/no self-check judge.")
    yield GeneratorPlugin(
        name="edit_rules", options=RulesOptions, factory=RulesGenerator, produces=rule_keys,
        description="Rule-derived edits (counting, movement, resize, visual conditions, "
                    "style change, ...) from captions and earlier edit records; no LLM.")


__all__ = [
    "BUILTIN_EDIT_TYPES",
    "EDIT_TYPES",
    "RULES",
    "Check",
    "EditExample",
    "EditGenerator",
    "EditType",
    "get_edit_types",
    "select_edit_types",
]
