"""What AnyEdit reads, for every generator: its record contract, type names and sinks.

AnyEdit's image stages are the consumers of most of what instructgen writes, and
they read records by rules of their own: keys with spaces, per-type extra keys,
type names of their own. This family is the one place that knows those rules, so
the generator families (``edits``, ``implicit``) and the caption sources
(``datasets``) depend on it, and it depends on none of them.

- :mod:`.contract`: :class:`~.contract.TypeContract` (the keys a type needs, which each
  type declares), :data:`~.contract.ALIASES` (old type names) and
  :func:`~.contract.canonical_type`;
- hook ``instructgen_anyedit_contracts`` (:mod:`.hookspecs`): the generator families
  hand over their types' contracts, plugins' types included (:mod:`.gather`);
- sink ``anyedit`` (:mod:`.sink`): one record a line, with AnyEdit's keys;
- sink ``anyedit_implicit`` (:mod:`.implicit_sink`): the keys AnyEdit's implicit
  stage reads.
"""

from __future__ import annotations

from collections.abc import Iterator

import pluggy

from instructgen.manager import hookimpl
from instructgen.plugin import SinkPlugin

from . import hookspecs
from .implicit_sink import ANYEDIT_KEYS, AnyEditImplicitOptions, AnyEditImplicitSink
from .sink import AnyEditOptions, AnyEditSink, prepare_anyedit


@hookimpl
def instructgen_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def instructgen_sinks() -> Iterator[SinkPlugin]:
    # Each record is written by its edit_type's contract; the type's own keys are
    # checked record by record (contract.py), so only edit_type is needed up front.
    yield SinkPlugin(
        name="anyedit", options=AnyEditOptions, factory=AnyEditSink, prepare=prepare_anyedit,
        needs=lambda _options: frozenset({"edit_type"}),
        description="JSON lines with AnyEdit's key names (edited object, new object, ...).")
    yield SinkPlugin(
        name="anyedit_implicit",
        description="Implicit quadruples with the keys AnyEdit's implicit stage reads.",
        options=AnyEditImplicitOptions,
        factory=AnyEditImplicitSink,
        needs=lambda _options: frozenset(ANYEDIT_KEYS),
    )
