"""A deterministic backend for tests and dry runs: no model, same answers every time.

Answers come from, in order of precedence: a ``responder`` callable (library
use), ``responses`` (regex on the last user message → answer), scripted
``answers`` (in call order), or the rule: ``echo`` repeats the prompt and
``auto`` echoes plain requests and builds a schema-valid JSON value, seeded by
the request, for constrained ones.
"""

from __future__ import annotations

import collections
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs

from instructgen.records import BackendIdentity, Completion, LLMRequest, stable_hash

from .base import Backend, first_stop, json_completion

Responder = Callable[[LLMRequest], "str | Completion"]
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@attrs.frozen
class FakeOptions:
    """Options of the ``fake`` backend."""

    #: ``auto``: schema-valid JSON for constrained requests, echo otherwise; ``echo``: always echo.
    rule: Literal["auto", "echo"] = "auto"
    #: Regex (searched in the last user message) → answer text.
    responses: dict[str, str] = attrs.field(factory=dict)
    #: Answers handed out in call order, before the rule applies.
    answers: list[str] = attrs.field(factory=list)
    #: Seconds to sleep per batch, to simulate a real model.
    delay: float = 0.0
    #: Context window in tokens (whitespace words); longer prompts are refused.
    n_ctx: int = 8192
    #: How many recent calls ``calls`` keeps, so long runs stay in bounded memory.
    keep_calls: int = 256


class FakeBackend(Backend):
    """Deterministic stand-in for a model, recording every call it gets."""

    def __init__(self, options: FakeOptions | None = None, responder: Responder | None = None):
        self.options = options or FakeOptions()
        self.responder = responder
        self.calls: collections.deque[list[LLMRequest]] = collections.deque(
            maxlen=self.options.keep_calls)
        self._scripted = list(self.options.answers)
        self._compiled = [(re.compile(p), a) for p, a in self.options.responses.items()]
        self._lock = threading.Lock()

    @property
    def identity(self) -> BackendIdentity:
        settings = attrs.asdict(self.options)
        settings.pop("delay")
        settings.pop("keep_calls")
        if self.responder is not None:
            settings["responder"] = getattr(self.responder, "__qualname__", repr(self.responder))
        return BackendIdentity(name="fake", model="fake", settings=settings)

    @property
    def requests(self) -> list[LLMRequest]:
        """Every request received, flattened across calls."""
        return [r for call in self.calls for r in call]

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        from instructgen.errors import ContextOverflowError
        from instructgen.schema import check_schema

        for req in requests:  # like the real backends: refuse bad schemas before answering
            if req.schema is not None:
                check_schema(req.schema)
        with self._lock:
            self.calls.append(list(requests))
        if self.options.delay:
            time.sleep(self.options.delay)
        out = []
        for req in requests:
            prompt_tokens = sum(len(m.content.split()) for m in req.messages)
            if prompt_tokens > self.options.n_ctx:
                raise ContextOverflowError(
                    f"prompt of {prompt_tokens} tokens exceeds the fake backend's context size"
                    f" n_ctx={self.options.n_ctx}"
                )
            answer = self._answer(req)
            if isinstance(answer, Completion):
                out.append(answer)
                continue
            finish = "stop"
            cut = first_stop(answer, req.stop, 0)
            if cut is not None:
                answer = answer[:cut]
            words = answer.split(" ")
            if req.schema is None and len(words) > req.max_tokens:
                # Plain text is cut at max_tokens words, as a model runs out of tokens.
                answer, finish = " ".join(words[: req.max_tokens]), "length"
            out.append(
                attrs.evolve(
                    json_completion(answer, req.schema, finish_reason=finish),
                    prompt_tokens=prompt_tokens,
                    completion_tokens=len(answer.split()),
                )
            )
        return out

    def _answer(self, req: LLMRequest) -> str | Completion:
        if self.responder is not None:
            return self.responder(req)
        last_user = next((m.content for m in reversed(req.messages) if m.role == "user"), "")
        for pattern, answer in self._compiled:
            if pattern.search(last_user):
                return answer
        with self._lock:
            if self._scripted:
                return self._scripted.pop(0)
        if req.schema is not None and self.options.rule == "auto":
            rng = random.Random(f"{req.seed}:{stable_hash(last_user)}")
            words = _WORD.findall(last_user) or ["word"]
            return json.dumps(sample_instance(req.schema, rng, words), separators=(",", ":"))
        return "echo: " + " ".join(last_user.split())


def sample_instance(schema: Mapping[str, Any], rng: random.Random, words: Sequence[str]) -> Any:
    """A value valid against ``schema``, built from ``words`` with ``rng``."""
    if "anyOf" in schema:
        return sample_instance(rng.choice(schema["anyOf"]), rng, words)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: sample_instance(sub, rng, words) for k, sub in props.items()}
    if kind == "array":
        lo = schema.get("minItems", 1)
        hi = max(lo, min(schema.get("maxItems", lo + 3), lo + 3))
        count = rng.randint(lo, hi)
        return [sample_instance(schema.get("items", {}), rng, words) for _ in range(count)]
    if kind == "integer":
        return rng.randint(int(schema.get("minimum", 0)), int(schema.get("maximum", 9)))
    if kind == "number":
        return round(rng.uniform(schema.get("minimum", 0), schema.get("maximum", 1)), 3)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    n = rng.randint(2, 5)
    text = " ".join(rng.choice(words) for _ in range(n))
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    if hi is not None:
        text = text[:hi].rstrip() or text[:hi]
    return text.ljust(lo, "x")
