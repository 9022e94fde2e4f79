"""The transformers backend's decoding loop: one chunk of requests at a time.

Prompts are left-padded and decoded together with a KV cache; each request
samples with its own ``torch.Generator`` seeded from ``request.seed``, with its
own temperature, top-k, top-p and stop strings, and constrained requests get an
llguidance token mask before sampling. When every prompt of a chunk starts
with the same tokens (one edit type, one example set), that prefix is run once
and its KV cache repeated over the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from instructgen.backend import json_completion
from instructgen.records import Completion, LLMRequest

from .base import first_stop
from .constrain import JsonConstraint

if TYPE_CHECKING:
    from .hf import TransformersBackend


def generate_chunk(
    backend: TransformersBackend, requests: list[LLMRequest], prompts: list[list[int]]
) -> list[Completion]:
    """Decode one chunk of requests together, left-padded, their shared prefix run once."""
    torch, dev = backend._torch, backend.device
    n = len(requests)
    cache_name, keep_name = backend._forward_names
    shared = _shared_prefix(prompts) if n > 1 else 0
    if shared < _MIN_SHARED:
        shared = 0
    width = max(len(p) for p in prompts) - shared
    ids = torch.full((n, width), backend.pad_id, dtype=torch.long)
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
        extra = {keep_name: 1} if keep_name else {}
        result = backend.model(input_ids=head, use_cache=True, **extra)
        cache = result["cache"] if "cache" in result else result["past_key_values"]
        cache.batch_repeat_interleave(n)
        mask = torch.cat([torch.ones((n, shared), dtype=mask.dtype, device=dev), mask], dim=1)

    states = [_Row(req, len(p), backend, dev) for req, p in zip(requests, prompts, strict=True)]
    for row, state in enumerate(states):
        state.decoded = state.n_prompt - shared + (shared if row == 0 else 0)
    budget = max(
        min(r.max_tokens, backend.n_ctx - len(p))
        for r, p in zip(requests, prompts, strict=True)
    )
    for _step in range(budget):
        extra = {cache_name: cache} if cache is not None else {}
        if keep_name:
            extra[keep_name] = 1  # logits of the last position only
        result = backend.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra
        )
        cache = result["cache"] if "cache" in result else result["past_key_values"]
        logits = result.logits[:, -1, :].float()
        tokens = _pick(backend, logits, states)
        for row, state in enumerate(states):
            if state.finish is None:
                state.advance(int(tokens[row]))
        if all(s.finish is not None for s in states):
            break
        feed = [s.last if s.finish is None else backend.pad_id for s in states]
        ids = torch.tensor(feed, dtype=torch.long, device=dev).unsqueeze(1)
        mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=dev)], dim=1)
        positions = positions[:, -1:] + 1
    return [s.completion() for s in states]


def _pick(backend: TransformersBackend, logits: Any, states: list[_Row]) -> Any:
    """One token per row: masked by the grammar, then greedy or seeded sampling."""
    torch = backend._torch
    live = [i for i, s in enumerate(states) if s.finish is None]
    constrained = [i for i in live if states[i].constraint is not None]
    if constrained:
        allowed = backend._constraints().masks([states[i].constraint for i in constrained])  # type: ignore[misc]
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

    def __init__(
        self, request: LLMRequest, n_prompt: int, backend: TransformersBackend, device: Any
    ) -> None:
        self.request, self.n_prompt, self.b = request, n_prompt, backend
        self.decoded = n_prompt  # prompt tokens run for this row (a shared prefix counts once)
        self.tokens: list[int] = []
        self.text = ""
        self.finish: str | None = None
        self.last = backend.pad_id
        self.constraint: JsonConstraint | None = (
            backend._constraints().start(request.schema) if request.schema is not None else None
        )
        self.generator = None
        if request.temperature > 0:
            self.generator = backend._torch.Generator(device=device)
            self.generator.manual_seed((request.seed or 0) & 0xFFFF_FFFF_FFFF_FFFF)

    def advance(self, token: int) -> None:
        req = self.request
        if token in self.b._eos:
            self.finish = "stop"
            return
        self.tokens.append(token)
        self.last = token
        if self.constraint is not None:
            self.constraint.consume(token)
        if req.stop:
            before = len(self.text)
            self.text = self.b.decode(self.tokens)
            cut = first_stop(self.text, req.stop, before)
            if cut is not None:
                self.text = self.text[:cut]
                self.finish = "stop"
                return
        if self.constraint is not None and self.constraint.finished:
            self.finish = "stop"
        elif len(self.tokens) >= req.max_tokens or self.n_prompt + len(self.tokens) >= self.b.n_ctx:
            self.finish = "length"

    def completion(self) -> Completion:
        if not self.request.stop:
            self.text = self.b.decode(self.tokens)
        return json_completion(
            self.text,
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


#: A common prefix shorter than this is run with the rest of the prompts.
_MIN_SHARED = 16


def _shared_prefix(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least its last token to run."""
    limit = min(len(p) for p in prompts) - 1
    first = prompts[0]
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n


def forward_names(model: Any) -> tuple[str, str | None]:
    """Keyword names for the KV cache and last-logits-only, which moved across versions."""
    import inspect

    params = inspect.signature(model.forward).parameters
    cache = "cache" if "cache" in params else "past_key_values"
    keep = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache, keep
