"""The frozen records that flow between stages: source → generator → sink.

Every record converts to and from plain JSON through
:data:`instructgen.canonical.converter`. What a generator asks a backend and what
it answers (:class:`~instructgen.backend.LLMRequest`,
:class:`~instructgen.backend.Completion`, :class:`~instructgen.backend.BackendIdentity`)
are the backend's contract and live in :mod:`instructgen.backend`; a record's
:class:`Provenance` names the backend through that identity, so this module imports
the contract, never the other way round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from .backend import BackendIdentity

#: Key under which a source item keeps fields that no plugin asked for.
EXTRA_KEY = "extra"


def as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """An attrs converter to a tuple that mypy's attrs plugin can read (``tuple`` itself
    leaves the item type unsolved); the field's annotation says the item type."""
    return tuple(value)


@frozen
class SourceItem:
    """One unit of work read from a source.

    ``id`` is stable across runs (it seeds the item and keys resume);
    ``data`` holds the fields generators read; ``extra`` keeps every other field
    of the input row so nothing is dropped on the way to the output.
    """

    id: str
    data: Mapping[str, Any]
    source: str = ""
    extra: Mapping[str, Any] = field(factory=dict)


@frozen
class Provenance:
    """Where an output record came from, enough to reproduce it."""

    recipe_hash: str
    plugins: Mapping[str, str]
    backend: BackendIdentity | None
    seed: int
    item_seed: int


@frozen
class OutputRecord:
    """One finished record as written by a sink.

    ``data`` is the generator's payload (snake_case keys); ``item_id`` ties it
    back to its source item; ``extra`` carries the item's unknown fields.
    """

    id: str
    item_id: str
    generator: str
    data: Mapping[str, Any]
    provenance: Provenance | None = None
    extra: Mapping[str, Any] = field(factory=dict)


@frozen
class Rejection:
    """A record or item that did not make it, and why."""

    item_id: str
    stage: str
    plugin: str
    reason: str
    detail: str = ""
    raw: str | None = None
    data: Mapping[str, Any] | None = None


__all__ = [
    "EXTRA_KEY",
    "OutputRecord",
    "Provenance",
    "Rejection",
    "SourceItem",
    "as_tuple",
]
