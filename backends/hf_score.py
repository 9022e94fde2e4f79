"""First-token scores with transformers, for the edit judge's ``score`` mode.

The same contract as :mod:`instructgen.backends.llamacpp_score`: the request's
messages through the chat template (a request with ``choices`` has no schema:
a constrained answer's first token would be ``{``, not the verdict), one
forward pass over the unpadded prompt, and each label's mass as the sum over
the distinct first tokens of its texts, normalised over the labels.
``generate`` answers a request with ``choices`` through :func:`score_request`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from instructgen.backend import scored_completion
from instructgen.records import Completion, LLMRequest

from .base import checked_prompts, label_logprobs

if TYPE_CHECKING:
    from .hf import TransformersBackend


def first_token_logprobs(
    backend: TransformersBackend, request: LLMRequest, choices: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """Log-probability of each label of ``choices`` as the first token of the answer.

    ``choices`` maps a label to the texts that spell it ("yes": ["yes", "Yes"]);
    a text counts by its first token, texts that start with the same token count
    it once. A prompt that does not fit ``n_ctx`` raises
    :class:`~instructgen.errors.ContextOverflowError` before the model runs.
    """
    request = attrs.evolve(request, schema=None, choices=choices)
    (prompt,) = checked_prompts("transformers", [request], backend.prompt_tokens, backend.n_ctx)
    scores = score_request(backend, request, prompt).scores
    assert scores is not None
    return dict(scores)


def score_request(backend: TransformersBackend, request: LLMRequest,
                  prompt: list[int]) -> Completion:
    """The scored answer to ``request`` (which has ``choices``), ``prompt`` its tokens."""
    if backend.model is None:
        raise RuntimeError("the transformers backend is closed")
    assert request.choices is not None
    firsts = {label: sorted({_first_token(backend, label, t) for t in texts})
              for label, texts in request.choices.items()}
    torch = backend._torch
    _, keep_name = backend._forward_names
    extra = {keep_name: 1} if keep_name else {}  # logits of the last position only
    ids = torch.tensor([prompt], dtype=torch.long, device=backend.device)
    with backend._lock, torch.inference_mode():
        result = backend.model(input_ids=ids, use_cache=False, **extra)
        logits = result.logits[0, -1, :].to(device="cpu", dtype=torch.float64).numpy()
    return scored_completion(label_logprobs(logits, firsts), prompt_tokens=len(prompt))


def _first_token(backend: TransformersBackend, label: str, text: str) -> int:
    ids = backend.tokenizer(text, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"first_token_logprobs: label {label!r} has a text that is no token "
                         f"({text!r})")
    return int(ids[0])
