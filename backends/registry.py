"""Registers the builtin backends and named models, as any plugin would."""

from __future__ import annotations

from collections.abc import Iterator

from instructgen.manager import hookimpl
from instructgen.plugin import BackendPlugin, ModelSpec

from .fake import FakeBackend, FakeOptions


@hookimpl
def instructgen_backends() -> Iterator[BackendPlugin]:
    yield BackendPlugin(
        name="fake",
        description="Deterministic scripted answers, for tests and dry runs; no model.",
        options=FakeOptions,
        factory=FakeBackend,
    )


@hookimpl
def instructgen_models() -> Iterator[ModelSpec]:
    yield from ()
