"""First-token scores with transformers, for the edit judge's ``score`` mode.

The same contract as llamacpp's scorer: the request's messages through the chat
template (a request with ``choices`` has no schema: a constrained answer's first
token would be ``{``, not the verdict), one forward pass over the unpadded
prompt, so a score does not depend on what it was batched with, and each
label's mass as the sum over the distinct first tokens of its texts,
normalised over the labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from instructgen.backend import Completion, LLMRequest, scored_completion

from ..local import checked_prompts, label_logprobs

if TYPE_CHECKING:
    from .model import LoadedModel


class Scorer:
    """Scores requests with ``choices`` on one :class:`LoadedModel`."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model

    def score(self, request: LLMRequest, prompt: list[int]) -> Completion:
        """The scored answer to ``request`` (which has ``choices``), ``prompt`` its tokens."""
        m = self.model
        assert request.choices is not None
        firsts = {label: sorted({self._first_token(label, t) for t in texts})
                  for label, texts in request.choices.items()}
        torch = m.torch
        extra = {m.keep_name: 1} if m.keep_name else {}  # logits of the last position only
        ids = torch.tensor([prompt], dtype=torch.long, device=m.device)
        with torch.inference_mode():
            result = m.forward(input_ids=ids, use_cache=False, **extra)
            logits = result.logits[0, -1, :].to(device="cpu", dtype=torch.float64).numpy()
        return scored_completion(label_logprobs(logits, firsts), prompt_tokens=len(prompt))

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each label of ``choices`` as the first token of the answer.

        ``choices`` maps a label to the texts that spell it ("yes": ["yes", "Yes"]);
        a text counts by its first token, texts that start with the same token count
        it once. A prompt that does not fit ``n_ctx`` raises
        :class:`~instructgen.errors.ContextOverflowError` before the model runs.
        """
        request = attrs.evolve(request, schema=None, choices=choices)
        (prompt,) = checked_prompts("transformers", [request], self.model.prompt_tokens,
                                    self.model.n_ctx)
        scores = self.score(request, prompt).scores
        assert scores is not None
        return dict(scores)

    def _first_token(self, label: str, text: str) -> int:
        token = self.model.first_token(text)
        if token is None:
            raise ValueError(f"first_token_logprobs: label {label!r} has a text that is no token "
                             f"({text!r})")
        return token
