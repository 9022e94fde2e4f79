"""First-token scores with llama.cpp, for the edit judge's ``score`` mode: the reference.

Runs score inside ``generate``: a request with ``choices`` takes a slot of the
decoding loop (:mod:`.decode`) like any other, shares prefixes with the batch
and the prefix cache, and ends after its prompt, with the labels' probabilities
read off the last prompt token's logits. :class:`Scorer` scores one request in a
context of its own: the reference that path is tested against, with the
generation context and its prefix cache untouched.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from instructgen.backend import LLMRequest
from instructgen.errors import UserError

from ..local import label_logprobs
from .options import LlamaCppOptions

if TYPE_CHECKING:
    from .model import LlamaModel


class Scorer:
    """Scores single requests on a :class:`LlamaModel`, each in a fresh small context."""

    def __init__(self, model: LlamaModel, options: LlamaCppOptions) -> None:
        self.model, self.options = model, options

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each choice as the first token of the answer to ``request``.

        ``choices`` maps a label to the texts that spell it ("yes": ["yes", "Yes"]);
        each text counts by its first token, and a label's probability is the sum
        over its texts. Normalised over the labels only. Decodes the prompt once
        in a context of its own, so the generation context and its prefix cache
        are untouched.
        """
        import numpy as np  # with the llamacpp extra; kept out of plugin loading

        m = self.model
        lc = m.lc
        if m.closed:
            raise RuntimeError("the llamacpp backend is closed")
        prompt = m.prompt_tokens(request)
        firsts = m.choice_tokens(choices)
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = len(prompt) + 8
        cparams.n_batch = cparams.n_ubatch = min(len(prompt), 512)
        cparams.n_seq_max = 1
        cparams.no_perf = True
        cparams.flash_attn_type = 1 if self.options.flash_attn else 0  # as generation does
        threads = self.options.n_threads or len(os.sched_getaffinity(0))
        cparams.n_threads = cparams.n_threads_batch = threads
        ctx = lc.llama_init_from_model(m.handle, cparams)
        if not ctx:
            raise UserError(f"llama.cpp could not create a scoring context of "
                            f"{cparams.n_ctx} tokens")
        batch = lc.llama_batch_init(cparams.n_batch, 0, 1)
        try:
            for start in range(0, len(prompt), cparams.n_batch):
                chunk = prompt[start:start + cparams.n_batch]
                batch.n_tokens = len(chunk)
                for i, tok in enumerate(chunk):
                    batch.token[i], batch.pos[i] = tok, start + i
                    batch.n_seq_id[i], batch.seq_id[i][0] = 1, 0
                    batch.logits[i] = start + i == len(prompt) - 1
                if lc.llama_decode(ctx, batch) != 0:
                    raise RuntimeError("llama_decode failed while scoring")
            ptr = lc.llama_get_logits_ith(ctx, len(chunk) - 1)
            logits = np.ctypeslib.as_array(ptr, shape=(m.n_vocab,)).copy()
        finally:
            lc.llama_batch_free(batch)
            lc.llama_free(ctx)
        return label_logprobs(logits, firsts)
