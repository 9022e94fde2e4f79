"""The transformers backend's decoding loop: chunks of requests decoded together.

Prompts are left-padded and decoded together with a KV cache; each request
samples with its own ``torch.Generator`` seeded from ``request.seed``, with its
own temperature, top-k, top-p and stop strings, and constrained requests get an
llguidance token mask before sampling. When every prompt of a chunk starts
with the same tokens (one edit type, one example set), that prefix is run once
and its KV cache repeated over the batch. Where an answer ends is
:class:`~instructgen.backends.chat.AnswerEnd`'s decision, as in every loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from instructgen.backend import Completion, LLMRequest, json_completion

from ..chat import AnswerEnd
from ..constrain import JsonConstraint

if TYPE_CHECKING:
    from .model import LoadedModel

#: A common prefix shorter than this is run with the rest of the prompts.
MIN_SHARED = 16


class Decoder:
    """Decodes batches of plain (unscored) requests on one :class:`LoadedModel`."""

    def __init__(self, model: LoadedModel, batch_size: int) -> None:
        self.model = model
        #: Sequences per forward pass; a larger batch is split into chunks of this size.
        self.batch_size = batch_size
        #: Shortest common prefix worth running once for the whole chunk.
        self.min_shared = MIN_SHARED

    def generate(self, requests: list[LLMRequest], prompts: list[list[int]]) -> list[Completion]:
        """Answers to ``requests`` (``prompts`` their tokens), in their order."""
        # Prompts that start alike share a chunk (their common prefix runs once);
        # those are mostly of similar length, so little compute goes to padding.
        order = sorted(range(len(requests)), key=lambda i: prompts[i])
        out: list[Completion | None] = [None] * len(requests)
        size = self.batch_size
        with self.model.torch.inference_mode():
            for start in range(0, len(order), size):
                chunk = order[start: start + size]
                done = self._chunk([requests[i] for i in chunk], [prompts[i] for i in chunk])
                for i, completion in zip(chunk, done, strict=True):
                    out[i] = completion
        return [c for c in out if c is not None]

    def _chunk(self, requests: list[LLMRequest], prompts: list[list[int]]) -> list[Completion]:
        """Decode one chunk of requests together, left-padded, their shared prefix run once."""
        m = self.model
        torch, dev = m.torch, m.device
        n = len(requests)
        shared = _shared_prefix(prompts) if n > 1 else 0
        if shared < self.min_shared:
            shared = 0
        width = max(len(p) for p in prompts) - shared
        ids = torch.full((n, width), m.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p) + shared:] = torch.tensor(p[shared:], dtype=torch.long)
            mask[row, width - len(p) + shared:] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        cache = None
        if shared:
            # The common prefix once, at batch 1; its KV cache repeated for every row.
            head = torch.tensor([prompts[0][:shared]], dtype=torch.long, device=dev)
            extra = {m.keep_name: 1} if m.keep_name else {}
            result = m.forward(input_ids=head, use_cache=True, **extra)
            cache = result["cache"] if "cache" in result else result["past_key_values"]
            cache.batch_repeat_interleave(n)
            mask = torch.cat([torch.ones((n, shared), dtype=mask.dtype, device=dev), mask], dim=1)

        states = [_Row(req, len(p), m) for req, p in zip(requests, prompts, strict=True)]
        for row, state in enumerate(states):
            state.decoded = state.n_prompt - shared + (shared if row == 0 else 0)
        budget = max(
            min(r.max_tokens, m.n_ctx - len(p))
            for r, p in zip(requests, prompts, strict=True)
        )
        for _step in range(budget):
            extra = {m.cache_name: cache} if cache is not None else {}
            if m.keep_name:
                extra[m.keep_name] = 1  # logits of the last position only
            result = m.forward(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                **extra
            )
            cache = result["cache"] if "cache" in result else result["past_key_values"]
            logits = result.logits[:, -1, :].float()
            tokens = self._pick(logits, states)
            for row, state in enumerate(states):
                if state.finish is None:
                    state.advance(int(tokens[row]))
            if all(s.finish is not None for s in states):
                break
            feed = [s.last if s.finish is None else m.pad_id for s in states]
            ids = torch.tensor(feed, dtype=torch.long, device=dev).unsqueeze(1)
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=dev)], dim=1)
            positions = positions[:, -1:] + 1
        return [s.completion() for s in states]

    def _pick(self, logits: Any, states: list[_Row]) -> Any:
        """One token per row: masked by the grammar, then greedy or seeded sampling."""
        torch = self.model.torch
        live = [i for i, s in enumerate(states) if s.finish is None]
        constrained = [i for i in live if states[i].constraint is not None]
        if constrained:
            allowed = self.model.constraints().masks(
                [states[i].constraint for i in constrained])  # type: ignore[misc]
            width = min(allowed.shape[1], logits.shape[1])
            block = torch.from_numpy(~allowed[:, :width]).to(logits.device)
            rows = torch.tensor(constrained, device=logits.device)
            sub = logits[rows]
            sub[:, :width].masked_fill_(block, float("-inf"))
            sub[:, width:] = float("-inf")
            logits[rows] = sub
        tokens = logits.argmax(dim=-1)
        sampled = [i for i in live if states[i].request.temperature > 0]
        if sampled:
            probs = _filtered_probs(torch, logits[sampled], [states[i].request for i in sampled])
            for k, i in enumerate(sampled):
                tokens[i] = torch.multinomial(probs[k], 1, generator=states[i].generator)[0]
        return tokens.tolist()


class _Row:
    """Decoding state of one request inside a chunk."""

    def __init__(self, request: LLMRequest, n_prompt: int, model: LoadedModel) -> None:
        self.request, self.n_prompt, self.model = request, n_prompt, model
        self.decoded = n_prompt  # prompt tokens run for this row (a shared prefix counts once)
        self.tokens: list[int] = []
        self.finish: str | None = None
        self.last = model.pad_id
        self.constraint: JsonConstraint | None = (
            model.constraints().start(request.schema) if request.schema is not None else None
        )
        self.end = AnswerEnd(request, self.constraint, model.n_ctx)
        self.generator = None
        if request.temperature > 0:
            self.generator = model.torch.Generator(device=model.device)
            self.generator.manual_seed((request.seed or 0) & 0xFFFF_FFFF_FFFF_FFFF)

    def advance(self, token: int) -> None:
        if token in self.model.eos:
            self.finish = "stop"
            return
        self.tokens.append(token)
        self.last = token
        self.finish = self.end.after(token, len(self.tokens), self.n_prompt + len(self.tokens),
                                     self._render)

    def _render(self) -> str:
        return self.model.decode(self.tokens)

    def completion(self) -> Completion:
        return json_completion(
            self.end.text(self._render),
            self.request.schema,
            finish_reason=self.finish or "length",
            prompt_tokens=self.n_prompt,
            completion_tokens=len(self.tokens),
            prompt_tokens_decoded=self.decoded,
        )


def _filtered_probs(torch: Any, logits: Any, requests: list[LLMRequest]) -> Any:
    """Softmax after temperature, top-k and top-p, set per row, in ``generate``'s order."""
    dev = logits.device
    temps = torch.tensor([r.temperature for r in requests], device=dev).unsqueeze(1)
    logits = logits / temps
    vocab = logits.shape[1]
    ks = torch.tensor([r.top_k if 0 < r.top_k < vocab else vocab for r in requests], device=dev)
    ps = torch.tensor([r.top_p for r in requests], device=dev).unsqueeze(1)
    values, index = logits.sort(dim=-1, descending=True)
    rank = torch.arange(vocab, device=dev).unsqueeze(0)
    drop = rank >= ks.unsqueeze(1)
    probs = values.masked_fill(drop, float("-inf")).softmax(dim=-1)
    drop |= (probs.cumsum(dim=-1) - probs) > ps
    drop[:, 0] = False  # always keep the most likely token
    values = values.masked_fill(drop, float("-inf"))
    filtered = torch.full_like(logits, float("-inf")).scatter(1, index, values)
    return filtered.softmax(dim=-1)


def _shared_prefix(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least its last token to run."""
    limit = min(len(p) for p in prompts) - 1
    first = prompts[0]
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n
