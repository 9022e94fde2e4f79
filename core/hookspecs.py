"""The core hooks. Implement them with :data:`instructgen.hookimpl`.

Registration hooks yield frozen records (``yield SourcePlugin(...)``); they are
called once when the plugin registry is built. Lifecycle hooks are called by
the runner, through the registry's typed methods. A plugin family declares its
own hooks in its own ``hookspecs`` module and adds them through
:func:`instructgen_addhooks` (the edits family's ``instructgen_edit_types``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .counters import RunSummary
    from .plugin import (
        BackendPlugin,
        CommandSpec,
        GeneratorPlugin,
        ModelSpec,
        PostProcessorPlugin,
        SinkPlugin,
        SourcePlugin,
    )
    from .review import RecordReview
    from .rundir import Manifest

_hookspec = pluggy.HookspecMarker("instructgen")


@_hookspec(historic=True)
def instructgen_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Add a plugin family's own hookspecs when the family registers (historic).

    .. code-block:: python

        from my_family import hookspecs

        @hookimpl
        def instructgen_addhooks(pluginmanager):
            pluginmanager.add_hookspecs(hookspecs)
    """


@_hookspec
def instructgen_commands() -> Iterable[CommandSpec]:
    """Add command groups to the ``instructgen`` command line.

    ``register`` gets argparse's sub-parsers object and adds one parser named like
    the record, with ``func`` set on each command (it receives the parsed args; the
    run's registry is ``args.registry``).

    .. code-block:: python

        @hookimpl
        def instructgen_commands():
            yield CommandSpec(name="pools", description="pool file tools",
                              register=add_pool_commands)
    """
    yield from ()


@_hookspec
def instructgen_sources() -> Iterable[SourcePlugin]:
    """Register sources, which read items from datasets.

    .. code-block:: python

        @hookimpl
        def instructgen_sources():
            yield SourcePlugin(name="my_csv", description="Rows of my CSV",
                               options=MyCsvOptions, factory=MyCsvSource)
    """
    yield from ()


@_hookspec
def instructgen_generators() -> Iterable[GeneratorPlugin]:
    """Register generators, which turn an item into records by asking the model.

    .. code-block:: python

        @hookimpl
        def instructgen_generators():
            yield GeneratorPlugin(name="shout", description="Upper-case captions",
                                  options=NoOptions, factory=lambda opts: Shout())
    """
    yield from ()


@_hookspec
def instructgen_postprocessors() -> Iterable[PostProcessorPlugin]:
    """Register post-processors, which check, rewrite or drop finished records.

    .. code-block:: python

        @hookimpl
        def instructgen_postprocessors():
            yield PostProcessorPlugin(name="no_digits", description="Drop digits",
                                      options=NoOptions, factory=lambda o: NoDigits())
    """
    yield from ()


@_hookspec
def instructgen_sinks() -> Iterable[SinkPlugin]:
    """Register sinks, which write accepted records.

    .. code-block:: python

        @hookimpl
        def instructgen_sinks():
            yield SinkPlugin(name="tsv", description="Tab-separated captions",
                             options=NoOptions, factory=lambda o: TsvSink())
    """
    yield from ()


@_hookspec
def instructgen_backends() -> Iterable[BackendPlugin]:
    """Register LLM backends.

    .. code-block:: python

        @hookimpl
        def instructgen_backends():
            yield BackendPlugin(name="vllm", description="vLLM offline engine",
                                options=VllmOptions, factory=VllmBackend)
    """
    yield from ()


@_hookspec
def instructgen_models() -> Iterable[ModelSpec]:
    """Register named models for ``backend.model = "name"``.

    .. code-block:: python

        @hookimpl
        def instructgen_models():
            yield ModelSpec(name="qwen2-0.5b", description="Qwen2 0.5B Q8",
                            resolve=lambda backend: Path("/models/qwen2.gguf"),
                            hint="put the GGUF at /models/qwen2.gguf")
    """
    yield from ()


@_hookspec
def instructgen_run_start(manifest: Manifest) -> None:
    """Called once a run has its manifest, before the first item.

    .. code-block:: python

        @hookimpl
        def instructgen_run_start(manifest):
            print("starting", manifest.run_dir, manifest.recipe_hash[:8])
    """


@_hookspec
def instructgen_run_end(manifest: Manifest, summary: RunSummary) -> None:
    """Called when a run stops, finished or interrupted; ``summary`` has the counts.

    .. code-block:: python

        @hookimpl
        def instructgen_run_end(manifest, summary):
            notify(f"{summary.accepted} records in {manifest.run_dir}")
    """


@_hookspec
def instructgen_review_record(review: RecordReview) -> None:
    """Observe, change or veto each record just before it is written.

    Hooks run in turn; each sees the record as the previous one left it.

    .. code-block:: python

        @hookimpl
        def instructgen_review_record(review):
            if "lorem" in review.record.data.get("caption", ""):
                review.veto("placeholder_text")
            else:
                review.replace(data={**review.record.data, "checked": True})
    """
