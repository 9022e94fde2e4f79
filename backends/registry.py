"""Registers the builtin backends and named models, as any plugin would.

The backend modules are imported here but import their heavy libraries
(llama-cpp-python, torch, transformers) only when a backend is built.
"""

from __future__ import annotations

from collections.abc import Iterator

from instructgen.manager import hookimpl
from instructgen.plugin import BackendPlugin, ModelSpec

from .fake import FakeBackend, FakeOptions
from .hf import TransformersBackend, TransformersOptions
from .llamacpp import LlamaCppBackend, LlamaCppOptions
from .models import builtin_models
from .openai import OpenAIBackend, OpenAIOptions


@hookimpl
def instructgen_backends() -> Iterator[BackendPlugin]:
    yield BackendPlugin(
        name="fake",
        description="Deterministic scripted answers, for tests and dry runs; no model.",
        options=FakeOptions,
        factory=FakeBackend,
    )
    yield BackendPlugin(
        name="llamacpp",
        description="GGUF models through llama.cpp, many sequences batched in one context.",
        options=LlamaCppOptions,
        factory=LlamaCppBackend,
    )
    yield BackendPlugin(
        name="openai",
        description="Any OpenAI-compatible chat-completions server: vLLM, SGLang, TGI, "
                    "llama-server, Ollama.",
        options=OpenAIOptions,
        factory=OpenAIBackend,
    )
    yield BackendPlugin(
        name="transformers",
        description="Hugging Face transformers models (folders, hub ids or GGUF), CUDA or CPU.",
        options=TransformersOptions,
        factory=TransformersBackend,
    )


@hookimpl
def instructgen_models() -> Iterator[ModelSpec]:
    yield from builtin_models()
