"""What a plugin is: a frozen record per plugin, and the interface behind it.

A registration hook yields records such as::

    SourcePlugin(name="coco", description="COCO captions", options=CocoOptions,
                 factory=CocoSource)

``factory(options)`` builds the working object: a :class:`Source`,
:class:`Generator`, :class:`PostProcessor`, :class:`Sink` or
:class:`~instructgen.backend.Backend`. A record may also name ``prepare(options,
ctx)``: called once at plan time with a :class:`BuildContext`, it
looks names up (a model, edit types) and returns what the factory receives.

A generator may declare the payload keys it ``produces`` and a sink or
post-processor the keys it ``needs``, so ``resolve()`` refuses a pair that cannot
work before any model loads; ``None`` (the default) declares nothing and checks nothing.
In the same way a generator may declare what it ``requires`` of the backend (a
capability from :data:`CAPABILITIES`) and a backend what it ``provides``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import attrs
from attrs import field, frozen

from .backend import CrashHints
from .catalog import MODEL_NAME, Catalog, name_validator
from .records import OutputRecord, SourceItem

if TYPE_CHECKING:
    import argparse

    from .backend import Backend
    from .context import ItemContext
    from .logs import Log

T = TypeVar("T")

#: ``prepare(options, ctx)``: plan-time lookups; returns what the factory receives.
Prepare = Callable[[Any, "BuildContext"], Any]


def _keys(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@frozen
class PayloadKeys:
    """The payload keys a generator's records carry, declared at plan time.

    ``always``: in every record; ``may``: in some records only (a type's own fields,
    an image reference when the item has one). ``open``: records also carry keys
    unknown at plan time (the ``prompt`` generator copies the item's fields), so no
    key can be said to be missing.
    """

    always: frozenset[str] = field(default=frozenset(), converter=_keys)
    may: frozenset[str] = field(default=frozenset(), converter=_keys)
    open: bool = False

    def __attrs_post_init__(self) -> None:
        both = self.always & self.may
        if both:
            raise ValueError(f"payload keys declared both always and may: {sorted(both)}")

    @classmethod
    def one_of(cls, variants: Iterable[PayloadKeys]) -> PayloadKeys:
        """The keys of records that each take the shape of one of ``variants``.

        A key is ``always`` when every variant always has it, ``may`` when some
        variant has it at all (the edit generator's records, one edit type each).
        """
        variants = list(variants)
        if not variants:
            return cls()
        always = frozenset.intersection(*(v.always for v in variants))
        every = frozenset.union(*(v.always | v.may for v in variants))
        return cls(always, every - always, any(v.open for v in variants))

    @classmethod
    def of(cls, payload: type) -> PayloadKeys:
        """The keys of records written from the attrs class ``payload``, read off its fields.

        A field whose default is ``None`` is left out of a record when unset, so it is
        ``may``; every other field is written every time, so it is ``always``. Declaring
        a record's shape once, as the class that builds it, keeps the plan-time promise
        and the records from drifting apart.
        """
        if not attrs.has(payload):
            raise TypeError(f"{payload.__name__} is not an attrs class")
        fields = attrs.fields(payload)
        return cls({f.name for f in fields if f.default is not None},
                   {f.name for f in fields if f.default is None})

    def plus(self, always: Iterable[str] = (), may: Iterable[str] = ()) -> PayloadKeys:
        """These keys with ``always`` added to every record and ``may`` to some."""
        now = self.always | frozenset(always)
        return PayloadKeys(now, (self.may | frozenset(may)) - now, self.open)

    def lacks(self, needed: Iterable[str]) -> list[str]:
        """Of ``needed``, the keys no record can carry, sorted (none when ``open``)."""
        if self.open:
            return []
        return sorted(frozenset(needed) - self.always - self.may)


def payload_of(record: Any) -> dict[str, Any]:
    """What an instance of a payload class writes: its fields in declared order, a field
    whose default is ``None`` left out while unset (the counterpart of
    :meth:`PayloadKeys.of`, so the keys a record carries are the keys the plan promised).

    Declared order is written order: JSON lines are compared byte for byte.
    """
    if not attrs.has(type(record)):
        raise TypeError(f"{type(record).__name__} is not an attrs class")
    return {a.name: getattr(record, a.name) for a in attrs.fields(type(record))
            if not (a.default is None and getattr(record, a.name) is None)}


@frozen(kw_only=True)
class Payload:
    """Base of a payload class: the attrs class a generator builds its records from.

    The record's shape is said once, as the class: :meth:`payload` writes an instance
    (:func:`payload_of`) and :meth:`keys` declares the keys the plan promises
    (:meth:`PayloadKeys.of`), so the two cannot drift apart. A class whose keys depend on
    the options keeps its own ``keys`` function instead.
    """

    def payload(self) -> dict[str, Any]:
        """The record this instance writes."""
        return payload_of(self)

    @classmethod
    def keys(cls) -> PayloadKeys:
        """The payload keys of every record of this class."""
        return PayloadKeys.of(cls)


#: ``produces(options, ctx)``: a generator's payload keys for these (prepared) options;
#: it may read the build context's catalogs (the edit generator reads its types' fields).
Produces = Callable[[Any, "BuildContext"], PayloadKeys]
#: ``needs(options)``: the payload keys a sink or post-processor reads from every record.
Needs = Callable[[Any], frozenset[str]]
#: ``requires(options)``: what a generator asks of the backend, as capability -> the
#: option that asks it (``{"scores": "judge_format"}``), so the error names that key.
Requires = Callable[[Any], Mapping[str, str]]
#: ``provides(options)``: the capabilities a backend has with these options.
Provides = Callable[[Any], frozenset[str]]
#: Backend capabilities beyond ``generate``'s text answers, with what each means.
CAPABILITIES: Mapping[str, str] = {
    "scores": "answer with first-token scores of fixed labels (LLMRequest.choices)",
}


@frozen
class NoOptions:
    """Options class for plugins that take none."""


@frozen(kw_only=True)
class PluginSpec:
    """Describes one plugin. Subclasses fix ``kind``."""

    kind: ClassVar[str] = "plugin"

    name: str = field(validator=name_validator("plugin"))
    description: str
    #: Builds the working object from the options (or from what ``prepare`` returned).
    factory: Callable[[Any], object]
    options: type = NoOptions
    #: Optional plan-time step: ``prepare(options, ctx)`` looks names up in the build
    #: context and returns what ``factory`` receives. The recipe hash and manifest
    #: keep the user's options; a missing name fails ``validate`` with its key path.
    prepare: Prepare | None = None
    #: Filled in by the plugin manager from the entry point's distribution.
    dist: str = ""
    version: str = ""

    def __attrs_post_init__(self) -> None:
        if not attrs.has(self.options):
            raise TypeError(f"{self.kind} {self.name!r}: options must be an attrs class")
        if "\n" in self.description:
            raise ValueError(f"{self.kind} {self.name!r}: description must be one line")


@frozen(kw_only=True)
class SourcePlugin(PluginSpec):
    kind: ClassVar[str] = "source"
    factory: Callable[[Any], Source]


@frozen(kw_only=True)
class GeneratorPlugin(PluginSpec):
    kind: ClassVar[str] = "generator"
    factory: Callable[[Any], Generator]
    #: The payload keys its records carry; ``None``: undeclared, never checked.
    produces: Produces | None = None
    #: The backend capabilities these options ask for; ``None``: undeclared.
    requires: Requires | None = None


@frozen(kw_only=True)
class PostProcessorPlugin(PluginSpec):
    kind: ClassVar[str] = "postprocessor"
    factory: Callable[[Any], PostProcessor]
    #: The payload keys it reads from every record; ``None``: undeclared, never checked.
    needs: Needs | None = None


@frozen(kw_only=True)
class SinkPlugin(PluginSpec):
    kind: ClassVar[str] = "sink"
    factory: Callable[[Any], Sink]
    #: The payload keys it reads from every record; ``None``: undeclared, never checked.
    needs: Needs | None = None


@frozen(kw_only=True)
class BackendPlugin(PluginSpec):
    kind: ClassVar[str] = "backend"
    factory: Callable[[Any], Backend]
    #: Its capabilities with these options (:data:`CAPABILITIES`); ``None``:
    #: undeclared, so no generator is refused on its account.
    provides: Provides | None = None
    #: Signal name (``"SIGILL"``) -> the likely fix when a worker of this backend dies
    #: by it (``backend.isolate``, replicas); signals it leaves out get the generic hints
    #: of :func:`instructgen.backend.crash_hint`.
    crash_hints: CrashHints = field(factory=dict, hash=False)


PLUGIN_KINDS: dict[str, type[PluginSpec]] = {
    cls.kind: cls
    for cls in (SourcePlugin, GeneratorPlugin, PostProcessorPlugin, SinkPlugin, BackendPlugin)
}


class Source(ABC):
    """Yields :class:`SourceItem` records, streaming where the format allows."""

    @abstractmethod
    def __iter__(self) -> Iterator[SourceItem]: ...

    def setup(self, run: RunInfo) -> None:  # noqa: B027 - optional hook
        """Called once before the first item; ``run.log`` is the run's logger."""

    def total(self) -> int | None:
        """How many items there will be, when cheap to know (for progress bars)."""
        return None

    def stats(self) -> Mapping[str, int]:
        """Counts the source wants in the manifest, e.g. skipped rows by reason."""
        return {}


class Generator(ABC):
    """Turns one item into output payloads, asking the model through ``ctx``.

    Write the flow for a single item, top to bottom; the runner batches the
    model calls of many items and retries invalid answers::

        async def generate(self, item, ctx):
            answer = await ctx.ask(request, validate=parse_caption)
            return [{"caption": answer}]
    """

    def setup(self, run: RunInfo) -> None:  # noqa: B027 - optional hook
        """Called once before the first item."""

    @abstractmethod
    async def generate(self, item: SourceItem, ctx: ItemContext) -> Sequence[Mapping[str, Any]]:
        """Return the payloads for ``item``; raise :class:`Reject` to drop it."""


class PostProcessor(ABC):
    """Checks or rewrites finished records, in item order.

    Raise :class:`~instructgen.errors.Reject` to drop a record with a reason.
    """

    @abstractmethod
    def process(self, record: OutputRecord) -> OutputRecord: ...

    def restore(self, accepted: Iterable[OutputRecord]) -> None:  # noqa: B027
        """Rebuild state (e.g. seen texts) from the records of an interrupted run."""


class Sink(ABC):  # noqa: B024 - both methods are optional; a sink overrides one
    """Writes accepted records out.

    A line sink names ``filename`` and encodes each record as one JSON line;
    the runner appends those lines crash-safely. A sink may also convert the
    finished run in :meth:`finalize` (Parquet, HF datasets).
    """

    filename: str | None = None

    def encode(self, record: OutputRecord) -> str | None:
        """One line for ``record``; ``None`` leaves the record out of this sink's file
        (``records.jsonl`` still has it)."""
        raise NotImplementedError

    def open(self, path: Path) -> None:  # noqa: B027 - optional hook
        """Called before the first :meth:`encode` with the line file, already cut back
        to its committed length (empty on a fresh run), e.g. to read a header back."""

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:  # noqa: B027
        """Called once when the run has finished."""

    def publish(self, run_dir: Path) -> str | None:
        """Send the finished run elsewhere (the ``hub`` sink pushes it); returns a line
        for the run's summary, or ``None``.

        Called after :meth:`finalize`, once ``manifest.json`` is final and written, so
        what is published shows the finished run. A failure raises a
        :class:`~instructgen.errors.UserError`; the run directory is complete by then.
        """
        return None


@frozen
class ModelSpec:
    """A named model the registry can resolve to weights on this machine.

    ``resolve(backend)`` returns a local path for that backend ("llamacpp"
    wants a GGUF file; "transformers" a model folder or a GGUF), or ``None``
    when it is not here; ``hint`` tells the user how to get it.
    """

    name: str = field(validator=name_validator("model", MODEL_NAME))
    description: str
    resolve: Callable[[str], Path | None]
    hint: str
    backends: tuple[str, ...] = ("llamacpp", "transformers")
    hub_id: str | None = None
    sha256: str | None = None


@frozen(kw_only=True)
class CommandSpec:
    """A command group a plugin family adds to the CLI, through ``instructgen_commands``.

    ``register(subparsers)`` adds the parser named ``name`` (with its sub-commands and
    a ``func`` default), exactly as the core command modules do.
    """

    name: str = field(validator=name_validator("command"))
    description: str
    register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
    dist: str = ""
    version: str = ""


# -- what a plugin is handed --------------------------------------------------------------


class PlanLookups(Protocol):
    """What :class:`BuildContext` reads off the plugin registry.

    :class:`~instructgen.manager.PluginRegistry` is the one implementation; the
    contract names only what a plugin may look up, so it needs nothing from the
    registry's module (which imports these records).
    """

    def get_models(self) -> Mapping[str, ModelSpec]: ...

    def catalog(self, catalog: Catalog[T]) -> Mapping[str, T]: ...

    @property
    def hook(self) -> Any: ...


@frozen
class BuildContext:
    """What a plugin's ``prepare`` may look up, at plan time only.

    It offers the registry's catalogs read-only: named models, and any family's
    catalog (``ctx.catalog(EDIT_TYPES)``). ``where`` is the stage being prepared
    (``backend``), so errors can name their key: ``ctx.key("model")``.
    """

    registry: PlanLookups = attrs.field(repr=False)
    where: str = ""
    #: The model the recipe's backend names (its ``model`` option, defaults included), or
    #: ``None`` when it names none (the fake). Generators whose best path depends on the
    #: model (``compose = "auto"``) choose by it; a backend object handed to the run may
    #: serve another model, which the generator cannot know.
    backend_model: str | None = None

    @property
    def models(self) -> Mapping[str, ModelSpec]:
        """Every model registered through ``instructgen_models``, by name."""
        return self.registry.get_models()

    def catalog(self, catalog: Catalog[T]) -> Mapping[str, T]:
        """Every record of ``catalog``, by name (a family's own catalog, say edit types)."""
        return self.registry.catalog(catalog)

    @property
    def hook(self) -> Any:
        """The registry's hooks (pluggy's hook relay), as pytest's ``config.hook``: for a
        family that gathers what other families declare for it at plan time (the
        ``anyedit`` family calls ``instructgen_anyedit_contracts``)."""
        return self.registry.hook

    def key(self, option: str) -> str:
        """The recipe key path of one option of this stage (``backend.model``)."""
        return f"{self.where}.{option}" if self.where else option


@attrs.frozen
class RunInfo:
    """Facts about the run, handed to ``Source.setup`` and ``Generator.setup``."""

    run_dir: Path | None
    seed: int
    recipe_hash: str
    max_retries: int
    #: What the plan was resolved with: the registry's catalogs (models, edit types, ...)
    #: as ``resolve()`` saw them.
    context: BuildContext
    #: The run's structlog logger, so plugin messages follow ``-q`` and ``--log-format``.
    log: Log | None = None
