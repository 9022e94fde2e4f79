"""Edit instructions from captions: the AnyEdit edit types, chains, rules and output.

* :class:`EditType` records (LLM-written types), registered through the
  ``instructgen_edit_types`` hook, and :class:`RuleType` records (rule-derived types),
  through ``instructgen_rule_types``; this family declares both (``hookspecs.py``,
  added through ``instructgen_addhooks``) and registers its builtins through them like
  any third-party plugin. Each type carries everything about it: its AnyEdit keys
  (handed to the ``anyedit`` family through ``instructgen_anyedit_contracts``), whether
  it joins the default mix, and its payload fields.
* The ``edit`` generator (single edits and multi-turn chains) and the
  ``edit_rules`` generator (rule-derived types, no LLM, :mod:`.rules`). Both resolve
  their types at plan time (``prepare``) and are built from what that returns.

What AnyEdit reads of these records (its keys, type names, sinks) is the
``anyedit`` family's (:mod:`instructgen.plugins.anyedit`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from instructgen.catalog import Catalog
from instructgen.manager import hookimpl
from instructgen.plugin import GeneratorPlugin, PayloadKeys
from instructgen.plugins.anyedit.contract import TypeContract

from . import hookspecs
from .attributes import ATTRIBUTE_TYPES
from .generator import EditGenerator, EditOptions, PreparedEdit, prepare_edit
from .objects import OBJECT_TYPES
from .payloads import EditChain, EditTurn, FromItem
from .rules import (
    BUILTIN_RULE_TYPES,
    RULE_TYPES,
    RulesGenerator,
    RulesOptions,
    RuleType,
    prepare_rules,
    rule_keys,
)
from .scenes import SCENE_TYPES
from .types import EDIT_TYPES, Check, EditExample, EditType, get_edit_types, select_edit_types

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext

#: The eleven builtin edit types, in AnyEdit's order (the default mix's).
BUILTIN_EDIT_TYPES: tuple[EditType, ...] = OBJECT_TYPES + ATTRIBUTE_TYPES + SCENE_TYPES


@hookimpl
def instructgen_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def instructgen_edit_types() -> Iterator[EditType]:
    yield from BUILTIN_EDIT_TYPES


@hookimpl
def instructgen_rule_types() -> Iterator[RuleType]:
    yield from BUILTIN_RULE_TYPES


@hookimpl(optionalhook=True)
def instructgen_anyedit_contracts(
    catalog: Callable[[Catalog[Any]], Mapping[str, Any]],
) -> Iterator[TypeContract]:
    """Every edit type's contract, plugins' types included: each type carries its own."""
    for etype in catalog(EDIT_TYPES).values():
        yield etype.contract()
    for rtype in catalog(RULE_TYPES).values():
        yield rtype.contract()


def edit_keys(prepared: PreparedEdit, _ctx: BuildContext) -> PayloadKeys:
    """The ``edit`` generator's keys, read off its payload classes: one edit's with its
    type's fields (one of its types), or a chain's; and what each record adds from its item."""
    if prepared.options.turns > 1:
        keys = EditChain.keys()
    else:
        options = prepared.options
        scored = options.judge and options.judge_format == "score"
        keys = PayloadKeys.one_of(EditTurn.keys(t.fields, scored=scored)
                                  for t in prepared.types)
    item = FromItem.keys()
    return keys.plus(always=item.always, may=item.may)


def edit_requires(prepared: PreparedEdit) -> dict[str, str]:
    """The judge's score mode needs first-token scores, which only some backends give."""
    options = prepared.options
    if options.judge and options.judge_format == "score":
        return {"scores": "judge_format"}
    return {}


@hookimpl
def instructgen_generators() -> Iterator[GeneratorPlugin]:
    yield GeneratorPlugin(
        name="edit", options=EditOptions, factory=EditGenerator, prepare=prepare_edit,
        produces=edit_keys, requires=edit_requires,
        description="Edit instructions from captions (AnyEdit types), single or multi-turn, "
                    "with consistency checks and a yes/no self-check judge.")
    yield GeneratorPlugin(
        name="edit_rules", options=RulesOptions, factory=RulesGenerator, prepare=prepare_rules,
        produces=rule_keys,
        description="Rule-derived edits (counting, movement, resize, visual conditions, "
                    "style change, ...) from captions and earlier edit records; no LLM.")


__all__ = [
    "BUILTIN_EDIT_TYPES",
    "BUILTIN_RULE_TYPES",
    "EDIT_TYPES",
    "RULE_TYPES",
    "Check",
    "EditExample",
    "EditGenerator",
    "EditType",
    "RuleType",
    "get_edit_types",
    "select_edit_types",
]
