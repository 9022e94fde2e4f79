"""Building the plugin registry: builtins, entry points and embedded plugins.

Nothing registers at import time. :func:`make_registry` builds a fresh
registry each call, so two runs in one process never share plugins.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from .errors import DuplicatePluginError, PluginError, UnknownPluginError, did_you_mean
from .plugin import PLUGIN_KINDS, ModelSpec, PluginSpec

#: Entry-point group third-party packages register under.
ENTRY_POINT_GROUP = "instructgen"
#: Set to 1 to skip entry-point plugins (builtins and ``plugins=`` still load).
DISABLE_AUTOLOAD_ENV = "INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin names to leave out, like ``-p no:NAME`` on the command line.
#: Worker processes inherit it, so replicas and Ray actors block the same plugins.
DISABLE_PLUGINS_ENV = "INSTRUCTGEN_DISABLE_PLUGINS"

hookimpl = pluggy.HookimplMarker("instructgen")

_KIND_HOOKS = {
    "source": "instructgen_sources",
    "generator": "instructgen_generators",
    "postprocessor": "instructgen_postprocessors",
    "sink": "instructgen_sinks",
    "backend": "instructgen_backends",
}

P = TypeVar("P", bound=PluginSpec)


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to import; the rest keep working."""


@attrs.frozen
class _Provider:
    dist: str
    version: str


@attrs.frozen
class RegistrySpec:
    """How a registry was built, so a worker process can build the same one.

    Replicas and Ray actors receive this instead of calling :func:`make_registry`
    with defaults, so plugins handed in through ``plugins=[...]`` and the block
    list reach them too. ``plugins`` must pickle (modules and module-level
    classes do); the block list travels resolved to registration names.
    """

    plugins: tuple[object, ...] = ()
    autoload: bool = True
    builtins: bool = True
    block: tuple[str, ...] = ()

    def build(self) -> PluginRegistry:
        """A fresh registry equal to the one this spec came from."""
        return make_registry(self.plugins, autoload=self.autoload, builtins=self.builtins,
                             block=self.block, _env_block=False)


class PluginRegistry:
    """Typed, loud accessors in front of a pluggy ``PluginManager``."""

    def __init__(self, pm: pluggy.PluginManager, providers: Mapping[str, _Provider],
                 spec: RegistrySpec | None = None) -> None:
        self.pm = pm
        #: What a worker needs to rebuild this registry (see :class:`RegistrySpec`).
        self.spec = spec if spec is not None else RegistrySpec()
        self._providers = dict(providers)
        self._specs: dict[str, dict[str, PluginSpec]] = {}
        self._models: dict[str, ModelSpec] | None = None

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def plugins(self, kind: str) -> dict[str, PluginSpec]:
        """All plugins of ``kind`` by name; raises on a duplicate name."""
        if kind not in _KIND_HOOKS:
            raise PluginError(f"unknown plugin kind {kind!r} (valid: {', '.join(_KIND_HOOKS)})")
        if kind not in self._specs:
            self._specs[kind] = self._collect(kind)
        return self._specs[kind]

    def get(self, kind: str, name: str, where: str = "") -> PluginSpec:
        """The plugin ``name`` of ``kind``, or an error with a did-you-mean."""
        found = self.plugins(kind)
        if name not in found:
            raise UnknownPluginError(kind, name, found, where)
        return found[name]

    def get_sources(self) -> dict[str, PluginSpec]:
        return self.plugins("source")

    def get_generators(self) -> dict[str, PluginSpec]:
        return self.plugins("generator")

    def get_postprocessors(self) -> dict[str, PluginSpec]:
        return self.plugins("postprocessor")

    def get_sinks(self) -> dict[str, PluginSpec]:
        return self.plugins("sink")

    def get_backends(self) -> dict[str, PluginSpec]:
        return self.plugins("backend")

    def get_models(self) -> dict[str, ModelSpec]:
        """Named models from every ``instructgen_models`` hook."""
        if self._models is None:
            models: dict[str, ModelSpec] = {}
            owners: dict[str, str] = {}
            for impl in self.pm.hook.instructgen_models.get_hookimpls():
                for spec in impl.function():
                    who = self._describe(impl.plugin_name)
                    if spec.name in models:
                        raise DuplicatePluginError(
                            f"model {spec.name!r} is registered twice: by {owners[spec.name]}"
                            f" and by {who}"
                        )
                    models[spec.name], owners[spec.name] = spec, who
            self._models = models
        return self._models

    def provider(self, plugin_name: str) -> _Provider:
        return self._providers.get(plugin_name, _Provider("unknown", ""))

    def _describe(self, plugin_name: str) -> str:
        prov = self.provider(plugin_name)
        return f"{prov.dist} {prov.version} ({plugin_name})".replace("  ", " ")

    def _collect(self, kind: str) -> dict[str, PluginSpec]:
        expected = PLUGIN_KINDS[kind]
        found: dict[str, PluginSpec] = {}
        owners: dict[str, str] = {}
        # Call each implementation on its own so every record can be traced to
        # the distribution that provided it.
        for impl in getattr(self.pm.hook, _KIND_HOOKS[kind]).get_hookimpls():
            prov = self.provider(impl.plugin_name)
            for spec in impl.function() or ():
                if not isinstance(spec, expected):
                    raise PluginError(
                        f"{self._describe(impl.plugin_name)}: {_KIND_HOOKS[kind]} yielded "
                        f"{type(spec).__name__}, expected {expected.__name__}"
                    )
                who = self._describe(impl.plugin_name)
                if spec.name in found:
                    raise DuplicatePluginError(
                        f"{kind} {spec.name!r} is provided twice: by {owners[spec.name]}"
                        f" and by {who}"
                    )
                found[spec.name] = attrs.evolve(
                    spec, dist=spec.dist or prov.dist, version=spec.version or prov.version
                )
                owners[spec.name] = who
        return dict(sorted(found.items()))


