"""The anyedit family's own hook. The family adds it through ``instructgen_addhooks``,
so it exists only while ``instructgen.plugins.anyedit`` is loaded; families that
implement it mark their implementation ``optionalhook`` so that blocking this family
leaves them working.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from instructgen.catalog import Catalog

    from .contract import TypeContract

_hookspec = pluggy.HookspecMarker("instructgen")


@_hookspec
def instructgen_anyedit_contracts(
    catalog: Callable[[Catalog[Any]], Mapping[str, Any]],
) -> Iterable[TypeContract]:
    """What AnyEdit reads of each edit type a family writes (the ``anyedit`` sink's keys).

    ``catalog`` reads any family's catalog, so a family answers for the types plugins
    registered with it too, not only its builtins:

    .. code-block:: python

        @hookimpl(optionalhook=True)
        def instructgen_anyedit_contracts(catalog):
            for etype in catalog(EDIT_TYPES).values():
                yield etype.contract()
    """
    yield from ()
