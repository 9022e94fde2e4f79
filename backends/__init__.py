"""LLM backends: the fake backend, llama.cpp, transformers and OpenAI.

The contract they implement is core's (:mod:`instructgen.backend`). This package's
``__init__`` holds the backends' hook implementations, like every builtin plugin
family: the backend records (with their crash hints), the named models and the
``models`` command, registered as any plugin would (block them with
``-p no:backends``). The backend modules are imported here but import their heavy
libraries (llama-cpp-python, torch, transformers) only when a backend is built.
The llamacpp and transformers records resolve ``model`` at plan time, against the
run's registry (so a model registered through ``plugins=[...]`` is found); their
factories receive a local path, or ``hf:<id>`` for a hub id the user named.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs

from instructgen.errors import ModelNotFoundError
from instructgen.manager import hookimpl
from instructgen.plugin import BackendPlugin, CommandSpec, ModelSpec

from . import cli
from .fake import FakeBackend, FakeOptions
from .hf import TransformersBackend, TransformersOptions
from .llamacpp import LlamaCppBackend, LlamaCppOptions
from .models import HUB_PREFIX, builtin_models, resolve_model
from .native import EXTRA_BUFFERS_FIX
from .openai import OpenAIBackend, OpenAIOptions

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext

__all__ = ["FakeBackend", "FakeOptions"]

Opts = TypeVar("Opts", LlamaCppOptions, TransformersOptions)


def prepare_model(backend: str, options: Opts, ctx: BuildContext) -> Opts:
    """``options`` with ``model`` resolved to a local path (or ``hf:<id>``) for ``backend``.

    A model that is not here is a recipe error naming ``backend.model``.
    """
    try:
        found = resolve_model(ctx.models, options.model, backend)
    except ModelNotFoundError as exc:
        raise ModelNotFoundError(f"{ctx.key('model')}: {exc}") from None
    model = str(found) if isinstance(found, Path) else f"{HUB_PREFIX}{found}"
    return attrs.evolve(options, model=model)


def _scores(options: object) -> frozenset[str]:
    """Local backends read the logits, so they answer scored requests (``choices``)."""
    return frozenset({"scores"})


#: What a worker's death by each signal most likely means, per library (the generic
#: hints of :func:`instructgen.backend.crash_hint` cover the rest, SIGKILL first).
_LLAMA_CRASH = ("a crash inside llama.cpp: set the llamacpp option extra_buffers = false, or "
                "reinstall llama-cpp-python; verbose = true shows llama.cpp's own log")
LLAMACPP_CRASH_HINTS = {
    "SIGILL": f"this CPU refuses an instruction llama.cpp was built for: {EXTRA_BUFFERS_FIX}",
    **dict.fromkeys(("SIGSEGV", "SIGBUS", "SIGABRT", "SIGFPE"), _LLAMA_CRASH),
}
TRANSFORMERS_CRASH_HINTS = dict.fromkeys(
    ("SIGILL", "SIGSEGV", "SIGBUS", "SIGABRT"),
    "a crash inside torch: reinstall torch built for this machine, or try device = \"cpu\"")


@hookimpl
def instructgen_backends() -> Iterator[BackendPlugin]:
    yield BackendPlugin(
        name="fake",
        description="Deterministic scripted answers, for tests and dry runs; no model.",
        options=FakeOptions,
        factory=FakeBackend,
        provides=lambda options: frozenset({"scores"} if options.scores else ()),
    )
    yield BackendPlugin(
        name="llamacpp",
        description="GGUF models through llama.cpp, many sequences batched in one context.",
        options=LlamaCppOptions,
        factory=LlamaCppBackend,
        prepare=functools.partial(prepare_model, "llamacpp"),
        provides=_scores,
        crash_hints=LLAMACPP_CRASH_HINTS,
    )
    yield BackendPlugin(
        name="openai",
        description="Any OpenAI-compatible chat-completions server: vLLM, SGLang, TGI, "
                    "llama-server, Ollama.",
        options=OpenAIOptions,
        factory=OpenAIBackend,
        provides=lambda options: frozenset(),  # a server gives no logits of our choosing
    )
    yield BackendPlugin(
        name="transformers",
        description="Hugging Face transformers models (folders, hub ids or GGUF), CUDA or CPU.",
        options=TransformersOptions,
        factory=TransformersBackend,
        prepare=functools.partial(prepare_model, "transformers"),
        provides=_scores,
        crash_hints=TRANSFORMERS_CRASH_HINTS,
    )


@hookimpl
def instructgen_models() -> Iterator[ModelSpec]:
    yield from builtin_models()


@hookimpl
def instructgen_commands() -> Iterator[CommandSpec]:
    yield CommandSpec(name="models", register=cli.register,
                      description="list named models and whether they are present")
