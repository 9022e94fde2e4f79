"""Every edit type's AnyEdit contract, gathered from the families at plan time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .contract import TypeContract, contracts_of

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext


def gather_contracts(ctx: BuildContext) -> dict[str, TypeContract]:
    """Name -> contract of every type the loaded families write (their plugins' included)."""
    return contracts_of(ctx.hook.instructgen_anyedit_contracts(catalog=ctx.catalog))


if __name__ == "__main__":  # python -m instructgen.plugins.anyedit.gather > table.md
    from instructgen.manager import make_registry
    from instructgen.plugin import BuildContext

    from .contract import contract_table

    print(contract_table(gather_contracts(BuildContext(make_registry(autoload=False)))))
