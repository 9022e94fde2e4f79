"""The backend contract: a batched ``generate``, an identity, and what a crash means.

Like ``llm.Model``, a backend is a small class with one required method::

    class MyBackend(Backend):
        def generate(self, requests):
            return [Completion(text=...) for r in requests]

        @property
        def identity(self):
            return BackendIdentity(name="mine", model="m.gguf")

It lives in core, beside the other plugin contracts (:mod:`instructgen.plugin`), so
the run machinery never imports a backend family: ``-p no:backends`` leaves the
contract in place, and a third-party backend needs nothing from
``instructgen.backends``. The requests and answers are defined here too:
:class:`LLMRequest` (chat :class:`Message` turns and sampling settings),
:class:`Completion` and :class:`BackendIdentity`. They import nothing from the
records of :mod:`instructgen.records`; a record's provenance imports the identity
from here.

:class:`Backend` declares exactly what the run machinery reads off a backend
(``generate``, ``identity``, ``concurrency``, ``close``). A request with
``choices`` asks for first-token scores instead of text (the edit judge's
``score`` mode); it travels the normal path (cache, scheduler, replicas, Ray),
and a backend that cannot score refuses it with :func:`refuse_choices`.

A backend plugin may also declare crash hints (``BackendPlugin.crash_hints``):
the likely fix for a worker that died by a given signal. :func:`crash_hint`
reads them, with :data:`GENERIC_CRASH_HINTS` behind, so the replica pool names
a fix without knowing which library it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from attrs import field, frozen

from .canonical import converter, stable_hash
from .errors import UserError
from .schema import parse_json

__all__ = [
    "GENERIC_CRASH_HINTS",
    "Backend",
    "BackendIdentity",
    "Completion",
    "CrashHints",
    "FinishReason",
    "FirstTokenScorer",
    "LLMRequest",
    "Message",
    "ScoringUnsupportedError",
    "crash_hint",
    "file_sha256",
    "generate_split",
    "json_completion",
    "messages",
    "refuse_choices",
    "scored_completion",
    "signal_text",
]

FinishReason = Literal["stop", "length", "error"]


# -- requests and answers ---------------------------------------------------------------

def _strings(value: Any) -> tuple[str, ...]:
    """One string or several, as a tuple."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _choices(value: Any) -> dict[str, tuple[str, ...]] | None:
    if value is None:
        return None
    out = {str(label): _strings(texts) for label, texts in dict(value).items()}
    if not out or not all(out.values()):
        raise ValueError(f"choices: every label needs at least one text, got {out!r}")
    return out


def _messages(value: Any) -> tuple[Message, ...]:
    out = []
    for m in value:
        if isinstance(m, Message):
            out.append(m)
        elif isinstance(m, Mapping):
            out.append(Message(role=m["role"], content=m["content"]))
        else:
            role, content = m
            out.append(Message(role=role, content=content))
    return tuple(out)


@frozen
class Message:
    """One chat turn."""

    role: Literal["system", "user", "assistant"]
    content: str


@frozen
class LLMRequest:
    """What a generator asks a backend. Hashable into a cache key."""

    messages: tuple[Message, ...] = field(converter=_messages)
    max_tokens: int = 128
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 40
    #: ``None`` lets the runner derive one from the item seed and attempt.
    seed: int | None = None
    stop: tuple[str, ...] = field(default=(), converter=_strings)
    schema: Mapping[str, Any] | None = None
    #: Score instead of generate: label -> texts that spell it. The answer is each
    #: label's first-token probability (``Completion.scores``), not sampled text, so
    #: ``max_tokens``, sampling, ``stop`` and ``seed`` do not apply; a schema is refused.
    choices: Mapping[str, tuple[str, ...]] | None = field(default=None, converter=_choices)

    def __attrs_post_init__(self) -> None:
        if self.choices is not None and self.schema is not None:
            raise ValueError("an LLMRequest has either choices (scored) or a schema, not both")

    def cache_payload(self) -> list[Any]:
        """Everything about the request that can change the answer (hot path: no cattrs)."""
        payload = [
            [[m.role, m.content] for m in self.messages],
            self.max_tokens, self.temperature, self.top_p, self.top_k, self.seed,
            list(self.stop),
            # Text, not a dict: stable_hash sorts dict keys, but the order of a
            # schema's properties changes the answer (keys are written in it).
            None if self.schema is None else json.dumps(self.schema, ensure_ascii=False),
        ]
        if self.choices is not None:  # appended, so keys of plain requests stay as they were
            payload.append([[label, list(texts)] for label, texts in self.choices.items()])
        return payload


