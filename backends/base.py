"""The backend contract: a batched ``generate`` and an identity.

Like ``llm.Model``, a backend is a small class with one required method::

    class MyBackend(Backend):
        def generate(self, requests):
            return [Completion(text=...) for r in requests]

        @property
        def identity(self):
            return BackendIdentity(name="mine", model="m.gguf")

:class:`Backend` declares exactly what the run machinery reads off a backend
(``generate``, ``identity``, ``concurrency``, ``close``). A request with
``choices`` asks for first-token scores instead of text (the edit judge's
``score`` mode); it travels the normal path (cache, scheduler, replicas, Ray),
and a backend that cannot score refuses it with :func:`refuse_choices`. The
llamacpp and transformers backends also score one request on its own
(:class:`FirstTokenScorer`), the reference their batched path is tested against.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from instructgen.errors import ContextOverflowError, UserError
from instructgen.records import BackendIdentity, Completion, LLMRequest
from instructgen.schema import parse_json


class Backend(ABC):
    """Turns a batch of requests into completions, in the same order."""

    #: How many ``generate`` calls the scheduler may keep in flight at once, each
    #: from its own thread. 1 (the default) means calls come one after another, so
    #: a backend that is not thread-safe needs nothing. A backend that gains from
    #: parallel calls raises it: the openai backend to its ``max_concurrency``, the
    #: replica pool to its number of replicas. The runner also sizes its in-flight
    #: window from it (``2 x batch_size x concurrency``).
    concurrency: int = 1

    @abstractmethod
    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        """Answer every request; ``len(result) == len(requests)``, same order.

        The scheduler sends each batch here; retries of invalid answers come back
        as new requests with new seeds.
        """

    @property
    @abstractmethod
    def identity(self) -> BackendIdentity:
        """Name, model, weights hash and output-changing settings.

        The runner keys the call cache and the run manifest on it, and refuses to
        resume a run whose identity changed; a Ray actor checks it against the
        driver's, so every settings field that changes answers must be in it.
        """

    def close(self) -> None:  # noqa: B027 - optional
        """Free the model; called once, by whoever built the backend, at the end of a run."""

    def __enter__(self) -> Backend:
        """For library users and benchmarks: ``with Backend(...) as b`` closes ``b``."""
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@runtime_checkable
class FirstTokenScorer(Protocol):
    """A backend that can score one request's first answer token on its own.

    Not part of :class:`Backend`: only the local llamacpp and transformers backends
    can do it (an HTTP server gives no logits of our choosing). Runs score through
    ``generate`` with ``LLMRequest.choices`` (batched, cached); this single-request
    form is the reference that path is checked against.
    """

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each label in ``choices`` as the first answer token.

        ``choices`` maps a label to the texts that spell it; the result is
        normalised over the labels.
        """
        ...


class ScoringUnsupportedError(UserError):
    """A request asks for first-token scores (``LLMRequest.choices``) of a backend that has none."""


def refuse_choices(backend: str, requests: Sequence[LLMRequest], why: str = "") -> None:
    """Raise :class:`ScoringUnsupportedError` if any request asks for scores.

    Called before any answer is made, so a run stops at its first score request
    with one line (the CLI's exit 2) and keeps every record committed so far.
    """
    if any(r.choices is not None for r in requests):
        raise ScoringUnsupportedError(
            f"backend {backend} cannot score answers (first-token probabilities of fixed "
            f"labels, which generator.judge_format = \"score\" asks for){why}; use backend "
            f"llamacpp or transformers, or judge_format = \"json\" or \"text\"")


def generate_split(
    requests: Sequence[LLMRequest],
    generate: Callable[[list[int]], list[Completion]],
    score: Callable[[list[int]], list[Completion]],
) -> list[Completion]:
    """Answer the scored requests (with ``choices``) with ``score``, the rest with ``generate``.

    Each callable gets the indexes of its requests and answers them in that order;
    the answers come back merged in request order.
    """
    out: list[Completion | None] = [None] * len(requests)
    scored = [i for i, r in enumerate(requests) if r.choices is not None]
    plain = [i for i, r in enumerate(requests) if r.choices is None]
    for indexes, answer in ((plain, generate), (scored, score)):
        if indexes:
            for i, completion in zip(indexes, answer(indexes), strict=True):
                out[i] = completion
    return [c for c in out if c is not None]


def label_logprobs(logits: Any, firsts: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """Each label's log-probability from one position's ``logits`` (a 1-d float array).

    ``firsts`` maps a label to the distinct first tokens of the texts that spell it;
    a label's mass is the sum over them, normalised over the labels only.
    """
    import numpy as np  # with the llamacpp/transformers extras; kept out of plugin loading

    row = np.asarray(logits, dtype=np.float64)
    top = float(row.max())
    mass = {label: float(np.exp(row[list(ids)] - top).sum()) if ids else 0.0
            for label, ids in firsts.items()}
    total = sum(mass.values())
    if total <= 0:
        raise ValueError(f"no probability mass on any of the labels {sorted(firsts)}")
    return {label: math.log(m / total) if m > 0 else float("-inf") for label, m in mass.items()}


def scored_completion(scores: Mapping[str, float], *, prompt_tokens: int = 0,
                      prompt_tokens_decoded: int | None = None) -> Completion:
    """The answer to a scored request: ``text`` is the most probable label (first on ties)."""
    best = max(scores, key=lambda label: scores[label])
    return Completion(text=best, scores=dict(scores), prompt_tokens=prompt_tokens,
                      prompt_tokens_decoded=prompt_tokens_decoded)


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
