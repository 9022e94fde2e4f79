"""The backend contract: a batched ``generate`` and an identity.

Like ``llm.Model``, a backend is a small class with one required method::

    class MyBackend(Backend):
        def generate(self, requests):
            return [Completion(text=...) for r in requests]

        @property
        def identity(self):
            return BackendIdentity(name="mine", model="m.gguf")
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from instructgen.errors import ContextOverflowError
from instructgen.records import BackendIdentity, Completion, LLMRequest
from instructgen.schema import parse_json


class Backend(ABC):
    """Turns a batch of requests into completions, in the same order."""

    #: True when the same request with the same seed gives the same answer.
    deterministic: ClassVar[bool] = True

    @abstractmethod
    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer every request; ``len(result) == len(requests)``, same order."""

    @property
    @abstractmethod
    def identity(self) -> BackendIdentity:
        """Name, model, weights hash and output-changing settings."""

    def close(self) -> None:  # noqa: B027 - optional
        """Free the model; called once at the end of a run."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def checked_prompts(
    backend: str,
    requests: Sequence[LLMRequest],
    tokenize: Callable[[LLMRequest], list[int]],
    n_ctx: int,
) -> list[list[int]]:
    """Tokenize every prompt and refuse, before any decoding, what cannot run.

    A bad schema raises :class:`SchemaError`; a prompt that leaves no room for
    an answer raises :class:`ContextOverflowError` naming ``n_ctx``.
    """
    from .constrain import compile_schema

    prompts = []
    for i, req in enumerate(requests):
        if req.schema is not None:
            compile_schema(req.schema)
        tokens = tokenize(req)
        if len(tokens) >= n_ctx:
            raise ContextOverflowError(
                f"request {i}: prompt of {len(tokens)} tokens does not fit the {backend} context"
                f" window n_ctx={n_ctx} (it needs room for at least one answer token);"
                f" raise n_ctx or shorten the prompt"
            )
        prompts.append(tokens)
    return prompts


def first_stop(text: str, stop: Sequence[str], checked: int) -> int | None:
    """Where the earliest stop string starts in ``text``, or ``None``.

    ``checked`` is how much of ``text`` was already searched; only the tail
    that a stop string could newly complete is scanned, so streaming stays linear.
    """
    longest = max((len(s) for s in stop), default=0)
    start = max(0, checked - longest + 1)
    cuts = [i for s in stop if s and (i := text.find(s, start)) >= 0]
    return min(cuts) if cuts else None


def json_completion(
    text: str,
    schema: Any,
    *,
    finish_reason: str = "stop",
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    prompt_tokens_decoded: int | None = None,
) -> Completion:
    """Build a completion, parsing ``text`` when the request had a schema.

    ``parsed`` stays ``None`` when the text is not valid against the schema;
    the runner then treats the answer as invalid and retries.
    """
    parsed = None
    if schema is not None:
        value, problem = parse_json(text, schema)
        parsed = value if problem is None else None
    return Completion(
        text=text,
        parsed=parsed,
        finish_reason=finish_reason,  # type: ignore[arg-type]
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        prompt_tokens_decoded=prompt_tokens_decoded,
    )


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a weights file, computed once per (path, size, mtime).

    The result is remembered in memory and in a small JSON file under
    ``$XDG_CACHE_HOME/instructgen`` so a 5 GB model is hashed once, not per run.
    """
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key in _SHA_MEMO:
        return _SHA_MEMO[key]
    store = _sha_store()
    disk_key = f"{key[0]}|{key[1]}|{key[2]}"
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    digest = known.get(disk_key)
    if not digest:
        h = hashlib.sha256()
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = h.hexdigest()
        known[disk_key] = digest
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(known, indent=0))
            os.replace(tmp, store)
        except OSError:
            pass  # a read-only home only costs a re-hash next time
    _SHA_MEMO[key] = digest
    return digest


def _sha_store() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "instructgen" / "sha256.json"
