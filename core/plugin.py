"""What a plugin is: a frozen record per plugin, and the interface behind it.

A registration hook yields records such as::

    SourcePlugin(name="coco", description="COCO captions", options=CocoOptions,
                 factory=CocoSource)

``factory(options)`` builds the working object: a :class:`Source`,
:class:`Generator`, :class:`PostProcessor`, :class:`Sink` or
:class:`~instructgen.backends.Backend`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
from attrs import field, frozen

from .records import OutputRecord, SourceItem

if TYPE_CHECKING:
    from .context import ItemContext, RunInfo

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check_name(_inst: Any, _attr: Any, value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(f"plugin name {value!r} must be lowercase letters, digits and underscores")


@frozen
class NoOptions:
    """Options class for plugins that take none."""


@frozen(kw_only=True)
class PluginSpec:
    """Describes one plugin. Subclasses fix ``kind``."""

    kind: ClassVar[str] = "plugin"

    name: str = field(validator=_check_name)
    description: str
    factory: Callable[..., Any]
    options: type = NoOptions
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


@frozen(kw_only=True)
class GeneratorPlugin(PluginSpec):
    kind: ClassVar[str] = "generator"


@frozen(kw_only=True)
class PostProcessorPlugin(PluginSpec):
    kind: ClassVar[str] = "postprocessor"


@frozen(kw_only=True)
class SinkPlugin(PluginSpec):
    kind: ClassVar[str] = "sink"


@frozen(kw_only=True)
class BackendPlugin(PluginSpec):
    kind: ClassVar[str] = "backend"


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

    def encode(self, record: OutputRecord) -> str:
        raise NotImplementedError

    def open(self, path: Path) -> None:  # noqa: B027 - optional hook
        """Called before the first :meth:`encode` with the line file, already cut back
        to its committed length (empty on a fresh run), e.g. to read a header back."""

    def finalize(self, run_dir: Path, records: Callable[[], Iterator[OutputRecord]]) -> None:  # noqa: B027
        """Called once when the run has finished."""


@frozen
class ModelSpec:
    """A named model the registry can resolve to weights on this machine.

    ``resolve(backend)`` returns a local path for that backend ("llamacpp"
    wants a GGUF file; "transformers" a model folder or a GGUF), or ``None``
    when it is not here; ``hint`` tells the user how to get it.
    """

    name: str = field(validator=attrs.validators.matches_re(r"^[a-z0-9][a-z0-9._-]*$"))
    description: str
    resolve: Callable[[str], Path | None]
    hint: str
    backends: tuple[str, ...] = ("llamacpp", "transformers")
    hub_id: str | None = None
    sha256: str | None = None
