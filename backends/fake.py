"""A deterministic backend for tests and dry runs: no model, same answers every time.

Answers come from, in order of precedence: a ``responder`` callable (library
use), ``responses`` (regex on the last user message → answer), scripted
``answers`` (in call order), or the rule: ``echo`` repeats the prompt and
``auto`` echoes plain requests and builds a schema-valid JSON value, seeded by
the request, for constrained ones. A scored request (``choices``) is answered
from ``scores`` (regex → label probabilities), or refused as a backend that
cannot score would refuse it.
"""

from __future__ import annotations

import collections
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs

from instructgen.backend import (
    Backend,
    BackendIdentity,
    Completion,
    FirstTokenScorer,
    LLMRequest,
    ScoringUnsupportedError,
    json_completion,
    scored_completion,
)
from instructgen.canonical import stable_hash

from .chat import first_stop

Responder = Callable[[LLMRequest], "str | Completion"]
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


@attrs.frozen
class FakeOptions:
    """Options of the ``fake`` backend."""

    #: ``auto``: schema-valid JSON for constrained requests, echo otherwise; ``echo``: always echo.
    rule: Literal["auto", "echo"] = "auto"
    #: Regex (searched in the last user message) → answer text.
    responses: dict[str, str] = attrs.field(factory=dict)
    #: Regex (searched in the last user message) → label → probability, for scored
    #: requests (``choices``); the first match answers. Empty: the fake cannot score.
    scores: dict[str, dict[str, float]] = attrs.field(factory=dict)
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
        self._score_rules = [(re.compile(p), s) for p, s in self.options.scores.items()]
        self._lock = threading.Lock()

    @property
    def identity(self) -> BackendIdentity:
        settings = attrs.asdict(self.options)
        settings.pop("delay")
        settings.pop("keep_calls")
        if not settings["scores"]:  # so identities (and cache keys) of older recipes stay
            settings.pop("scores")
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
            answer = self._score(req) if req.choices is not None else self._answer(req)
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

    def _score(self, req: LLMRequest) -> Completion:
        """A scored answer: a subclass's ``first_token_logprobs``, else the ``scores`` option."""
        assert req.choices is not None
        if self.responder is not None:
            answer = self.responder(req)
            if isinstance(answer, Completion) and answer.scores is not None:
                return answer
        if isinstance(self, FirstTokenScorer):
            return scored_completion(self.first_token_logprobs(req, req.choices))
        last_user = next((m.content for m in reversed(req.messages) if m.role == "user"), "")
        probs = next((s for pattern, s in self._score_rules if pattern.search(last_user)), None)
        if probs is None:
            raise ScoringUnsupportedError(
                "backend fake cannot score this request (first-token probabilities of fixed "
                "labels, which generator.judge_format = \"score\" asks for): no pattern of "
                "backend.scores matches its last user message; add one, or use judge_format "
                "= \"json\" or \"text\"")
        mass = {label: max(float(probs.get(label, 0.0)), 0.0) for label in req.choices}
        total = sum(mass.values())
        if total <= 0:
            raise ScoringUnsupportedError(
                f"backend.scores: the matching entry gives no probability to any of "
                f"{sorted(req.choices)}")
        return scored_completion({label: math.log(m / total) if m > 0 else float("-inf")
                                  for label, m in mass.items()})

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
    if "allOf" in schema:
        return _sample_all_of(schema, rng, words)
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
    if "pattern" in schema:
        return sample_pattern(schema["pattern"], rng, words, schema.get("maxLength"),
                              min_length=schema.get("minLength", 0))
    n = rng.randint(2, 5)
    text = " ".join(rng.choice(words) for _ in range(n))
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    if hi is not None:
        text = text[:hi].rstrip() or text[:hi]
    return text.ljust(lo, "x")


def _sample_all_of(schema: Mapping[str, Any], rng: random.Random, words: Sequence[str],
                   tries: int = 40) -> Any:
    """A string valid against every part of an ``allOf`` (the edit coupling's several
    patterns on one field): drawn from one part's pattern in turn, kept when all match."""
    from instructgen.schema import validate

    base = {k: v for k, v in schema.items() if k != "allOf"}
    parts = [base, *schema["allOf"]]
    drawn = [dict(base, **part) for part in parts if "pattern" in part] or [base]
    for i in range(tries):
        value = sample_instance(drawn[i % len(drawn)], rng, words)
        if not validate(value, schema):
            return value
    raise ValueError(f"fake backend: no value drawn in {tries} tries was valid against every "
                     f"part of {schema!r}")


def sample_pattern(pattern: str, rng: random.Random, words: Sequence[str],
                   max_length: int | None = None, tries: int = 20, min_length: int = 0) -> str:
    """A string matching ``pattern`` (searched, as the schema validator does).

    Built by walking the parsed regex: alternatives and repeat counts are
    drawn with ``rng``, ``.*`` becomes a few of ``words``. Covers the regex
    subset the edit constraints write (literals, classes, groups, ``|``,
    repeats, anchors); lookarounds and backreferences are refused.
    """
    from re import _parser as sre_parse  # type: ignore[attr-defined]

    parsed = sre_parse.parse(pattern)
    compiled = re.compile(pattern)
    best = None
    for _ in range(tries):
        text = _walk(parsed, rng, words)
        if (compiled.search(text) and len(text) >= min_length
                and (max_length is None or len(text) <= max_length)):
            return text
        best = best if best is not None and len(best) <= len(text) else text
    raise ValueError(f"fake backend: could not build a string matching {pattern!r}"
                     f" of {min_length} to {max_length} characters (closest: {best!r})")


def _walk(parsed: Any, rng: random.Random, words: Sequence[str]) -> str:
    from re import _constants as c  # type: ignore[attr-defined]

    out: list[str] = []
    for op, arg in parsed:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.ANY:
            out.append(" ")
        elif op is c.IN:
            out.append(_char_in(arg, rng))
        elif op is c.NOT_LITERAL:
            out.append("x" if chr(arg) != "x" else "y")
        elif op is c.BRANCH:
            out.append(_walk(rng.choice(arg[1]), rng, words))
        elif op is c.SUBPATTERN:
            out.append(_walk(arg[-1], rng, words))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = arg
            if len(sub) == 1 and sub[0][0] is c.ANY:  # ".*": a few words
                n = rng.randint(max(lo, 0), max(lo, 3))
                out.append(" ".join(rng.choice(words) for _ in range(n)) if n else "")
                continue
            top = lo + 2 if hi is c.MAXREPEAT else min(hi, lo + 2)
            out.extend(_walk(sub, rng, words) for _ in range(rng.randint(lo, top)))
        elif op is c.AT:
            continue
        else:
            raise ValueError(f"fake backend: regex construct {op} is not supported")
    return "".join(out)


def _char_in(items: Any, rng: random.Random) -> str:
    from re import _constants as c  # type: ignore[attr-defined]

    negate = bool(items) and items[0][0] is c.NEGATE
    allowed: list[str] = []
    for op, arg in items:
        if op is c.LITERAL:
            allowed.append(chr(arg))
        elif op is c.RANGE:
            allowed.extend(chr(x) for x in range(arg[0], arg[1] + 1))
        elif op is c.CATEGORY:
            allowed.extend("a0 " if negate else "a")
    if negate:
        pool = [ch for ch in " abcdefgh,.-'" if ch not in allowed]
        return pool[0] if pool else "~"  # a space where a word break is allowed
    return rng.choice(allowed) if allowed else "a"
