"""JSON-schema constrained decoding with llguidance, shared by the real backends.

A schema compiles (once, cached by its canonical text) into an llguidance
grammar that admits only *compact* JSON valid against the schema: no
whitespace between tokens, and strings that cannot contain raw control
characters such as newlines. Each constrained sequence gets its own matcher;
before every sampling step the backend asks for a token bitmask and sets the
logits of forbidden tokens to ``-inf``, so whatever the sampler picks keeps the
text a prefix of a valid answer. Generation stops as soon as the grammar can
not be extended further (or the model ends while the grammar accepts).

llguidance is imported lazily; importing this module costs nothing.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from instructgen.errors import SchemaError
from instructgen.schema import check_schema

if TYPE_CHECKING:
    import llguidance
    import numpy as np

#: Options that make llguidance emit compact JSON (its default allows whitespace).
_COMPACT = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}


def compile_schema(schema: Mapping[str, Any]) -> str:
    """Check ``schema`` and return its llguidance grammar; raise :class:`SchemaError`.

    Called for every request before any generation starts, so a bad schema
    fails the batch up front instead of half way through it.
    """
    check_schema(schema)
    # Property order is kept: the model writes keys in the order the schema lists them.
    return _compile(json.dumps(schema, separators=(",", ":"), ensure_ascii=False))


@functools.lru_cache(maxsize=256)
def _compile(schema_text: str) -> str:
    from llguidance import LLMatcher

    try:
        grammar = LLMatcher.grammar_from_json_schema(schema_text, overrides=_COMPACT)  # type: ignore[arg-type]
    except ValueError as exc:
        raise SchemaError(f"schema: {_one_line(exc)}") from None
    error = LLMatcher.validate_grammar(grammar)
    if error:
        raise SchemaError(f"schema cannot be used for constrained decoding: {_one_line(error)}")
    return grammar


def _one_line(message: object) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= 300 else text[:297] + "..."


class JsonConstraint:
    """The grammar state of one sequence: which tokens may come next."""

    def __init__(self, matcher: llguidance.LLMatcher) -> None:
        self.matcher = matcher

    def consume(self, token: int) -> None:
        """Advance past a sampled token (it was allowed by the last mask)."""
        if not self.matcher.consume_token(token):
            raise RuntimeError(f"constrained decoding went off-grammar: {self.matcher.get_error()}")

    @property
    def finished(self) -> bool:
        """True when no token but end-of-sequence may follow: the JSON is complete."""
        return self.matcher.is_stopped()

    @property
    def accepting(self) -> bool:
        """True when the text so far is a complete, valid answer."""
        return self.matcher.is_accepting()


class Constrainer:
    """Builds per-sequence constraints for one tokenizer and fills their masks.

    ``tokenizer`` is an ``llguidance.LLTokenizer`` built from the model's own
    vocabulary (see :func:`llamacpp_tokenizer` and :func:`hf_tokenizer`);
    ``n_vocab`` is the width of the model's logits, which can exceed the
    tokenizer's size (padded embedding matrices).
    """

    def __init__(self, tokenizer: llguidance.LLTokenizer, n_vocab: int) -> None:
        from llguidance import LLExecutor

        self.tokenizer = tokenizer
        self.n_vocab = n_vocab
        self._words = (max(n_vocab, tokenizer.vocab_size) + 31) // 32
        self._executor = LLExecutor()

    def start(self, schema: Mapping[str, Any]) -> JsonConstraint:
        """A fresh constraint for one sequence answering ``schema``."""
        from llguidance import LLMatcher

        matcher = LLMatcher(self.tokenizer, compile_schema(schema), log_level=0)
        if matcher.is_error():
            raise SchemaError(f"schema cannot be used for constrained decoding: "
                              f"{_one_line(matcher.get_error())}")
        return JsonConstraint(matcher)

    def masks(self, constraints: Sequence[JsonConstraint]) -> np.ndarray:
        """Boolean ``(len(constraints), n_vocab)`` array: True where a token is allowed.

        The masks are computed in parallel on llguidance's thread pool.
        """
        import numpy as np  # numpy comes with the llamacpp / transformers extras

        bits = np.zeros((len(constraints), self._words), dtype=np.int32)
        if constraints:
            self._executor.unsafe_compute_mask_ptr(
                [(c.matcher, i) for i, c in enumerate(constraints)],
                bits.ctypes.data,
                self._words * 4,
                len(constraints),
            )
        allowed = np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")
        return allowed[:, : self.n_vocab].astype(bool)


def apply_mask(logits: np.ndarray, allowed: np.ndarray) -> None:
    """Set the logits of forbidden tokens to ``-inf``, in place."""
    logits[~allowed[: logits.shape[-1]]] = float("-inf")


def llamacpp_tokenizer(vocab: Any, eos_tokens: Sequence[int]) -> llguidance.LLTokenizer:
    """An llguidance tokenizer over a llama.cpp vocabulary (about a second to build)."""
    from llguidance.llamacpp import lltokenizer_from_vocab

    with warnings.catch_warnings():
        # It calls llama_token_get_attr, deprecated in llama-cpp-python, once per token.
        warnings.simplefilter("ignore", DeprecationWarning)
        return lltokenizer_from_vocab(vocab, eos_token=list(eos_tokens))


def hf_tokenizer(
    tokenizer: Any, n_vocab: int, eos_tokens: Sequence[int]
) -> llguidance.LLTokenizer:
    """An llguidance tokenizer over a fast Hugging Face tokenizer."""
    from llguidance.hf import from_tokenizer

    return from_tokenizer(tokenizer, n_vocab=n_vocab, eos_token=list(eos_tokens))

