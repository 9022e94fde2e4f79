"""One item's schema never stops a run: a schema the decoder cannot compile gives way.

Item constraints are built from the caption. A long caption makes the coupled
"is not the caption" pattern nest one group per character, and llguidance
refuses it (``regex parse error``); a large vocabulary intersection can be too
complex for its lexer. The backend compiles every schema of a batch before it
decodes, so one such schema used to fail the batch and end the whole run with
exit 2. :func:`first_usable` checks each candidate the way the local backends
will (:func:`instructgen.backends.constrain.compile_schema`, cached by schema
text, so the backend's own compile of the kept schema costs nothing more) and
keeps the first that compiles: the coupled schema, then the item's narrowed
schema, then the type's plain one. Each fallback logs one warning naming the
item and is counted as a ``schema_fallback`` line in the run's rejections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from instructgen.context import ItemContext
from instructgen.errors import SchemaError
from instructgen.schema import check_schema

#: The reason a fallback is counted under (the manifest's ``rejection_reasons``).
REASON = "schema_fallback"


def schema_problem(schema: Mapping[str, Any]) -> str | None:
    """Why a constrained decoder cannot use ``schema``, or ``None``.

    Without llguidance installed only the project's own schema rules are checked
    (the backends that would compile it are not installed either).
    """
    try:
        from instructgen.backends.constrain import compile_schema

        compile_schema(schema)
    except ImportError:
        try:
            check_schema(schema)
        except SchemaError as exc:
            return str(exc)
    except SchemaError as exc:
        return str(exc)
    return None


def first_usable(candidates: Sequence[tuple[str, Mapping[str, Any]]], ctx: ItemContext,
                 what: str) -> dict[str, Any] | None:
    """The first ``(name, schema)`` of ``candidates`` a decoder can use; ``None`` if none.

    A fallback (any but the first) is logged once and counted; ``what`` names the
    request in both ("replace edit").
    """
    problem = None
    for k, (name, schema) in enumerate(candidates):
        why = schema_problem(schema)
        if why is None:
            if k:
                _report(ctx, what, candidates[0][0], name, problem or "")
            return dict(schema)
        problem = problem or why
    _report(ctx, what, candidates[0][0], "none (unconstrained)", problem or "")
    return None


def _report(ctx: ItemContext, what: str, first: str, used: str, problem: str) -> None:
    short = problem if len(problem) <= 160 else problem[:157] + "..."
    detail = (f"{what}: the {first} schema cannot be compiled ({short}); this item used the "
              f"{used} schema instead")
    if ctx.log is not None:
        ctx.log.warning("edit_schema_fallback", item_id=ctx.item.id, detail=detail)
    ctx.reject(REASON, detail, stage="schema")
