"""The llamacpp backend's decoding loop: many sequences in one context.

Every request of a ``generate`` call gets its own sequence id (slot), KV-cache
stream and sampler chain (top-k → top-p → temperature → seeded draw), and one
``llama_decode`` call advances all of them by a token while new prompts are
prefilled in the same call (continuous batching). When a call holds more
requests than there are slots, a finished sequence's slot is cleared and
handed to the next waiting request.

Prefixes are decoded once: a request whose prompt starts like another live
sequence's gets those KV cells with ``llama_memory_seq_cp`` and decodes only
the rest; one that starts like a request still being prefilled waits a step
for it; and prefixes kept from earlier calls come from the context's
:class:`~instructgen.backends.llamacpp.prefix.PrefixCache`. With a JSON
schema, llguidance masks the logits before sampling. Where an answer ends is
:class:`~instructgen.backends.chat.AnswerEnd`'s decision, as in every loop. A
request with ``choices`` is scored instead: it ends after its prompt, with each
label's first-token probability read off the logits (no sampling).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from instructgen.backend import Completion, LLMRequest, json_completion, scored_completion

from ..chat import AnswerEnd
from ..constrain import JsonConstraint, apply_mask
from ..local import label_logprobs
from .prefix import common_prefix

if TYPE_CHECKING:
    from .context import DecodeContext
    from .model import LlamaModel

_MAX_SEED = 0xFFFFFFFF  # llama.cpp reads this value as "pick a random seed"
#: A prefix shorter than this is not worth waiting a decode step for.
_MIN_WAIT = 8


class _Seq:
    """Decoding state of one request while it owns a slot (sequence id)."""

    __slots__ = (
        "arr", "boundary", "constraint", "end", "finish", "index", "logit_row", "n_fed", "n_out",
        "out", "pending", "pos", "prompt", "request", "reused", "sampler", "slot", "wait",
    )

    def __init__(self, index: int, request: LLMRequest, prompt: list[int], slot: int) -> None:
        self.index, self.request, self.prompt, self.slot = index, request, prompt, slot
        self.arr: Any = None  # the prompt as a numpy array, for prefix comparisons
        self.n_fed = 0  # prompt tokens in the KV cache or submitted so far
        self.pos = 0  # next KV position
        self.reused = 0  # prompt tokens whose KV cells came from another sequence
        self.wait: tuple[_Seq, int] | None = None  # (source, tokens) to copy once decoded
        self.boundary = 0  # prompt tokens to offer the prefix cache once decoded
        self.pending: int | None = None  # sampled token waiting to be decoded
        self.out = bytearray()
        self.n_out = 0
        self.finish: str | None = None
        self.sampler: Any = None
        self.constraint: JsonConstraint | None = None
        self.end: AnswerEnd | None = None
        self.logit_row = -1  # batch row whose logits this sequence samples from

    def render(self) -> str:
        return self.out.decode("utf-8", errors="ignore")


class DecodeRun:
    """One ``generate`` call: a queue of requests flowing through the context's slots."""

    def __init__(self, model: LlamaModel, context: DecodeContext,
                 requests: Sequence[LLMRequest], prompts: list[list[int]]) -> None:
        self.model, self.context = model, context
        self.lc = model.lc
        self.requests = requests
        self.prompts = prompts
        self.n_ctx = context.options.n_ctx
        self.results: list[Completion | None] = [None] * len(requests)
        self.queue = deque(range(len(requests)))
        self.free = list(range(context.n_slots - 1, -1, -1))
        self.active: list[_Seq] = []
        self.share = context.options.share_prefixes
        self.cache = context.prefixes if self.share else None
        batch = context.batch
        n = context.n_batch
        import numpy as np  # with the llamacpp extra; kept out of plugin loading

        self.np = np
        self.tok = np.ctypeslib.as_array(batch.token, shape=(n,))
        self.pos = np.ctypeslib.as_array(batch.pos, shape=(n,))
        self.nseq = np.ctypeslib.as_array(batch.n_seq_id, shape=(n,))
        self.logits = np.ctypeslib.as_array(batch.logits, shape=(n,))
        self.seq_ptrs = [batch.seq_id[i] for i in range(n)]

    def run(self) -> list[Completion]:
        ctx = self.context
        self._clear_slots()
        try:
            while self.queue or self.active:
                self._admit()
                rows = self._fill_batch()
                if ctx.batch.n_tokens == 0:
                    raise RuntimeError("llamacpp: no sequence had a token to decode")
                ctx.decode()
                self._after_decode()
                self._sample(rows)
        except BaseException:
            # Cells of a failed call may be half written: keep no prefix either.
            ctx.wipe()
            raise
        finally:
            for seq in self.active:
                self.lc.llama_sampler_free(seq.sampler)
            self.active.clear()
            self._clear_slots()
        return [r for r in self.results if r is not None]

    def _clear_slots(self) -> None:
        """Empty the decoding sequences; the prefix cache's ids keep their cells."""
        for slot in range(self.context.n_slots):
            self.context.clear(slot)

    def _admit(self) -> None:
        while self.queue and self.free:
            index = self.queue.popleft()
            req = self.requests[index]
            seq = _Seq(index, req, self.prompts[index], self.free.pop())
            seq.sampler = self._sampler(req)
            if req.schema is not None:
                seq.constraint = self.model.constraints().start(req.schema)
            seq.end = AnswerEnd(req, seq.constraint, self.n_ctx)
            if self.share:
                seq.arr = self.np.asarray(seq.prompt, dtype=self.np.int32)
                self._reuse(seq)
            self.active.append(seq)

    def _reuse(self, seq: _Seq) -> None:
        """Start ``seq`` from the longest prefix already in the cache, or wait for one."""
        limit = len(seq.prompt) - 1  # the last prompt token is decoded for its logits
        ready, source = 0, -1
        if self.cache is not None:
            seq.boundary = self.model.prefix_boundary(seq.request, seq.prompt)
            ready, source = self.cache.match(seq.arr, limit)
        from_cache = ready > 0
        later, leader = 0, None
        for other in self.active:
            n = common_prefix(other.arr, seq.arr, limit)
            have = min(n, other.n_fed) if other.wait is None else 0
            if have > ready:
                ready, source, from_cache = have, other.slot, False
            if n > later:
                later, leader = n, other
        if leader is not None and later >= ready + _MIN_WAIT:
            seq.wait = (leader, later)
        elif ready > 0:
            if from_cache:
                assert self.cache is not None
                self.cache.touch(source)
            self._copy(source, seq, ready)

    def _copy(self, source: int, seq: _Seq, n: int) -> None:
        self.context.copy(source, seq.slot, n)
        seq.n_fed = seq.pos = seq.reused = n

    def _after_decode(self) -> None:
        """Hand decoded prefixes to the sequences waiting for them and to the prefix cache."""
        if not self.share:
            return
        for seq in self.active:
            if seq.wait is not None:
                leader, n = seq.wait
                if leader.wait is None and leader.n_fed >= n:
                    seq.wait = None
                    self._copy(leader.slot, seq, n)
        if self.cache is not None:
            for seq in self.active:
                if seq.boundary and seq.wait is None and seq.n_fed >= seq.boundary:
                    self.cache.insert(seq.slot, seq.arr[: seq.boundary])
                    seq.boundary = 0

    def _sampler(self, req: LLMRequest) -> Any:
        lc = self.lc
        chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
        if req.temperature <= 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
            return chain
        if req.top_k > 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(req.top_k))
        if req.top_p < 1.0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(req.top_p, 1))
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(req.temperature))
        seed = (req.seed or 0) % _MAX_SEED
        lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed))
        return chain

    def _fill_batch(self) -> list[_Seq]:
        """Put one pending token per decoding sequence, then prompt chunks, in the batch."""
        n, cap = 0, self.context.n_batch
        rows: list[_Seq] = []
        for seq in self.active:
            if seq.pending is not None:
                self._put(n, seq.pending, seq.pos, seq.slot, True)
                seq.pos += 1
                seq.pending = None
                seq.logit_row = n
                rows.append(seq)
                n += 1
        for seq in self.active:
            if n >= cap:
                break
            left = len(seq.prompt) - seq.n_fed
            if left <= 0 or seq.wait is not None:
                continue
            take = min(left, cap - n)
            for t in seq.prompt[seq.n_fed: seq.n_fed + take]:
                self._put(n, t, seq.pos, seq.slot, False)
                seq.pos += 1
                n += 1
            seq.n_fed += take
            if seq.n_fed == len(seq.prompt):
                self.logits[n - 1] = 1
                seq.logit_row = n - 1
                rows.append(seq)
        self.context.batch.n_tokens = n
        return rows

    def _put(self, i: int, token: int, pos: int, slot: int, logits: bool) -> None:
        self.tok[i] = token
        self.pos[i] = pos
        self.nseq[i] = 1
        self.seq_ptrs[i][0] = slot
        self.logits[i] = logits

    def _sample(self, rows: list[_Seq]) -> None:
        constrained = [s for s in rows if s.constraint is not None]
        if constrained:
            masks = self.model.constraints().masks(
                [s.constraint for s in constrained])  # type: ignore[misc]
            for seq, allowed in zip(constrained, masks, strict=True):
                apply_mask(self.context.logits(seq.logit_row), allowed)
        for seq in rows:
            if seq.request.choices is not None:
                self._score(seq)
                continue
            token = self.context.sample(seq.sampler, seq.logit_row)
            self._advance(seq, token)
            if seq.finish is not None:
                self._retire(seq)

    def _advance(self, seq: _Seq, token: int) -> None:
        if token in self.model.eog:
            seq.finish = "stop"
            return
        seq.n_out += 1
        seq.out += self.model.pieces[token]
        assert seq.end is not None
        seq.finish = seq.end.after(token, seq.n_out, seq.pos + 1, seq.render)
        if seq.finish is None:
            seq.pending = token

    def _score(self, seq: _Seq) -> None:
        """End a scored request at its prompt: the labels' probabilities, nothing sampled."""
        assert seq.request.choices is not None
        scores = label_logprobs(self.context.logits(seq.logit_row),
                                self.model.choice_tokens(seq.request.choices))
        self._retire(seq, scored_completion(scores, prompt_tokens=len(seq.prompt),
                                            prompt_tokens_decoded=len(seq.prompt) - seq.reused))

    def _retire(self, seq: _Seq, answer: Completion | None = None) -> None:
        if answer is None:
            assert seq.end is not None
            answer = json_completion(
                seq.end.text(seq.render),
                seq.request.schema,
                finish_reason=seq.finish or "stop",
                prompt_tokens=len(seq.prompt),
                completion_tokens=seq.n_out,
                prompt_tokens_decoded=len(seq.prompt) - seq.reused,
            )
        self.results[seq.index] = answer
        self.lc.llama_sampler_free(seq.sampler)
        self.context.clear(seq.slot)
        self.active.remove(seq)
        self.free.append(seq.slot)
