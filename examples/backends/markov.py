"""A toy backend for docs/writing-backends.md: a Markov chain over each request's own words.

It has no weights: every request trains a first-order chain on the words of its
messages and walks it. Small enough to read in one sitting, it still keeps the
whole backend contract (batches, seeds, stop strings, token limits, the context
window, JSON schemas), and it passes instructgen's backend conformance suite.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise
from typing import Any

import attrs

from instructgen import BackendPlugin, hookimpl
from instructgen.backend import (
    Backend,
    BackendIdentity,
    Completion,
    LLMRequest,
    json_completion,
    refuse_choices,
)
from instructgen.errors import ContextOverflowError, UserError
from instructgen.schema import check_schema

#: The JSON Schema keywords this backend can honour; a schema with others is refused.
SUPPORTED = frozenset({"type", "properties", "required", "additionalProperties", "enum",
                       "minLength", "maxLength", "minimum", "maximum", "description"})


@attrs.frozen
class MarkovOptions:
    """Options of the ``markov`` backend."""

    #: Context window in words; a longer prompt is refused before anything is answered.
    n_ctx: int = attrs.field(default=2048, validator=attrs.validators.ge(2))


class MarkovBackend(Backend):
    """Answers each request by walking a word chain trained on its messages."""

    def __init__(self, options: MarkovOptions | None = None) -> None:
        self.options = options or MarkovOptions()

    @property
    def identity(self) -> BackendIdentity:
        # Keys the call cache and the manifest: name every setting that changes answers.
        return BackendIdentity(name="markov", model="first-order word chain",
                               settings={"order": 1})

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        # Refuse what cannot run before answering anything, so no answer is wasted.
        refuse_choices("markov", requests)
        prompts = [words_of(request) for request in requests]
        for i, (request, words) in enumerate(zip(requests, prompts, strict=True)):
            if request.schema is not None:
                check_schema(request.schema)
                refuse_unsupported(request.schema)
            if len(words) >= self.options.n_ctx:
                raise ContextOverflowError(
                    f"request {i}: prompt of {len(words)} words does not fit the markov context"
                    f" window n_ctx={self.options.n_ctx}; raise n_ctx or shorten the prompt")
        return [self.answer(request, words)
                for request, words in zip(requests, prompts, strict=True)]

    def answer(self, request: LLMRequest, words: list[str]) -> Completion:
        """One request's answer; its seed alone decides every random choice."""
        chain = Chain(words)
        rng = random.Random(request.seed or 0)
        if request.schema is not None:
            text = json.dumps(fill(request.schema, chain, rng, request),
                              ensure_ascii=False, separators=(",", ":"))
            return json_completion(text, request.schema, prompt_tokens=len(words),
                                   completion_tokens=len(text.split()))
        last = request.messages[-1].content.split() or words
        start = last[0] if request.temperature == 0 else rng.choice(last)
        out: list[str] = []
        text, finish = "", "stop"  # a word with no successor ends the answer: "stop"
        for word in chain.walk(start, rng, request):
            if len(out) == request.max_tokens:
                finish = "length"
                break
            out.append(word)
            text = " ".join(out)
            cuts = [i for s in request.stop if s and (i := text.find(s)) >= 0]
            if cuts:
                text = text[: min(cuts)]
                break
        return json_completion(text, None, finish_reason=finish, prompt_tokens=len(words),
                               completion_tokens=len(out))


def words_of(request: LLMRequest) -> list[str]:
    """The prompt's tokens: every message's words, in order."""
    return [word for message in request.messages for word in message.content.split()]


class Chain:
    """Which word follows which, counted over one prompt."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.next: dict[str, Counter[str]] = {}
        for a, b in pairwise(words):
            self.next.setdefault(a, Counter())[b] += 1

    def walk(self, start: str, rng: random.Random, request: LLMRequest) -> Iterator[str]:
        """Words from ``start`` on: the most common successor at temperature 0, else a
        draw weighted by count ** (1 / temperature) among the ``top_k`` most common."""
        word: str | None = start
        while word is not None:
            yield word
            word = self.step(word, rng, request)

    def step(self, word: str, rng: random.Random, request: LLMRequest) -> str | None:
        ranked = self.next.get(word, Counter()).most_common(request.top_k or None)
        if not ranked:
            return None
        if request.temperature == 0:
            return ranked[0][0]
        weights = [count ** (1 / request.temperature) for _, count in ranked]
        return rng.choices([w for w, _ in ranked], weights=weights)[0]


def refuse_unsupported(schema: Mapping[str, Any], path: str = "$") -> None:
    """A one-line error for any keyword :func:`fill` would not honour."""
    unknown = sorted(set(schema) - SUPPORTED)
    if unknown:
        raise UserError(f"backend markov: schema {path} uses {', '.join(unknown)}, which "
                        f"this backend cannot honour")
    for name, sub in schema.get("properties", {}).items():
        refuse_unsupported(sub, f"{path}.{name}")


def fill(schema: Mapping[str, Any], chain: Chain, rng: random.Random,
         request: LLMRequest) -> Any:
    """A value valid against ``schema``: its structure from the schema, its words from the chain."""
    if "enum" in schema:
        return rng.choice(list(schema["enum"]))
    kind = schema.get("type")
    if kind == "object":
        return {name: fill(sub, chain, rng, request)
                for name, sub in schema.get("properties", {}).items()}
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 100)
        return rng.randint(int(low), int(high)) if kind == "integer" else rng.uniform(low, high)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "string":
        start = rng.choice(chain.words) if chain.words else "word"
        words = [w for w, _ in zip(chain.walk(start, rng, request), range(8), strict=False)]
        text = " ".join(words)[: schema.get("maxLength", 80)].strip()
        return text.ljust(schema.get("minLength", 0), ".")
    raise UserError(f"backend markov: cannot write a value of type {kind!r}")


@hookimpl
def instructgen_backends() -> Iterator[BackendPlugin]:
    yield BackendPlugin(
        name="markov",
        description="A word chain trained on each prompt: a toy backend, no model.",
        options=MarkovOptions,
        factory=MarkovBackend,
        # It answers no scored requests (LLMRequest.choices), so it declares no "scores".
        provides=lambda options: frozenset(),
    )
