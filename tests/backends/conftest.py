"""Backends under test: fake and the docs' markov example always; llamacpp, transformers
and openai with the embedded model.

The openai backend talks to llama-cpp-python's own OpenAI-compatible server,
started once per session on 127.0.0.1 (``llama_server``).

Real backends are built once per session (loading is the slow part) with a
small context window so the overflow test stays cheap, and with fewer
parallel slots than the 32-request batch so queueing/chunking is exercised.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from instructgen.backend import Backend
from instructgen.backends import FakeBackend, FakeOptions
from instructgen.backends.models import embedded_model_path

N_CTX = 512
#: The backend docs/writing-backends.md builds, which must pass this suite too.
MARKOV_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backends" / "markov.py"
#: The backends that run a language model, so their answers follow the prompt's meaning.
LANGUAGE_MODELS = ("llamacpp", "transformers", "openai")


def load_markov_example() -> ModuleType:
    """The docs' example backend module, imported from its file as a user's plugin would be."""
    spec = importlib.util.spec_from_file_location("markov_example", MARKOV_EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # our own example file, imported like any module
    return module


def _missing(*modules: str) -> str | None:
    for mod in modules:
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed"
    if embedded_model_path() is None:
        return "the embedded model is not installed (pip install 'instructgen[models]')"
    return None


@pytest.fixture(scope="session")
def context_size() -> int:
    """The context window every backend under test is built with."""
    return N_CTX


@pytest.fixture(scope="session")
def llamacpp_backend() -> Iterator[Backend]:
    reason = _missing("llama_cpp", "llguidance")
    if reason:
        pytest.skip(reason)
    from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

    backend = LlamaCppBackend(LlamaCppOptions(n_ctx=N_CTX, n_seq_max=8))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def transformers_backend() -> Iterator[Backend]:
    reason = _missing("torch", "transformers", "gguf", "llguidance")
    if reason:
        pytest.skip(reason)
    from instructgen.backends.hf import TransformersBackend, TransformersOptions

    backend = TransformersBackend(TransformersOptions(n_ctx=N_CTX, batch_size=16, device="cpu"))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's server with the embedded model; its base URL (ends in /v1)."""
    from instructgen.backends.openai.local import SERVER_MODULES, llama_cpp_server

    reason = _missing("httpx", *SERVER_MODULES)
    if reason:
        pytest.skip(f"{reason}: pip install 'instructgen[test]' for llama-cpp-python's server")
    with llama_cpp_server(embedded_model_path(), n_ctx=N_CTX) as url:
        yield url


@pytest.fixture(scope="session")
def openai_backend(llama_server: str) -> Iterator[Backend]:
    from instructgen.backends.openai import OpenAIBackend, OpenAIOptions

    # llama-cpp-python takes schemas as response_format {"type": "json_object", "schema": ...}.
    backend = OpenAIBackend(OpenAIOptions(base_url=llama_server, schema_mode="json_object",
                                          max_concurrency=8))
    yield backend
    backend.close()


@pytest.fixture(
    params=[
        "fake",
        "markov",
        pytest.param("llamacpp", marks=pytest.mark.model),
        pytest.param("transformers", marks=pytest.mark.model),
        pytest.param("openai", marks=pytest.mark.model),
    ]
)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend of the conformance suite in turn."""
    if request.param == "fake":
        return FakeBackend(FakeOptions(n_ctx=N_CTX))
    if request.param == "markov":
        markov = load_markov_example()
        return markov.MarkovBackend(markov.MarkovOptions(n_ctx=N_CTX))
    return request.getfixturevalue(f"{request.param}_backend")


@pytest.fixture
def language_model(backend: Backend) -> bool:
    """Whether ``backend`` runs a language model: checks of what an answer means apply."""
    return backend.identity.name in LANGUAGE_MODELS
