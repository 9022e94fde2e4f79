"""instructgen: diverse image-editing instructions and captions from local LLMs.

Embed it as a library::

    import instructgen
    summary = instructgen.run("recipe.toml", plugins=[my_plugin])
    for record in instructgen.iter_records("recipe.toml"):
        ...
"""

from __future__ import annotations

from .backend import BackendIdentity, Completion, LLMRequest, Message
from .errors import InvalidOutput, Reject, UserError
from .manager import hookimpl, make_registry
from .plugin import (
    BackendPlugin,
    CommandSpec,
    Generator,
    GeneratorPlugin,
    ModelSpec,
    NoOptions,
    PostProcessor,
    PostProcessorPlugin,
    Sink,
    SinkPlugin,
    Source,
    SourcePlugin,
)
from .records import OutputRecord, Rejection, SourceItem
from .version import __version__


def run(recipe, plugins=(), **kwargs):  # type: ignore[no-untyped-def]
    """Run a recipe (path or mapping) to completion; see :func:`instructgen.api.run`."""
    from .api import run as _run

    return _run(recipe, plugins=plugins, **kwargs)


def iter_records(recipe, plugins=(), **kwargs):  # type: ignore[no-untyped-def]
    """Stream the records of a recipe; see :func:`instructgen.api.iter_records`."""
    from .api import iter_records as _iter

    return _iter(recipe, plugins=plugins, **kwargs)


__all__ = [
    "BackendIdentity",
    "BackendPlugin",
    "CommandSpec",
    "Completion",
    "Generator",
    "GeneratorPlugin",
    "InvalidOutput",
    "LLMRequest",
    "Message",
    "ModelSpec",
    "NoOptions",
    "OutputRecord",
    "PostProcessor",
    "PostProcessorPlugin",
    "Reject",
    "Rejection",
    "Sink",
    "SinkPlugin",
    "Source",
    "SourceItem",
    "SourcePlugin",
    "UserError",
    "__version__",
    "hookimpl",
    "iter_records",
    "make_registry",
    "run",
]
