"""How a worker process (a replica, a Ray actor) rebuilds the driver's plugin registry.

A worker must see the plugins the driver saw: those handed in through
``instructgen.run(..., plugins=[...])`` and not the blocked ones. The driver's
:class:`~instructgen.manager.RegistrySpec` says how its registry was built; it
travels pickled (the standard pickle, for replicas and Ray alike). Modules, the
usual in-process plugins, do not pickle, so they travel by name and the worker
imports them again (from the driver's folder for the module, when it is not
installed: a script's or a test's folder is only on the driver's path); other
plugin objects (module-level classes and their
instances) pickle as they are. A plugin object that cannot travel is refused in
the driver, before any worker starts, with one line naming the stages it
provides.
"""

from __future__ import annotations

import importlib
import pickle
import sys
import types
from collections.abc import Iterable
from pathlib import Path

import attrs

from instructgen.errors import PluginError
from instructgen.manager import PluginRegistry, RegistrySpec


@attrs.frozen
class _ModuleRef:
    """A plugin module, by name, and the folder it was imported from (a test's or a
    script's folder is on the driver's ``sys.path`` only)."""

    name: str
    folder: str | None

    @classmethod
    def of(cls, module: types.ModuleType) -> _ModuleRef:
        file = getattr(module, "__file__", None)
        if not file:
            return cls(module.__name__, None)
        path = Path(file).resolve()
        depth = module.__name__.count(".") + (path.name == "__init__.py")
        return cls(module.__name__, str(path.parents[depth]))

    def load(self) -> types.ModuleType:
        try:
            return importlib.import_module(self.name)
        except ModuleNotFoundError as exc:
            if exc.name != self.name.split(".")[0] or not self.folder:
                raise
            if not Path(self.folder).is_dir():
                raise PluginError(f"plugin module {self.name!r} is not installed here and its "
                                  f"folder {self.folder} does not exist on this node") from None
        sys.path.append(self.folder)
        return importlib.import_module(self.name)


@attrs.frozen
class WorkerRegistry:
    """The driver's :class:`RegistrySpec`, in a form that pickles."""

    spec: RegistrySpec

    @classmethod
    def of(cls, spec: RegistrySpec, *, who: str, stages: Iterable[str] = ()) -> WorkerRegistry:
        """Pack ``spec`` for workers; :class:`PluginError` if a plugin object cannot travel.

        ``who`` names the workers in the message (``backend.replicas``); ``stages``
        are the recipe stages served by handed-in plugins (``generator=echo``).
        """
        plugins = tuple(_ModuleRef.of(p) if isinstance(p, types.ModuleType) else p
                        for p in spec.plugins)
        packed = cls(attrs.evolve(spec, plugins=plugins))
        try:
            pickle.loads(pickle.dumps(packed))
        except Exception as exc:
            served = ", ".join(stages)
            raise PluginError(
                f"{who}: {served + ' is not an installed plugin and ' if served else ''}"
                f"a plugin handed in through plugins=[...] cannot be sent to worker processes "
                f"({type(exc).__name__}: {exc}); define it at module level or install it "
                "as a package") from None
        return packed

    def build(self) -> PluginRegistry:
        """The registry the driver built (run in the worker)."""
        plugins = tuple(p.load() if isinstance(p, _ModuleRef) else p for p in self.spec.plugins)
        return attrs.evolve(self.spec, plugins=plugins).build()