@frozen
class Completion:
    """A backend's answer to one request."""

    text: str
    parsed: Any = None
    finish_reason: FinishReason = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    #: Prompt tokens the backend actually decoded; fewer than ``prompt_tokens`` when
    #: it reused a shared prefix's KV cache. ``None``: all of them.
    prompt_tokens_decoded: int | None = None
    #: For a request with ``choices``: each label's log-probability as the answer's
    #: first token, normalised over the labels (``text`` is the most probable label).
    scores: Mapping[str, float] | None = None


@frozen
class BackendIdentity:
    """Who answered: part of every cache key and every manifest."""

    name: str
    model: str
    sha256: str = ""
    quantization: str = ""
    settings: Mapping[str, Any] = field(factory=dict)

    def key(self) -> str:
        return stable_hash(converter.unstructure(self))



def messages(*pairs: tuple[str, str]) -> tuple[Message, ...]:
    """Shorthand: ``messages(("system", s), ("user", u))``."""
    return _messages(pairs)


# -- the contract -----------------------------------------------------------------------


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


def scored_completion(scores: Mapping[str, float], *, prompt_tokens: int = 0,
                      prompt_tokens_decoded: int | None = None) -> Completion:
    """The answer to a scored request: ``text`` is the most probable label (first on ties)."""
    best = max(scores, key=lambda label: scores[label])
    return Completion(text=best, scores=dict(scores), prompt_tokens=prompt_tokens,
                      prompt_tokens_decoded=prompt_tokens_decoded)


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


# -- identity ---------------------------------------------------------------------------

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
        known: dict[str, str] = json.loads(store.read_text())
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


# -- crashes ----------------------------------------------------------------------------

#: ``BackendPlugin.crash_hints``: signal name (``"SIGILL"``) -> the likely fix when a
#: worker of that backend dies by it.
CrashHints = Mapping[str, str]

#: What any backend's worker death most likely means, where its plugin says nothing:
#: by signal name, ``"*"`` for any other signal, ``""`` for an exit without a signal.
GENERIC_CRASH_HINTS: CrashHints = {
    "SIGKILL": "this is most often the out-of-memory killer (see dmesg): lower batch_size, "
               "n_ctx or n_seq_max, use fewer replicas or a smaller model",
    "SIGILL": "the model library was built for another CPU: reinstall it on this machine",
    "*": "a crash inside the model library: update or reinstall it",
    "": "the worker's own output above says why",
}

_SIGNAL_TEXT = {
    "SIGILL": "illegal instruction",
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "aborted",
    "SIGBUS": "bus error",
    "SIGFPE": "floating-point exception",
    "SIGKILL": "killed; often the out-of-memory killer",
    "SIGTERM": "terminated",
}


def signal_text(signum: int) -> str:
    """``"SIGILL (illegal instruction)"`` for a signal number."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
    what = _SIGNAL_TEXT.get(name)
    return f"{name} ({what})" if what else name


def crash_hint(signum: int | None, hints: CrashHints = GENERIC_CRASH_HINTS) -> str:
    """The likely fix for a backend worker that died by ``signum`` (None: no signal).

    ``hints`` are the backend plugin's own; the out-of-memory killer's hint comes
    first for every backend (a SIGKILL is the kernel's, never the library's), then
    the plugin's hint for that signal, then the generic one.
    """
    name = ""
    if signum is not None:
        with contextlib.suppress(ValueError):
            name = signal.Signals(signum).name
    if name == "SIGKILL":
        return GENERIC_CRASH_HINTS["SIGKILL"]
    if name in hints:
        return hints[name]
    if name in GENERIC_CRASH_HINTS:
        return GENERIC_CRASH_HINTS[name]
    return GENERIC_CRASH_HINTS["*"] if name else GENERIC_CRASH_HINTS[""]
