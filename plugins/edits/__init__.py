"""Edit instructions from captions: the AnyEdit edit types, chains, rules and output.

* :class:`EditType` records, registered through the ``instructgen_edit_types``
  hook, which this family declares (``hookspecs.py``, added through
  ``instructgen_addhooks``); the eleven builtin types are registered here like
  any third-party one.
* The ``edit`` generator (single edits and multi-turn chains) and the
  ``edit_rules`` generator (rule-derived types, no LLM).
* The ``anyedit`` sink (AnyEdit's key names, with spaces).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pluggy

from instructgen.manager import hookimpl
from instructgen.plugin import GeneratorPlugin, SinkPlugin

from . import hookspecs
from .anyedit import AnyEditOptions, AnyEditSink
from .attributes import ATTRIBUTE_TYPES
from .generator import EditGenerator, EditOptions
from .objects import OBJECT_TYPES
from .rules import RULES, RulesGenerator, RulesOptions
from .scenes import SCENE_TYPES
from .types import EDIT_TYPES, Check, EditExample, EditType, get_edit_types, select_edit_types

if TYPE_CHECKING:
    from instructgen.plan import BuildContext

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


@hookimpl
def instructgen_generators() -> Iterator[GeneratorPlugin]:
    yield GeneratorPlugin(
        name="edit", options=EditOptions, factory=EditGenerator, prepare=check_edit_types,
        description="Edit instructions from captions (AnyEdit types), single or multi-turn, "
                    "with consistency checks and a yes/no self-check judge.")
    yield GeneratorPlugin(
        name="edit_rules", options=RulesOptions, factory=RulesGenerator,
        description="Rule-derived edits (counting, movement, resize, visual conditions, "
                    "style change, ...) from captions and earlier edit records; no LLM.")


@hookimpl
def instructgen_sinks() -> Iterator[SinkPlugin]:
    yield SinkPlugin(
        name="anyedit", options=AnyEditOptions, factory=AnyEditSink,
        description="JSON lines with AnyEdit's key names (edited object, new object, ...).")


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
