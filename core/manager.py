"""Building the plugin registry: builtins, entry points and embedded plugins.

Nothing registers at import time. :func:`make_registry` builds a fresh
registry each call, so two runs in one process never share plugins. Only the
public API, the CLI and worker bootstraps (through :class:`RegistrySpec`) build
one; everything else gets what :func:`instructgen.plan.resolve` looked up.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from .catalog import UNKNOWN_PROVIDER, Catalog, Provider, collect
from .errors import PluginError, UnknownPluginError, did_you_mean
from .plugin import PLUGIN_KINDS, CommandSpec, ModelSpec, PluginSpec
from .version import __version__

if TYPE_CHECKING:
    from .counters import RunSummary
    from .review import RecordReview
    from .rundir import Manifest

#: Entry-point group third-party packages register under.
ENTRY_POINT_GROUP = "instructgen"
#: Set to 1 to skip entry-point plugins (builtins and ``plugins=`` still load).
DISABLE_AUTOLOAD_ENV = "INSTRUCTGEN_DISABLE_PLUGIN_AUTOLOAD"
#: Comma-separated plugin names to leave out, like ``-p no:NAME`` on the command line.
#: Worker processes inherit it, so replicas and Ray actors block the same plugins.
DISABLE_PLUGINS_ENV = "INSTRUCTGEN_DISABLE_PLUGINS"
#: The builtin plugin modules, loaded by name through the same path as entry points
#: (like pytest's ``default_plugins``), so each can be blocked (``-p no:implicit``) or
#: overridden. Names, not imports: core never imports a plugin family.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "instructgen.backends",
    "instructgen.plugins.io",
    "instructgen.plugins.prompt",
    "instructgen.plugins.textchecks",
    "instructgen.plugins.concepts",
    "instructgen.plugins.datasets",
    "instructgen.plugins.edits",
    "instructgen.plugins.implicit",
    "instructgen.plugins.anyedit",
)

hookimpl = pluggy.HookimplMarker("instructgen")

#: The registration hook of each plugin kind, as catalogs of that kind's records.
KIND_CATALOGS: dict[str, Catalog[PluginSpec]] = {
    kind: Catalog(kind, f"instructgen_{hook}", PLUGIN_KINDS[kind])
    for kind, hook in (("source", "sources"), ("generator", "generators"),
                       ("postprocessor", "postprocessors"), ("sink", "sinks"),
                       ("backend", "backends"))
}
#: Named models, in registration order (the embedded default first).
MODELS: Catalog[ModelSpec] = Catalog("model", "instructgen_models", ModelSpec, sort=False)
#: CLI command groups that plugin families add.
COMMANDS: Catalog[CommandSpec] = Catalog("command", "instructgen_commands", CommandSpec)

T = TypeVar("T")


class PluginLoadWarning(UserWarning):
    """A third-party plugin failed to import; the rest keep working."""


@attrs.frozen
class RegistrySpec:
    """How a registry was built, so a worker process can build the same one.

    Replicas and Ray actors receive this instead of calling :func:`make_registry`
    with defaults, so plugins handed in through ``plugins=[...]`` and the block
    list reach them too. :class:`~instructgen.engines.bootstrap.WorkerRegistry` packs
    it for the trip: a module travels by name and is imported again in the worker;
    any other plugin object must pickle (module-level classes and their instances
    do). The block list travels resolved to registration names.
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
    """Typed, loud accessors in front of a pluggy ``PluginManager``.

    Catalogs (plugin kinds, models, a family's records) are collected once each.
    Lifecycle hooks are called through typed methods (:meth:`run_start`,
    :meth:`review_record`, :meth:`run_end`), the way tox wraps its hooks.
    """

    def __init__(self, pm: pluggy.PluginManager, providers: dict[str, Provider],
                 spec: RegistrySpec | None = None) -> None:
        self.pm = pm
        #: What a worker needs to rebuild this registry (see :class:`RegistrySpec`).
        self.spec = spec if spec is not None else RegistrySpec()
        self._providers = dict(providers)
        self._catalogs: dict[Catalog[Any], dict[str, Any]] = {}

    # -- catalogs ---------------------------------------------------------------------

    @property
    def hook(self) -> Any:
        """The hook relay of every declared hook (``registry.hook.instructgen_...(...)``)."""
        return self.pm.hook

    def catalog(self, catalog: Catalog[T]) -> dict[str, T]:
        """Every record of ``catalog`` by name; raises on a name provided twice."""
        found = self._catalogs.get(catalog)
        if found is None:
            found = self._catalogs[catalog] = collect(self.pm, catalog, self.provider)
        return found

    def plugins(self, kind: str) -> dict[str, PluginSpec]:
        """All plugins of ``kind`` by name; raises on a duplicate name."""
        if kind not in KIND_CATALOGS:
            raise PluginError(f"unknown plugin kind {kind!r} (valid: {', '.join(KIND_CATALOGS)})")
        return self.catalog(KIND_CATALOGS[kind])

    def get(self, kind: str, name: str, where: str = "") -> PluginSpec:
        """The plugin ``name`` of ``kind``, or an error with a did-you-mean."""
        found = self.plugins(kind)
        if name not in found:
            raise UnknownPluginError(kind, name, found, where)
        return found[name]

    def get_models(self) -> dict[str, ModelSpec]:
        """Named models from every ``instructgen_models`` hook."""
        return self.catalog(MODELS)

    def commands(self) -> dict[str, CommandSpec]:
        """CLI command groups from every ``instructgen_commands`` hook."""
        return self.catalog(COMMANDS)

    def hookspecs(self) -> dict[str, Callable[..., object]]:
        """Every declared hook by name (core and families'), as its spec function."""
        return {name: caller.spec.function for name, caller in vars(self.pm.hook).items()
                if not name.startswith("_") and caller.spec is not None}

    def provider(self, plugin_name: str) -> Provider:
        return self._providers.get(plugin_name, UNKNOWN_PROVIDER)

    # -- lifecycle hooks --------------------------------------------------------------

    def run_start(self, manifest: Manifest) -> None:
        """``instructgen_run_start``: the run has its manifest, no item has started."""
        self.pm.hook.instructgen_run_start(manifest=manifest)

    @property
    def reviews_records(self) -> bool:
        """Whether any plugin implements ``instructgen_review_record`` (else skip reviews)."""
        return bool(self.pm.hook.instructgen_review_record.get_hookimpls())

    def review_record(self, review: RecordReview) -> None:
        """``instructgen_review_record``: each implementation may change or veto ``review``."""
        self.pm.hook.instructgen_review_record(review=review)

    def run_end(self, manifest: Manifest, summary: RunSummary) -> None:
        """``instructgen_run_end``: the run stopped, finished or not; ``summary`` has counts."""
        self.pm.hook.instructgen_run_end(manifest=manifest, summary=summary)


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
    pm = pluggy.PluginManager("instructgen")
    pm.add_hookspecs(hookspecs)
    # Families declare their own hooks (edit types...) when they register, like pytest_addhooks.
    pm.hook.instructgen_addhooks.call_historic(kwargs={"pluginmanager": pm})
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    entry_points = (list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
                    if autoload else [])
    plugins = list(plugins)
    names = [ep.name for ep in entry_points] + [_embedded_name(o, i) for i, o in enumerate(plugins)]
    blocked = resolve_block_list(block, BUILTIN_PLUGINS, names, from_env=_env_block)
    for name in blocked:
        pm.set_blocked(name)
    providers: dict[str, Provider] = {}

    if builtins:
        for modname in BUILTIN_PLUGINS:
            _register(pm, providers, modname, functools.partial(importlib.import_module, modname),
                      Provider("instructgen", __version__), builtin=True)

    for ep in entry_points:
        dist = ep.dist
        prov = Provider(dist.name if dist else "unknown", dist.version if dist else "")
        _register(pm, providers, ep.name, ep.load, prov, builtin=False)

    for i, obj in enumerate(plugins):
        name = _embedded_name(obj, i)
        if pm.is_blocked(name) or pm.is_registered(obj):
            continue
        pm.register(obj, name=name)
        providers[name] = Provider("embedded", "")

    _check_pending(pm, providers, blocked)
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


def _check_pending(pm: pluggy.PluginManager, providers: dict[str, Provider],
                   blocked: list[str]) -> None:
    """pluggy's ``check_pending``, as one line that says what to do.

    An implementation of a hook nobody declares is a misspelt hook name, or a hook
    of a family that is not loaded (a third-party edit type with ``edits`` blocked).
    """
    for name in list(vars(pm.hook)):
        caller = getattr(pm.hook, name)
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            who = providers.get(impl.plugin_name, UNKNOWN_PROVIDER).describe(impl.plugin_name)
            left_out = f" (blocked: {', '.join(blocked)})" if blocked else ""
            raise PluginError(
                f"{who} implements {name}, a hook no loaded plugin declares: a misspelt hook "
                f"name, or the plugin family that declares it is not loaded{left_out}; fix "
                f"the name, or block this plugin too (-p no:{impl.plugin_name})")


def _register(
    pm: pluggy.PluginManager,
    providers: dict[str, Provider],
    name: str,
    load: Callable[[], object],
    prov: Provider,
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
