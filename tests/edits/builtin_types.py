"""The builtin edit types and their AnyEdit contracts as the plan resolves them, for tests
that build generators, rules and sinks without a recipe."""

from __future__ import annotations

import functools
from typing import Any

from instructgen.manager import PluginRegistry, make_registry
from instructgen.plugin import BuildContext
from instructgen.plugins.anyedit.contract import TypeContract
from instructgen.plugins.anyedit.gather import gather_contracts
from instructgen.plugins.anyedit.sink import AnyEditOptions, AnyEditSink, PreparedAnyEdit
from instructgen.plugins.edits import BUILTIN_EDIT_TYPES, BUILTIN_RULE_TYPES
from instructgen.plugins.edits.generator import EditGenerator, EditOptions, prepare_edit
from instructgen.plugins.edits.rules import RuleContext

#: Every builtin rule-derived type by name.
RULE_TYPES = {t.name: t for t in BUILTIN_RULE_TYPES}
#: The builtin types of the default mix, in its order.
DEFAULT_MIX = [t.name for t in BUILTIN_EDIT_TYPES if t.default_mix]


@functools.cache
def registry() -> PluginRegistry:
    """The builtin plugins alone (no entry points)."""
    return make_registry(autoload=False)


def contracts() -> dict[str, TypeContract]:
    """Every builtin type's AnyEdit contract, as the ``anyedit`` sink gathers them."""
    return gather_contracts(BuildContext(registry()))


def anyedit_sink(**options: Any) -> AnyEditSink:
    """The ``anyedit`` sink with these options, prepared as the plan prepares it."""
    return AnyEditSink(PreparedAnyEdit(AnyEditOptions(**options), contracts()))


def edit_generator(**options: Any) -> EditGenerator:
    """The ``edit`` generator with these options, its types resolved as at plan time."""
    ctx = BuildContext(registry(), "generator")
    return EditGenerator(prepare_edit(EditOptions(**options), ctx))


def apply_rule(name: str, rc: RuleContext) -> dict[str, Any] | None:
    """What the rule of ``name`` writes for ``rc`` (its payload), or ``None``."""
    made = RULE_TYPES[name].rule(rc)
    return None if made is None else made.payload()
