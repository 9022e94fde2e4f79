"""From a recipe to a plan: the one place where names meet the plugin registry.

:func:`resolve` finds every named plugin, structures its options and runs the
plugin's ``prepare`` step (a model name becomes a path, edit type names become
:class:`~instructgen.plugins.edits.EditType` records), collecting every error
with its key path. Factories then build from the plan alone; nothing after
``resolve`` looks a name up again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import attrs
from attrs import frozen

from .canonical import stable_hash
from .errors import PluginError, RecipeError
from .manager import PluginRegistry
from .plugin import (
    CAPABILITIES,
    BackendPlugin,
    BuildContext,
    Generator,
    GeneratorPlugin,
    PayloadKeys,
    PluginSpec,
    PostProcessor,
    PostProcessorPlugin,
    Sink,
    SinkPlugin,
    Source,
)
from .recipe import (
    PluginRef,
    Recipe,
    check_replicas,
    hashable_view,
    recipe_converter,
    structure_options,
)

if TYPE_CHECKING:
    from instructgen.backend import Backend

B = TypeVar("B")


@frozen
class Stage(Generic[B]):
    """One resolved stage: the plugin record, the user's options and what its factory gets."""

    where: str
    spec: PluginSpec
    #: The options as the user wrote them, validated: what the hash and manifest hold.
    options: Any
    #: What the factory receives: ``spec.prepare``'s result, else ``options``.
    prepared: Any = attrs.field(default=attrs.Factory(lambda self: self.options,
                                                      takes_self=True))

    def build(self) -> B:
        return cast(B, self.spec.factory(self.prepared))


@frozen
class Plan:
    """A recipe with every plugin found, every options table validated and prepared."""

    recipe: Recipe
    source: Stage[Source]
    generator: Stage[Generator]
    backend: Stage[Backend]
    postprocess: tuple[Stage[PostProcessor], ...]
    sink: Stage[Sink] | None
    #: ``backend.replicas``: backend instances serving one run (1, N or "auto").
    replicas: int | str = 1
    #: ``backend.isolate``: run the backend in a worker process, so that a native crash
    #: ends the run with a message (off by default: see docs/backends.md for its cost).
    isolate: bool = False
    #: What the stages were prepared with; handed to ``setup`` through ``RunInfo``.
    context: BuildContext = attrs.field(kw_only=True, eq=False, repr=False)

    @property
    def stages(self) -> tuple[Stage[Any], ...]:
        sink = (self.sink,) if self.sink else ()
        return (self.source, self.generator, *self.postprocess, *sink, self.backend)

    def normalized(self) -> dict[str, Any]:
        """The recipe with plugin options as validated, defaults included."""
        out = self.recipe.as_dict()
        for stage in self.stages:
            entry = {"name": stage.spec.name, **recipe_converter.unstructure(stage.options)}
            head, _, index = stage.where.partition("[")
            if index:
                out[head] = list(out[head])
                out[head][int(index.rstrip("]"))] = entry
            else:
                out[head] = entry
        out["backend"]["replicas"] = self.replicas
        out["backend"]["isolate"] = self.isolate
        return out

    @property
    def hash(self) -> str:
        """Hash of everything that can change the records (runtime keys excluded)."""
        return stable_hash(hashable_view(self.normalized()))

    def plugin_versions(self) -> dict[str, str]:
        return {f"{s.spec.kind}:{s.spec.name}": f"{s.spec.dist} {s.spec.version}".strip()
                for s in self.stages}


def resolve_stage(registry: PluginRegistry, kind: str, name: str, options: Mapping[str, Any],
                  where: str, *, prepare: bool = True, name_key: str = "",
                  backend_model: str | None = None) -> Stage[Any]:
    """One stage: find the plugin, structure its options, run its ``prepare`` step.

    Raises :class:`RecipeError` or :class:`PluginError` naming ``where`` (or
    ``name_key`` for an unknown name, default ``<where>.name``). Also used by
    commands that build a single plugin (``concepts filter --backend``).
    ``backend_model`` is the model the recipe's backend names, for a ``prepare`` that
    chooses by it (:attr:`BuildContext.backend_model`).
    """
    spec = registry.get(kind, name, where=name_key or f"{where}.name")
    structured = structure_options(options, spec.options, where)
    if prepare and spec.prepare is not None:
        ctx = BuildContext(registry, where, backend_model=backend_model)
        return Stage(where, spec, structured, spec.prepare(structured, ctx))
    return Stage(where, spec, structured)


def _model_of(backend: Stage[Any] | None) -> str | None:
    """The model the backend stage's options name (defaults included), if any."""
    model = getattr(backend.options, "model", None) if backend is not None else None
    return model if isinstance(model, str) else None


