"""What the in-process backends (llamacpp, transformers) share: prompt checks and scores.

The contract itself (:class:`~instructgen.backend.Backend` and the request helpers)
is in core, :mod:`instructgen.backend`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from instructgen.backend import LLMRequest
from instructgen.errors import ContextOverflowError


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