def _version() -> str:
    from . import __version__

    return __version__


def make_registry(
    plugins: Iterable[object] = (),
    *,
    autoload: bool | None = None,
    builtins: bool = True,
    block: Iterable[str] = (),
    _env_block: bool = True,
) -> PluginRegistry:
    """Build a fresh plugin registry.

    Args:
        plugins: extra plugin objects (modules or instances) for library use.
        autoload: load entry-point plugins; default is on unless
            ``INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD`` is set.
        builtins: load the builtin plugins (tests may turn this off).
        block: plugin names to skip: builtin module names (``instructgen.plugins.implicit``
            or just ``implicit``) or entry-point names. ``INSTRUCTGEN_DISABLE_PLUGINS`` adds
            to it; an unknown name is an error, since a typo would silently block nothing.
    """
    from instructgen.plugins import BUILTIN_PLUGINS

    pm = pluggy.PluginManager("instructgen")
    pm.add_hookspecs(hookspecs)
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    entry_points = (list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
                    if autoload else [])
    plugins = list(plugins)
    names = [ep.name for ep in entry_points] + [_embedded_name(o, i) for i, o in enumerate(plugins)]
    blocked = resolve_block_list(block, BUILTIN_PLUGINS, names, from_env=_env_block)
    for name in blocked:
        pm.set_blocked(name)
    providers: dict[str, _Provider] = {}

    if builtins:
        for modname in BUILTIN_PLUGINS:
            _register(pm, providers, modname, lambda m=modname: importlib.import_module(m),
                      _Provider("instructgen", _version()), builtin=True)

    for ep in entry_points:
        dist = ep.dist
        prov = _Provider(dist.name if dist else "unknown", dist.version if dist else "")
        _register(pm, providers, ep.name, ep.load, prov, builtin=False)

    for i, obj in enumerate(plugins):
        name = _embedded_name(obj, i)
        if pm.is_blocked(name) or pm.is_registered(obj):
            continue
        pm.register(obj, name=name)
        providers[name] = _Provider("embedded", "")

    pm.check_pending()
    spec = RegistrySpec(tuple(plugins), autoload, builtins, tuple(blocked))
    return PluginRegistry(pm, providers, spec)


def _embedded_name(obj: object, index: int) -> str:
    return getattr(obj, "__name__", None) or f"{type(obj).__name__}-{index}"


def resolve_block_list(
    block: Iterable[str],
    builtin_modules: Iterable[str],
    entry_point_names: Iterable[str],
    *,
    from_env: bool = True,
) -> list[str]:
    """Registration names for the user's block list plus ``INSTRUCTGEN_DISABLE_PLUGINS``.

    Builtins may be named by their short module name (``implicit``). A name that is
    neither a builtin nor an installed entry point raises :class:`PluginError` with a
    did-you-mean, because blocking a misspelt name would leave the plugin running.
    """
    env = os.environ.get(DISABLE_PLUGINS_ENV, "") if from_env else ""
    wanted = list(dict.fromkeys(n for n in [*block, *(n.strip() for n in env.split(","))] if n))
    if not wanted:
        return []
    short = {m.rsplit(".", 1)[-1]: m for m in builtin_modules}
    known = set(builtin_modules) | set(entry_point_names)
    out: list[str] = []
    for name in wanted:
        full = short.get(name, name)
        if full not in known:
            choices = sorted(set(short) | set(entry_point_names))
            raise PluginError(
                f"cannot block plugin {name!r}: no builtin or installed plugin has that name"
                f"{did_you_mean(name, choices)} (valid: {', '.join(choices)})")
        out.append(full)
    return out


def _register(
    pm: pluggy.PluginManager,
    providers: dict[str, _Provider],
    name: str,
    load: Any,
    prov: _Provider,
    *,
    builtin: bool,
) -> None:
    if pm.is_blocked(name) or pm.has_plugin(name):
        return
    try:
        obj = load()
    except Exception as exc:
        if builtin:
            raise
        warnings.warn(
            f"instructgen plugin {name!r} from {prov.dist} {prov.version} failed to load and is "
            f"skipped: {type(exc).__name__}: {exc}",
            PluginLoadWarning,
            stacklevel=3,
        )
        return
    pm.register(obj, name=name)
    providers[name] = prov
