"""The frozen records that flow between stages: source → generator → sink.

Every record converts to and from plain JSON through :data:`converter`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import cattrs
from attrs import field, frozen

#: Key under which a source item keeps fields that no plugin asked for.
EXTRA_KEY = "extra"

FinishReason = Literal["stop", "length", "error"]


def as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """An attrs converter to a tuple that mypy's attrs plugin can read (``tuple`` itself
    leaves the item type unsolved); the field's annotation says the item type."""
    return tuple(value)


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
class SourceItem:
    """One unit of work read from a source.

    ``id`` is stable across runs (it seeds the item and keys resume);
    ``data`` holds the fields generators read; ``extra`` keeps every other field
    of the input row so nothing is dropped on the way to the output.
    """

    id: str
    data: Mapping[str, Any]
    source: str = ""
    extra: Mapping[str, Any] = field(factory=dict)


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


@frozen
class Provenance:
    """Where an output record came from, enough to reproduce it."""

    recipe_hash: str
    plugins: Mapping[str, str]
    backend: BackendIdentity | None
    seed: int
    item_seed: int


@frozen
class OutputRecord:
    """One finished record as written by a sink.

    ``data`` is the generator's payload (snake_case keys); ``item_id`` ties it
    back to its source item; ``extra`` carries the item's unknown fields.
    """

    id: str
    item_id: str
    generator: str
    data: Mapping[str, Any]
    provenance: Provenance | None = None
    extra: Mapping[str, Any] = field(factory=dict)


@frozen
class Rejection:
    """A record or item that did not make it, and why."""

    item_id: str
    stage: str
    plugin: str
    reason: str
    detail: str = ""
    raw: str | None = None
    data: Mapping[str, Any] | None = None


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(tuple, list)
    return conv


#: The converter for records (not for recipes: those use a stricter one).
converter = _make_converter()


def to_json(record: Any) -> str:
    """Serialise a record as one compact JSON line (no trailing newline)."""
    return json.dumps(converter.unstructure(record), ensure_ascii=False, separators=(",", ":"))


def from_json(text: str | bytes, cls: type) -> Any:
    """Rebuild a record of ``cls`` from :func:`to_json` output."""
    return converter.structure(json.loads(text), cls)


def stable_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, compact)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def messages(*pairs: tuple[str, str]) -> tuple[Message, ...]:
    """Shorthand: ``messages(("system", s), ("user", u))``."""
    return _messages(pairs)


__all__ = [
    "EXTRA_KEY",
    "BackendIdentity",
    "Completion",
    "LLMRequest",
    "Message",
    "OutputRecord",
    "Provenance",
    "Rejection",
    "SourceItem",
    "as_tuple",
    "from_json",
    "messages",
    "stable_hash",
    "to_json",
]
