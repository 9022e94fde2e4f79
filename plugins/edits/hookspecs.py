"""The edits family's own hooks, one per kind of edit type. The family adds them through
``instructgen_addhooks``, so they exist only while ``instructgen.plugins.edits`` is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .rules.context import RuleType
    from .types import EditType

_hookspec = pluggy.HookspecMarker("instructgen")


@_hookspec
def instructgen_edit_types() -> Iterable[EditType]:
    """Register edit types for the ``edit`` generator (name them in ``generator.types``).

    .. code-block:: python

        @hookimpl
        def instructgen_edit_types():
            yield EditType(name="weather_swap", title="weather change",
                           description="change only the weather", verbs=("make",),
                           fields=("new_state",), field_hints={"new_state": "the weather"},
                           needs=None, examples=MY_EIGHT_EXAMPLES,
                           judge_question="Is this a weather change instruction?",
                           checks=(output_differs(),))
    """
    yield from ()


@_hookspec
def instructgen_rule_types() -> Iterable[RuleType]:
    """Register rule-derived edit types for the ``edit_rules`` generator (no model call).

    .. code-block:: python

        @frozen(kw_only=True)
        class Flip(RuleEdit):
            direction: str

        @hookimpl
        def instructgen_rule_types():
            yield RuleType(name="flip", description="mirror the whole picture",
                           rule=flip, payload=Flip,
                           anyedit=(Key("direction", "direction"),))
    """
    yield from ()
