"""The transformers backend: batched decoding with per-request sampling.

It runs its own decoding loop (:mod:`.decode`) instead of ``model.generate``
because every request of a batch carries its own temperature, top-k, top-p,
seed, stop strings and (optionally) JSON schema, which ``generate`` applies
batch-wide. The backend composes three objects, each owning its own state: the
loaded model (:mod:`.model`), the decoder and the first-token scorer
(:mod:`.score`, for the edit judge's ``score`` mode). torch and transformers are
imported when the backend is built.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from instructgen.backend import Backend, BackendIdentity, Completion, LLMRequest, generate_split

from ..local import checked_prompts
from ..models import resolve_builtin
from .decode import Decoder
from .model import LoadedModel
from .options import TransformersOptions
from .score import Scorer


class TransformersBackend(Backend):
    """Batched generation with a transformers causal LM; see the module docstring."""

    def __init__(
        self, options: TransformersOptions | None = None, *, model_path: Path | str | None = None
    ) -> None:
        self.options = options = options or TransformersOptions()
        #: What was loaded: a local path, or a hub id.
        self.source = (model_path if model_path is not None
                       else resolve_builtin(options.model, "transformers"))
        self.loaded = LoadedModel(options, self.source)
        self.decoder = Decoder(self.loaded, options.batch_size)
        self.scorer = Scorer(self.loaded)
        self._lock = threading.Lock()  # one call at a time on the model
        self._identity = self.loaded.identity()

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    @property
    def converted(self) -> Path | None:
        """The converted checkpoint folder a GGUF was loaded from or saved to, if any."""
        return self.loaded.converted

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        if not requests:
            return []
        prompts = checked_prompts("transformers", requests, self.loaded.prompt_tokens,
                                  self.loaded.n_ctx)
        # A scored request (``choices``) gets a forward pass of its own, unpadded, so its
        # scores do not depend on what it was batched with.
        with self._lock:
            return generate_split(
                requests,
                lambda idx: self.decoder.generate([requests[i] for i in idx],
                                                  [prompts[i] for i in idx]),
                lambda idx: [self.scorer.score(requests[i], prompts[i]) for i in idx])

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each choice as the first answer token, from one forward pass.

        Makes this backend a :class:`~instructgen.backend.FirstTokenScorer`, as
        llamacpp is; ``generate`` answers requests with ``choices`` the same way.
        """
        with self._lock:
            return self.scorer.first_token_logprobs(request, choices)

    def close(self) -> None:
        self.loaded.close()
