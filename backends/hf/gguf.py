"""GGUF files for the transformers backend: dequantized once, then read as a checkpoint.

The first load parses the GGUF (one parse for config, tokenizer and weights,
see :func:`parse_once`) and saves the dequantized checkpoint under
:func:`~instructgen.backends.models.converted_cache_dir`, keyed by the file's
sha256, the transformers version and the dtype; later loads read that folder.
Concurrent first loads (replicas, actors on one node) convert once under a file
lock while the others wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from instructgen.backend import file_sha256

from ..models import converted_cache_dir

#: Written last into a converted folder: what it was made from (and that it is complete).
CONVERTED_META = "instructgen-converted.json"
_PARSE_LOCK = threading.Lock()
_Loaded = tuple[Any, Any, str, "Path | None"]


def _gguf_file_type(path: Path) -> str:
    """Quantization name stored in a GGUF header (``general.file_type``).

    Called inside :func:`parse_once`, so it reuses the parse transformers made.
    """
    try:
        import gguf

        reader = gguf.GGUFReader(str(path))
        field = reader.fields.get("general.file_type")
        if field is None:
            return "gguf"
        value = int(field.parts[field.data[0]][0])
        return gguf.LlamaFileType(value).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (ImportError, ValueError, KeyError, IndexError):
        return "gguf"


def converted_folder(sha256: str, transformers_version: str, dtype: str) -> Path:
    """Cache folder of one GGUF (by content) converted by one transformers version."""
    return converted_cache_dir() / f"{sha256[:32]}-transformers-{transformers_version}-{dtype}"


def load_gguf(transformers: Any, path: Path, dtype: Any, load: dict[str, Any]) -> _Loaded:
    """Tokenizer, model, file type and cache folder of a GGUF: from the cache, else converted.

    The first load takes an exclusive lock on the folder's lock file, so
    concurrent first loads on one machine convert once and the others read the
    result. A cache that cannot be written only costs converting again.
    """
    dtype_name = str(dtype).removeprefix("torch.")
    folder = converted_folder(file_sha256(path), transformers.__version__, dtype_name)
    found = _read_converted(transformers, folder, dtype, load)
    if found is not None:
        return found
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = (folder.parent / f".{folder.name}.lock").open("a")
    except OSError as exc:
        warnings.warn(f"cannot use the converted-GGUF cache {folder.parent} ({exc}); "
                      f"converting {path.name} in memory, again on every load",
                      RuntimeWarning, stacklevel=2)
        return _convert(transformers, path, dtype, load, None)
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process converting: wait for its result
        found = _read_converted(transformers, folder, dtype, load)
        if found is not None:
            return found
        if folder.exists():  # damaged (a file deleted by hand): convert it again
            shutil.rmtree(folder, ignore_errors=True)
        return _convert(transformers, path, dtype, load, folder)


def _read_converted(transformers: Any, folder: Path, dtype: Any,
                    load: dict[str, Any]) -> _Loaded | None:
    try:
        meta = json.loads((folder / CONVERTED_META).read_text())
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), **load)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, **load)
    except (OSError, ValueError):
        return None
    return tokenizer, model, str(meta.get("file_type") or "gguf"), folder


def _convert(transformers: Any, path: Path, dtype: Any, load: dict[str, Any],
             folder: Path | None) -> _Loaded:
    """Load the GGUF with one parse; save the checkpoint atomically into ``folder``."""
    where, gguf = {**load, "gguf_file": path.name}, str(path.parent)
    with parse_once():
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf, dtype=dtype, **where)
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf, **where)
        file_type = _gguf_file_type(path)
    if folder is None:
        return tokenizer, model, file_type, None
    # The dequantized model is an ordinary dense one; the GGUF quantizer only refuses saving.
    model.hf_quantizer = None
    with contextlib.suppress(AttributeError):
        del model.config.quantization_config
    tmp = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        meta = {"source": str(path), "sha256": file_sha256(path), "file_type": file_type,
                "transformers": transformers.__version__,
                "dtype": str(dtype).removeprefix("torch.")}
        (tmp / CONVERTED_META).write_text(json.dumps(meta, indent=1) + "\n")
        os.rename(tmp, folder)
    except OSError as exc:  # a full or read-only disk: the model in memory still serves
        shutil.rmtree(tmp, ignore_errors=True)
        warnings.warn(f"could not save the converted {path.name} to {folder}: {exc}; "
                      "the next load converts it again", RuntimeWarning, stacklevel=2)
        return tokenizer, model, file_type, None
    return tokenizer, model, file_type, folder


@contextlib.contextmanager
def parse_once() -> Iterator[None]:
    """Within this block a GGUF file is parsed once, however often it is opened.

    transformers opens the file separately for the config, the tokenizer and
    the weights (each parse walks the whole vocabulary), and rebuilds gguf's
    tensor-name table per tensor; both are pure functions of their arguments.
    """
    import gguf

    class SharedReader(gguf.GGUFReader):  # type: ignore[misc,name-defined]
        parsed: ClassVar[dict[tuple[str, tuple[Any, ...]], Any]] = {}

        def __new__(cls, path: Any, *args: Any, **kwargs: Any) -> Any:
            hit = cls.parsed.get(_reader_key(path, args, kwargs))
            return hit if hit is not None else super().__new__(cls)

        def __init__(self, path: Any, *args: Any, **kwargs: Any) -> None:
            key = _reader_key(path, args, kwargs)
            if self.parsed.get(key) is self:
                return
            super().__init__(path, *args, **kwargs)
            self.parsed[key] = self

    with _PARSE_LOCK:
        saved = gguf.GGUFReader, gguf.get_tensor_name_map
        gguf.GGUFReader = SharedReader  # type: ignore[misc]
        gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(saved[1])
        try:
            yield
        finally:
            gguf.GGUFReader, gguf.get_tensor_name_map = saved  # type: ignore[misc]
            SharedReader.parsed.clear()


def _reader_key(path: Any, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    return os.path.realpath(path), (*args, *sorted(kwargs.items()))