def resolve(recipe: Recipe, registry: PluginRegistry, *, prepare_backend: bool = True) -> Plan:
    """Find each named plugin, structure and prepare its options; collect every error.

    ``prepare_backend=False`` skips the backend's ``prepare`` (its model lookup) for
    a run handed a ready backend object, which never builds the recipe's one.
    """
    errors: list[RecipeError | PluginError] = []

    def stage(kind: str, ref: PluginRef, where: str, prepare: bool = True,
              into: list[RecipeError | PluginError] = errors,
              backend_model: str | None = None) -> Stage[Any] | None:
        try:
            return resolve_stage(registry, kind, ref.name, ref.options, where, prepare=prepare,
                                 backend_model=backend_model)
        except (RecipeError, PluginError) as exc:
            into.append(exc)
            return None

    source = stage("source", recipe.source, "source")
    # The backend is read before the generator is prepared, so a generator can choose by
    # the model it names (compose = "auto"); its errors are still reported after the
    # generator's, in recipe order.
    backend_errors: list[RecipeError | PluginError] = []
    # ``replicas`` and ``isolate`` belong to the runner, not to the backend's own options.
    backend_opts = dict(recipe.backend.options)
    replicas = backend_opts.pop("replicas", 1)
    try:
        check_replicas(None, None, replicas)
    except ValueError as exc:
        backend_errors.append(RecipeError(f"backend.replicas: {exc}"))
    isolate = backend_opts.pop("isolate", False)
    if not isinstance(isolate, bool):
        backend_errors.append(RecipeError(f"backend.isolate: expected true or false, "
                                          f"got {isolate!r}"))
    backend = stage("backend", PluginRef(recipe.backend.name, backend_opts), "backend",
                    prepare=prepare_backend, into=backend_errors)
    generator = stage("generator", recipe.generator, "generator",
                      backend_model=_model_of(backend))
    errors += backend_errors
    post = [stage("postprocessor", ref, f"postprocess[{i}]")
            for i, ref in enumerate(recipe.postprocess)]
    sink = stage("sink", recipe.sink, "sink") if recipe.sink else None
    if generator is not None:
        errors += payload_key_errors(generator, [p for p in (*post, sink) if p is not None],
                                     BuildContext(registry, "generator"))
    if generator is not None and backend is not None and prepare_backend:
        # A backend object handed to the run is what answers, not the recipe's;
        # it still refuses what it cannot do at the first such request.
        errors += capability_errors(generator, backend, registry)
    if errors:
        raise _combined(errors)
    assert source and generator and backend
    return Plan(recipe, source, generator, backend, tuple(p for p in post if p), sink, replicas,
                isolate, context=BuildContext(registry, backend_model=_model_of(backend)))


def payload_keys(generator: Stage[Generator], ctx: BuildContext) -> PayloadKeys | None:
    """The payload keys ``generator`` declares for its options; ``None`` if undeclared."""
    spec = generator.spec
    if not isinstance(spec, GeneratorPlugin) or spec.produces is None:
        return None
    return spec.produces(generator.prepared, ctx)


def payload_key_errors(generator: Stage[Generator], readers: list[Stage[Any]],
                       ctx: BuildContext) -> list[RecipeError]:
    """One error per post-processor or sink that needs keys the generator never produces.

    Checked only where both sides declare their keys, so an undeclared third-party
    plugin is never refused; an ``open`` generator (item fields passed through) neither.
    """
    keys = payload_keys(generator, ctx)
    if keys is None:
        return []
    out = []
    for reader in readers:
        spec = reader.spec
        if not isinstance(spec, (SinkPlugin, PostProcessorPlugin)) or spec.needs is None:
            continue
        missing = keys.lacks(spec.needs(reader.prepared))
        if missing:
            plural = "s" if len(missing) > 1 else ""
            out.append(RecipeError(
                f"{reader.where}.name: {spec.name} needs the payload key{plural} "
                f"{', '.join(map(repr, missing))} that generator {generator.spec.name} "
                f"does not produce"))
    return out


def capability_errors(generator: Stage[Generator], backend: Stage[Any],
                      registry: PluginRegistry) -> list[RecipeError]:
    """One error per capability the generator's options ask of a backend that lacks it.

    Checked only where both declare (``GeneratorPlugin.requires``,
    ``BackendPlugin.provides``); the error names the generator option that asks.
    """
    gen, back = generator.spec, backend.spec
    if not isinstance(gen, GeneratorPlugin) or gen.requires is None:
        return []
    if not isinstance(back, BackendPlugin) or back.provides is None:
        return []
    wanted = gen.requires(generator.prepared)
    have = back.provides(backend.prepared)
    out = []
    for capability, option in wanted.items():
        if capability in have:
            continue
        able = sorted(name for name, spec in registry.plugins("backend").items()
                      if capability in _default_provides(spec))
        hint = f"; backends that can: {', '.join(able)}" if able else ""
        what = CAPABILITIES.get(capability, capability)
        out.append(RecipeError(
            f"generator.{option}: backend {back.name} cannot {what}, which generator "
            f"{gen.name} asks for with this setting{hint}"))
    return out


def _default_provides(spec: PluginSpec) -> frozenset[str]:
    """What a backend provides with its default options (empty if it has required ones)."""
    if not isinstance(spec, BackendPlugin) or spec.provides is None:
        return frozenset()
    try:
        return spec.provides(spec.options())
    except TypeError:
        return frozenset()


def _combined(errors: list[RecipeError | PluginError]) -> RecipeError:
    """One error for all problems: a single recipe error keeps its class (a missing
    model stays a ``ModelNotFoundError``), anything else is a plain ``RecipeError``."""
    message = "; ".join(str(e) for e in errors)
    if len(errors) == 1 and isinstance(errors[0], RecipeError):
        return type(errors[0])(message)
    return RecipeError(message)
