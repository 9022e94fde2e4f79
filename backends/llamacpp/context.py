"""The llama.cpp context the backend decodes in: KV cells, the token batch and the threads.

:class:`DecodeContext` owns the ``llama_context``, its batch and its memory,
the prefix cache that lives in that memory (:mod:`.prefix`) and the thread
count. It sizes itself to the batches it is given: as many decoding sequences
(slots) as the runner's batch, each with the KV cells its longest request can
fill, so memory follows the work and not ``n_ctx`` alone.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from instructgen.backend import LLMRequest
from instructgen.errors import UserError

from ..cpu_share import CoreShare
from .options import LlamaCppOptions
from .prefix import PrefixCache

if TYPE_CHECKING:
    from .model import LlamaModel

#: Sequence ids reserved for the prefix cache (at most; llama.cpp allows 256 in all).
_CACHE_SLOTS = 64
#: KV cells per sequence are rounded up to this, so batches of similar requests share a size.
_CELL_STEP = 32
#: A context that must grow takes at least this factor more cells per sequence, so a run
#: whose prompts lengthen slowly reopens its context (and drops its prefix cache) a few
#: times, not once per call.
_GROWTH = 1.25
#: The prefix cache's cells when ``prefix_cache_tokens`` is unset: at most this many.
PREFIX_CACHE_MAX = 8192


class DecodeContext:
    """One ``llama_context`` over a :class:`LlamaModel`, opened at the first batch."""

    def __init__(self, model: LlamaModel, options: LlamaCppOptions) -> None:
        self.loaded, self.options = model, options
        self.lc = model.lc
        #: The ``llama_context`` pointer, its batch and its memory; ``None`` until opened.
        self.handle: Any = None
        self.batch: Any = None
        self.memory: Any = None
        self.n_slots = 0  # decoding sequence ids of the current context
        self.slot_cells = 0  # KV cells the current context holds per decoding sequence
        self.n_batch = 0
        #: Prompt prefixes kept between calls, in sequence ids after the slots.
        self.prefixes: PrefixCache | None = None
        self._share = (CoreShare(len(os.sched_getaffinity(0))) if options.n_threads is None
                       else None)
        self._threads_now = 0
        if options.n_seq_max is not None:
            self.open(options.n_seq_max, options.n_ctx)

    def fit(self, requests: Sequence[LLMRequest], prompts: Sequence[Sequence[int]]) -> None:
        """Grow the context, if need be, to the slots and cells this call wants."""
        want = min(len(requests), int(self.lc.llama_max_parallel_sequences()))
        slots = self.n_slots if self.options.n_seq_max is not None else max(want, self.n_slots)
        cells = slot_cells_for(requests, prompts, self.options.n_ctx)
        if cells > self.slot_cells and self.slot_cells:
            grown = -(-int(self.slot_cells * _GROWTH) // _CELL_STEP) * _CELL_STEP
            cells = min(self.options.n_ctx, max(cells, grown))
        cells = max(cells, self.slot_cells)
        if slots != self.n_slots or cells != self.slot_cells:
            self.open(slots, cells)  # grows with the runner's batches

    def open(self, n_slots: int, slot_cells: int) -> None:
        """A context with ``n_slots`` decoding sequences plus the prefix cache's ids.

        ``slot_cells`` KV cells per decoding sequence: what the longest request of the
        batch can fill (prompt + max_tokens), not ``n_ctx``, because llama.cpp allocates
        and clears every cell up front, so unused room is resident memory.
        """
        lc, options = self.lc, self.options
        self.close()
        threads = options.n_threads or (self._share.current if self._share else 1)
        budget = options.prefix_cache_tokens
        if budget is None:
            budget = min(PREFIX_CACHE_MAX, n_slots * slot_cells // 2)
        max_seq = int(lc.llama_max_parallel_sequences())
        n_cached = min(_CACHE_SLOTS, max_seq - n_slots) if budget else 0
        cparams = lc.llama_context_default_params()
        # One unified KV cache with room for every slot's full window plus the
        # prefix cache: sequences never run out of cells, cells can be shared
        # between sequences, and llama.cpp can put prompt chunks of different
        # lengths in one micro-batch (split KV streams force equal-length
        # splits, which turns prefill into token-by-token steps).
        cparams.n_ctx = slot_cells * n_slots + (budget if n_cached else 0)
        cparams.n_seq_max = n_slots + n_cached
        cparams.kv_unified = True
        cparams.n_batch = max(options.n_batch, n_slots)
        cparams.n_ubatch = min(options.n_ubatch, cparams.n_batch)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        cparams.flash_attn_type = 1 if options.flash_attn else 0
        self.handle = lc.llama_init_from_model(self.loaded.handle, cparams)
        if not self.handle:
            raise UserError(
                f"llama.cpp could not create a context of {cparams.n_ctx} tokens"
                f" ({slot_cells} cells per sequence x n_seq_max={n_slots}"
                f" + prefix_cache_tokens={budget if n_cached else 0}); lower one of them"
            )
        self.n_slots, self.slot_cells = n_slots, slot_cells
        self._threads_now = threads
        self.n_batch = lc.llama_n_batch(self.handle)
        self.memory = lc.llama_get_memory(self.handle)
        self.batch = lc.llama_batch_init(self.n_batch, 0, 1)
        if n_cached:
            ids = list(range(n_slots, n_slots + n_cached))
            self.prefixes = PrefixCache(lc, self.memory, ids, budget)

    # -- what the decode loop asks ---------------------------------------------------------

    def decode(self) -> None:
        """Run the batch as it was filled, on the free cores."""
        self.fit_threads()
        rc = self.lc.llama_decode(self.handle, self.batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc}")

    def fit_threads(self) -> int:
        """Set the decode threads for the next step from the free cores; the count used."""
        if self._share is None or self.handle is None:
            return self._threads_now
        wanted = self._share.threads()
        if wanted != self._threads_now:
            self.lc.llama_set_n_threads(self.handle, wanted, wanted)
            self._threads_now = wanted
        return wanted

    def logits(self, row: int) -> Any:
        """The logits of batch row ``row`` after a decode, as a writable numpy view."""
        import numpy as np  # with the llamacpp extra; kept out of plugin loading

        ptr = self.lc.llama_get_logits_ith(self.handle, row)
        return np.ctypeslib.as_array(ptr, shape=(self.loaded.n_vocab,))

    def sample(self, sampler: Any, row: int) -> int:
        """Draw the next token of batch row ``row`` with ``sampler``."""
        return int(self.lc.llama_sampler_sample(sampler, self.handle, row))

    def copy(self, source: int, target: int, n: int) -> None:
        """Share the first ``n`` KV cells of sequence ``source`` with sequence ``target``."""
        self.lc.llama_memory_seq_cp(self.memory, source, target, 0, n)

    def clear(self, sequence: int) -> None:
        """Drop every KV cell of one sequence."""
        self.lc.llama_memory_seq_rm(self.memory, sequence, -1, -1)

    def wipe(self) -> None:
        """Drop every KV cell, the prefix cache's included (after a failed decode)."""
        self.lc.llama_memory_clear(self.memory, True)
        if self.prefixes is not None:
            self.prefixes.forget()

    def close(self) -> None:
        lc = self.lc
        self.prefixes = None
        if self.batch is not None:
            lc.llama_batch_free(self.batch)
            self.batch = None
        if self.handle is not None:
            lc.llama_free(self.handle)
            self.handle = None


def slot_cells_for(requests: Sequence[LLMRequest], prompts: Sequence[Sequence[int]],
                   n_ctx: int) -> int:
    """KV cells one decoding sequence may need in this call: prompt + answer, at most ``n_ctx``."""
    need = max(len(p) + r.max_tokens for r, p in zip(requests, prompts, strict=True))
    return min(n_ctx, -(-need // _CELL_STEP) * _CELL_STEP)
