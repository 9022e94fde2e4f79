"""Named records collected from hooks: one collector and one name rule for all of them.

Plugin kinds, models, edit types and CLI commands are all "a hook yields frozen
records, each with a ``name``". A :class:`Catalog` describes one such family; the
registry collects it once with :func:`collect`, which checks each record's type,
refuses a name provided twice (naming both distributions) and stamps the record
with the distribution that provided it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from .errors import DuplicatePluginError, PluginError

T = TypeVar("T")

#: Plugin, edit type and command names: lowercase identifiers, usable as TOML bare keys.
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: Model names look like file names (``smollm2-135m-instruct``, ``qwen2.5-7b``).
MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def name_validator(label: str, pattern: re.Pattern[str] = NAME) -> Callable[[Any, Any, str], None]:
    """An attrs validator enforcing the name rule for records of ``label`` ("edit type")."""
    rule = ("lowercase letters, digits and underscores" if pattern is NAME else
            "lowercase letters, digits, '.', '_' and '-', starting with a letter or digit")

    def check(_inst: Any, _attr: Any, value: str) -> None:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"{label} name {value!r} must be {rule}")

    return check


@attrs.frozen
class Provider:
    """The distribution a plugin was loaded from (``instructgen``, ``embedded``, a wheel)."""

    dist: str
    version: str

    def describe(self, plugin_name: str) -> str:
        return f"{self.dist} {self.version} ({plugin_name})".replace("  ", " ")


UNKNOWN_PROVIDER = Provider("unknown", "")


@attrs.frozen
class Catalog(Generic[T]):
    """One family of named records: the hook that yields them and their record type.

    A plugin family declares its own (``EDIT_TYPES`` in ``instructgen.plugins.edits``);
    ``registry.catalog(EDIT_TYPES)`` returns ``dict[str, EditType]``.
    """

    #: What one record is called in messages ("source", "model", "edit type").
    label: str
    #: The hook whose implementations yield the records.
    hook: str
    #: The record class every yielded object must be an instance of.
    record: type[T]
    #: Return the records sorted by name (False keeps registration order).
    sort: bool = True


def collect(pm: pluggy.PluginManager, catalog: Catalog[T],
            provider: Callable[[str], Provider]) -> dict[str, T]:
    """Every record of ``catalog`` from every implementation of its hook, by name.

    Each implementation is called on its own, so every record can be traced to the
    distribution that provided it; ``dist``/``version`` fields left empty are filled
    in from there. A hook nobody declares (its family is blocked) yields nothing.
    """
    caller = getattr(pm.hook, catalog.hook, None)
    if caller is None or not caller.has_spec():
        return {}
    found: dict[str, T] = {}
    owners: dict[str, str] = {}
    for impl in caller.get_hookimpls():
        prov = provider(impl.plugin_name)
        who = prov.describe(impl.plugin_name)
        for record in impl.function() or ():
            if not isinstance(record, catalog.record):
                raise PluginError(f"{who}: {catalog.hook} yielded {type(record).__name__}, "
                                  f"expected {catalog.record.__name__}")
            name: str = getattr(record, "name")  # noqa: B009 - every catalog record has one
            if name in found:
                raise DuplicatePluginError(f"{catalog.label} {name!r} is provided twice: by "
                                           f"{owners[name]} and by {who}")
            found[name], owners[name] = _stamped(record, prov), who
    return dict(sorted(found.items())) if catalog.sort else found


def _stamped(record: T, prov: Provider) -> T:
    """``record`` with its empty ``dist``/``version`` fields set from ``prov``."""
    cls: type[Any] = type(record)
    fields = attrs.fields_dict(cls) if attrs.has(cls) else {}
    changes = {key: getattr(prov, key) for key in ("dist", "version")
               if key in fields and not getattr(record, key)}
    return attrs.evolve(record, **changes) if changes else record  # type: ignore[misc]
