"""The llama.cpp backend: many sequences decoded together in one context.

Built directly on llama.cpp's low-level API (through llama-cpp-python's
ctypes bindings) rather than ``Llama.create_completion``, which serves one
prompt at a time. Every request of a batch gets its own sequence id, KV-cache
stream and sampler chain (top-k → top-p → temperature → seeded draw), and one
``llama_decode`` call advances all of them by a token while new prompts are
prefilled in the same call (continuous batching). When a batch holds more
requests than ``n_seq_max``, a finished sequence's slot is cleared and handed
to the next waiting request.

Prompts share long prefixes (chat header, a type's instructions, its few-shot
examples), so the prefill is done once per prefix, not once per request. In
the unified KV cache a cell can belong to several sequences: a request whose
prompt starts like another live sequence's gets those cells with
``llama_memory_seq_cp`` (no compute) and decodes only the rest; one that
starts like a request still being prefilled waits a step for it. Across calls,
a small least-recently-used cache keeps prompt prefixes (everything before
the last message) in reserved sequence ids, sized in tokens by
``prefix_cache_tokens``.

With a JSON schema, llguidance masks the logits before sampling (see
:mod:`instructgen.backends.constrain`), and the sequence ends as soon as the
JSON is complete.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import ModelNotFoundError, UserError
from instructgen.records import BackendIdentity, Completion, LLMRequest

from .base import Backend, checked_prompts, file_sha256, first_stop, json_completion
from .chat import ChatTemplate, ChatTemplateError
from .constrain import Constrainer, JsonConstraint, apply_mask, llamacpp_tokenizer
from .models import EMBEDDED_MODEL

_ALL_LAYERS = 0x7FFFFFFF
_log = logging.getLogger(__name__)
_MAX_SEED = 0xFFFFFFFF  # llama.cpp reads this value as "pick a random seed"
#: Sequence ids reserved for the prefix cache (at most; llama.cpp allows 256 in all).
_CACHE_SLOTS = 64
#: A prefix shorter than this is not worth waiting a decode step for.
_MIN_WAIT = 8


@attrs.frozen
class LlamaCppOptions:
    """Options of the ``llamacpp`` backend."""

    #: Registered model name, path to a ``.gguf`` file, or a folder holding one.
    model: str = EMBEDDED_MODEL
    #: Context window of each sequence, in tokens (prompt + answer).
    n_ctx: int = attrs.field(default=2048, validator=attrs.validators.ge(16))
    #: Sequences decoded together; larger batches queue for a free slot. ``None``: as
    #: many as the largest batch the runner sends (its ``batch_size``), sized at the
    #: first call and grown if a larger batch comes.
    n_seq_max: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(range(1, 257))))
    #: KV cells kept for prompt prefixes between calls (reserved sequence ids,
    #: least recently used dropped first); 0 turns the cross-call cache off.
    prefix_cache_tokens: int = attrs.field(default=8192, validator=attrs.validators.ge(0))
    #: Prefill a prefix shared by requests of one call once (KV cells shared with
    #: ``llama_memory_seq_cp``); off decodes every prompt in full.
    share_prefixes: bool = True
    #: Most tokens handed to one ``llama_decode`` call (prefill chunk size).
    n_batch: int = attrs.field(default=512, validator=attrs.validators.ge(1))
    #: Physical micro-batch size inside a decode call.
    n_ubatch: int = attrs.field(default=512, validator=attrs.validators.ge(1))
    #: CPU threads; ``None`` uses every core this process may run on.
    n_threads: int | None = None
    #: Layers offloaded to the GPU: 0 keeps everything on the CPU, -1 offloads all.
    n_gpu_layers: int = attrs.field(default=0, validator=attrs.validators.ge(-1))
    #: Flash attention (GPU builds benefit; off by default for CPU parity).
    flash_attn: bool = False
    #: Jinja chat template to use instead of the one stored in the GGUF file.
    chat_template: str | None = None
    #: Let llama.cpp print its load and timing logs to stderr.
    verbose: bool = False
    #: llama.cpp's extra CPU buffer types (AMX, repacked weights). ``"auto"`` checks once
    #: per machine and llama.cpp build, in a child process, that they do not crash.
    extra_buffers: Literal["auto"] | bool = "auto"


class LlamaCppBackend(Backend):
    """Batched generation with llama.cpp; see the module docstring."""

    def __init__(self, options: LlamaCppOptions | None = None, *, model_path: Path | None = None):
        self.options = options = options or LlamaCppOptions()
        try:
            import llama_cpp
        except ImportError:
            raise UserError(
                "backend llamacpp needs llama-cpp-python: pip install 'instructgen[llamacpp]'"
                " (for CUDA: CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install llama-cpp-python)"
            ) from None
        import llama_cpp._logger as llama_logger

        llama_logger.set_verbose(options.verbose)
        self._lc = lc = llama_cpp
        self.model_path = model_path or _resolve(options.model)
        self._lock = threading.Lock()
        self._model: Any = None
        self._ctx: Any = None
        self._batch: Any = None

        lc.llama_backend_init()
        mparams = lc.llama_model_default_params()
        mparams.n_gpu_layers = _ALL_LAYERS if options.n_gpu_layers == -1 else options.n_gpu_layers
        #: Whether this load uses extra buffer types (see the ``extra_buffers`` option).
        self.extra_buffers = self._use_extra_buffers()
        mparams.use_extra_bufts = self.extra_buffers
        self._model = lc.llama_model_load_from_file(str(self.model_path).encode(), mparams)
        if not self._model:
            raise ModelNotFoundError(
                f"llama.cpp could not load {self.model_path} (not a GGUF model?)"
            )
        self._vocab = lc.llama_model_get_vocab(self._model)
        self.n_vocab = lc.llama_vocab_n_tokens(self._vocab)

        self.n_ctx = options.n_ctx
        self.n_slots = 0  # decoding sequence ids of the current context
        self._prefixes: _PrefixCache | None = None
        if options.n_seq_max is not None:
            self._open_context(options.n_seq_max)

        self._pieces = [self._piece(t) for t in range(self.n_vocab)]
        self._eog = frozenset(
            t for t in range(self.n_vocab) if lc.llama_vocab_is_eog(self._vocab, t)
        )
        self._template = self._chat_template()
        self._add_bos = bool(lc.llama_vocab_get_add_bos(self._vocab))
        self._constrainer: Constrainer | None = None
        self._identity = self._make_identity()

    def _use_extra_buffers(self) -> bool:
        """The option, or for ``"auto"`` the cached verdict of a crash probe (one warning)."""
        choice = self.options.extra_buffers
        if isinstance(choice, bool):
            return choice
        from .native import EXTRA_BUFFERS_FIX, extra_buffers_verdict

        # A small fixed model keeps the probe cheap; without it, probe the model itself.
        try:
            probe_model, layers = _resolve(EMBEDDED_MODEL), 0
        except UserError:
            probe_model, layers = self.model_path, self.options.n_gpu_layers
        verdict = extra_buffers_verdict(probe_model, n_gpu_layers=layers)
        if not verdict.ok:
            _log.warning(
                "llamacpp: %s (this CPU or its hypervisor faults on them, e.g. AMX on some "
                "cloud VMs), so the model is loaded without them, which is slower; "
                "to avoid this: %s", verdict.detail, EXTRA_BUFFERS_FIX)
        return verdict.ok

    # -- identity ------------------------------------------------------------------------

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def _make_identity(self) -> BackendIdentity:
        settings: dict[str, Any] = {
            "engine": f"llama-cpp-python {getattr(self._lc, '__version__', '?')}",
            "device": "cpu" if self.options.n_gpu_layers == 0 else "gpu",
            "flash_attn": self.options.flash_attn,
            "chat_template_sha256": hashlib.sha256(self._template.source.encode()).hexdigest(),
        }
        return BackendIdentity(
            name="llamacpp",
            model=str(self.model_path),
            sha256=file_sha256(self.model_path),
            quantization=self._quantization(),
            settings=settings,
        )

    def _quantization(self) -> str:
        ftype = self._lc.llama_model_ftype(self._model)
        for name in dir(self._lc):
            if name.startswith("LLAMA_FTYPE_") and getattr(self._lc, name) == ftype:
                short = name.removeprefix("LLAMA_FTYPE_")
                return short.removeprefix("MOSTLY_").removeprefix("ALL_")
        return f"ftype {ftype}"

    # -- model helpers -------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self._lc.llama_model_meta_val_str(self._model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.raw[:n].decode("utf-8", errors="replace")
            size = n + 1

    def _piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(256)
        n = self._lc.llama_token_to_piece(self._vocab, token, buf, 256, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self._lc.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def _chat_template(self) -> ChatTemplate:
        source = self.options.chat_template or self._meta("tokenizer.chat_template")
        if not source:
            raise ChatTemplateError(
                f"{self.model_path.name} has no tokenizer.chat_template; set the llamacpp"
                " option chat_template to a Jinja template"
            )
        lc, vocab = self._lc, self._vocab
        bos = lc.llama_vocab_bos(vocab)
        eos = lc.llama_vocab_eos(vocab)
        return ChatTemplate(
            source,
            bos_token=self._piece(bos, True).decode(errors="replace") if bos >= 0 else "",
            eos_token=self._piece(eos, True).decode(errors="replace") if eos >= 0 else "",
        )

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        """Token ids of ``text``; special tokens written in the text are parsed."""
        data = text.encode()
        size = len(data) + 16
        while True:
            buf = (self._lc.llama_token * size)()
            n = self._lc.llama_tokenize(self._vocab, data, len(data), buf, size, add_special, True)
            if n >= 0:
                return list(buf[:n])
            size = -n

    def prompt_tokens(self, request: LLMRequest) -> list[int]:
        """The request's messages through the chat template, as token ids."""
        text = self._template.render(request.messages)
        bos = self._template.bos_token
        add_bos = self._add_bos and not (bos and text.startswith(bos))
        return self.tokenize(text, add_special=add_bos)

    def _constraints(self) -> Constrainer:
        if self._constrainer is None:
            tok = llamacpp_tokenizer(self._vocab, sorted(self._eog))
            self._constrainer = Constrainer(tok, self.n_vocab)
        return self._constrainer

    def _open_context(self, n_slots: int) -> None:
        """A context with ``n_slots`` decoding sequences plus the prefix cache's ids."""
        lc, options = self._lc, self.options
        self._close_context()
        threads = options.n_threads or len(os.sched_getaffinity(0))
        budget = options.prefix_cache_tokens
        max_seq = int(lc.llama_max_parallel_sequences())
        n_cached = min(_CACHE_SLOTS, max_seq - n_slots) if budget else 0
        cparams = lc.llama_context_default_params()
        # One unified KV cache with room for every slot's full window plus the
        # prefix cache: sequences never run out of cells, cells can be shared
        # between sequences, and llama.cpp can put prompt chunks of different
        # lengths in one micro-batch (split KV streams force equal-length
        # splits, which turns prefill into token-by-token steps).
        cparams.n_ctx = options.n_ctx * n_slots + (budget if n_cached else 0)
        cparams.n_seq_max = n_slots + n_cached
        cparams.kv_unified = True
        cparams.n_batch = max(options.n_batch, n_slots)
        cparams.n_ubatch = min(options.n_ubatch, cparams.n_batch)
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        cparams.flash_attn_type = 1 if options.flash_attn else 0
        self._ctx = lc.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            raise UserError(
                f"llama.cpp could not create a context of {cparams.n_ctx} tokens"
                f" (n_ctx={options.n_ctx} x n_seq_max={n_slots}"
                f" + prefix_cache_tokens={budget if n_cached else 0}); lower one of them"
            )
        self.n_slots = n_slots
        self.n_batch = lc.llama_n_batch(self._ctx)
        self._memory = lc.llama_get_memory(self._ctx)
        self._batch = lc.llama_batch_init(self.n_batch, 0, 1)
        if n_cached:
            ids = list(range(n_slots, n_slots + n_cached))
            self._prefixes = _PrefixCache(lc, self._memory, ids, budget)

    def _close_context(self) -> None:
        lc = self._lc
        self._prefixes = None
        if self._batch is not None:
            lc.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            lc.llama_free(self._ctx)
            self._ctx = None

    def prefix_boundary(self, request: LLMRequest, prompt: list[int]) -> int:
        """Tokens of ``prompt`` before its last message: the part other requests may share."""
        if len(request.messages) < 2:
            return 0
        head = self.prompt_tokens(attrs.evolve(request, messages=request.messages[:-1]))
        return _common(head, prompt, len(prompt) - 1)

    # -- generation ----------------------------------------------------------------------

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        if not requests:
            return []
        if self._model is None:
            raise RuntimeError("the llamacpp backend is closed")
        # Everything that can be refused is refused before the first decode.
        prompts = checked_prompts("llamacpp", requests, self.prompt_tokens, self.n_ctx)
        with self._lock:
            want = min(len(requests), int(self._lc.llama_max_parallel_sequences()))
            if self.options.n_seq_max is None and want > self.n_slots:
                self._open_context(want)  # slots follow the runner's batch size
            return _Run(self, requests, prompts).run()

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each choice as the first token of the answer to ``request``.

        ``choices`` maps a label to the texts that spell it ("yes": ["yes", "Yes"]);
        each text counts by its first token, and a label's probability is the sum
        over its texts. Normalised over the labels only. Decodes the prompt once
        in a context of its own, so the generation context and its prefix cache
        are untouched. Used by the edit judge's ``score`` mode.
        """
        import math

        import numpy as np

        lc = self._lc
        if self._model is None:
            raise RuntimeError("the llamacpp backend is closed")
        prompt = self.prompt_tokens(request)
        firsts = {label: sorted({self.tokenize(t, add_special=False)[0] for t in texts})
                  for label, texts in choices.items()}
        with self._lock:
            cparams = lc.llama_context_default_params()
            cparams.n_ctx = len(prompt) + 8
            cparams.n_batch = cparams.n_ubatch = min(len(prompt), 512)
            cparams.n_seq_max = 1
            cparams.no_perf = True
            threads = self.options.n_threads or len(os.sched_getaffinity(0))
            cparams.n_threads = cparams.n_threads_batch = threads
            ctx = lc.llama_init_from_model(self._model, cparams)
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
                logits = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).astype(np.float64)
            finally:
                lc.llama_batch_free(batch)
                lc.llama_free(ctx)
        top = float(logits.max())
        mass = {label: float(np.exp(logits[ids] - top).sum()) for label, ids in firsts.items()}
        total = sum(mass.values())
        return {label: math.log(m / total) if m > 0 else float("-inf")
                for label, m in mass.items()}

    def close(self) -> None:
        lc = self._lc
        self._close_context()
        if self._model is not None:
            lc.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have freed llama_cpp
            self.close()


def _resolve(model: str) -> Path:
    from instructgen.manager import make_registry

    from .models import resolve_model

    found = resolve_model(make_registry().get_models(), model, "llamacpp")
    assert isinstance(found, Path)  # hub ids are refused for llamacpp
    return found


class _Seq:
    """Decoding state of one request while it owns a slot (sequence id)."""

    __slots__ = (
        "arr", "boundary", "constraint", "finish", "index", "logit_row", "n_fed", "n_out", "out",
        "pending", "pos", "prompt", "request", "reused", "sampler", "slot", "text", "wait",
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
        self.text = ""
        self.n_out = 0
        self.finish: str | None = None
        self.sampler: Any = None
        self.constraint: JsonConstraint | None = None
        self.logit_row = -1  # batch row whose logits this sequence samples from


def _common(a: Any, b: Any, limit: int) -> int:
    """Length of the common prefix of two token arrays, at most ``limit``."""
    n = min(len(a), len(b), limit)
    if n <= 0:
        return 0
    import numpy as np

    diff = np.flatnonzero(np.asarray(a[:n]) != np.asarray(b[:n]))
    return int(diff[0]) if diff.size else n


class _PrefixCache:
    """Prompt prefixes kept between calls in reserved sequence ids, least recently used out first.

    An entry's KV cells are shared with the sequence it was copied from, so
    keeping it costs no compute; ``budget`` bounds the cells entries hold
    (counted per entry, so cells shared by two entries count twice).
    """

    #: Shorter prefixes are not worth a sequence id.
    MIN_TOKENS = 16

    def __init__(self, lc: Any, memory: Any, ids: list[int], budget: int) -> None:
        self.lc, self.memory, self.budget = lc, memory, budget
        self.ids = list(ids)
        self.free = list(reversed(ids))
        self.entries: OrderedDict[int, Any] = OrderedDict()  # id -> tokens, oldest first
        self.tokens = 0

    def match(self, arr: Any, limit: int) -> tuple[int, int]:
        """(tokens, sequence id) of the entry sharing the longest prefix with ``arr``."""
        best, best_id = 0, -1
        for sid, tokens in self.entries.items():
            n = _common(tokens, arr, limit)
            if n > best:
                best, best_id = n, sid
        return best, best_id

    def touch(self, sid: int) -> None:
        self.entries.move_to_end(sid)

    def insert(self, src: int, tokens: Any) -> None:
        """Keep ``tokens`` (positions 0.. of sequence ``src``) unless an entry covers them."""
        n = len(tokens)
        if n < self.MIN_TOKENS or n > self.budget:
            return
        for sid, known in list(self.entries.items()):
            common = _common(known, tokens, n)
            if common == n:  # an entry as long or longer already serves these prompts
                self.touch(sid)
                return
            if common == len(known):  # a shorter entry this one supersedes
                self._drop(sid)
        while self.entries and (self.tokens + n > self.budget or not self.free):
            self._drop(next(iter(self.entries)))
        sid = self.free.pop()
        self.lc.llama_memory_seq_cp(self.memory, src, sid, 0, n)
        self.entries[sid] = tokens
        self.tokens += n

    def _drop(self, sid: int) -> None:
        self.lc.llama_memory_seq_rm(self.memory, sid, -1, -1)
        self.tokens -= len(self.entries.pop(sid))
        self.free.append(sid)

    def forget(self) -> None:
        """Drop the index after the caller cleared the whole KV cache."""
        self.entries.clear()
        self.tokens = 0
        self.free = list(reversed(self.ids))


class _Run:
    """One ``generate`` call: a queue of requests flowing through the slots."""

    def __init__(
        self, backend: LlamaCppBackend, requests: Sequence[LLMRequest], prompts: list[list[int]]
    ) -> None:
        self.b = backend
        self.lc = backend._lc
        self.requests = requests
        self.prompts = prompts
        self.results: list[Completion | None] = [None] * len(requests)
        self.queue = deque(range(len(requests)))
        self.free = list(range(backend.n_slots - 1, -1, -1))
        self.active: list[_Seq] = []
        self.share = backend.options.share_prefixes
        self.cache = backend._prefixes if self.share else None
        batch = backend._batch
        n = backend.n_batch
        import numpy as np  # with the llamacpp extra; kept out of plugin loading

        self.np = np
        self.as_array = np.ctypeslib.as_array
        self.tok = np.ctypeslib.as_array(batch.token, shape=(n,))
        self.pos = np.ctypeslib.as_array(batch.pos, shape=(n,))
        self.nseq = np.ctypeslib.as_array(batch.n_seq_id, shape=(n,))
        self.logits = np.ctypeslib.as_array(batch.logits, shape=(n,))
        self.seq_ptrs = [batch.seq_id[i] for i in range(n)]

    def run(self) -> list[Completion]:
        lc, b = self.lc, self.b
        self._clear_slots()
        try:
            while self.queue or self.active:
                self._admit()
                rows = self._fill_batch()
                if b._batch.n_tokens == 0:
                    raise RuntimeError("llamacpp: no sequence had a token to decode")
                rc = lc.llama_decode(b._ctx, b._batch)
                if rc != 0:
                    raise RuntimeError(f"llama_decode failed with code {rc}")
                self._after_decode()
                self._sample(rows)
        except BaseException:
            # Cells of a failed call may be half written: keep no prefix either.
            lc.llama_memory_clear(b._memory, True)
            if b._prefixes is not None:
                b._prefixes.forget()
            raise
        finally:
            for seq in self.active:
                lc.llama_sampler_free(seq.sampler)
            self.active.clear()
            self._clear_slots()
        return [r for r in self.results if r is not None]

    def _clear_slots(self) -> None:
        """Empty the decoding sequences; the prefix cache's ids keep their cells."""
        for slot in range(self.b.n_slots):
            self.lc.llama_memory_seq_rm(self.b._memory, slot, -1, -1)

    def _admit(self) -> None:
        while self.queue and self.free:
            index = self.queue.popleft()
            req = self.requests[index]
            seq = _Seq(index, req, self.prompts[index], self.free.pop())
            seq.sampler = self._sampler(req)
            if req.schema is not None:
                seq.constraint = self.b._constraints().start(req.schema)
            if self.share:
                seq.arr = self.np.asarray(seq.prompt, dtype=self.np.int32)
                self._reuse(seq)
            self.active.append(seq)

    def _reuse(self, seq: _Seq) -> None:
        """Start ``seq`` from the longest prefix already in the cache, or wait for one."""
        limit = len(seq.prompt) - 1  # the last prompt token is decoded for its logits
        ready, source = 0, -1
        if self.cache is not None:
            seq.boundary = self.b.prefix_boundary(seq.request, seq.prompt)
            ready, source = self.cache.match(seq.arr, limit)
        from_cache = ready > 0
        later, leader = 0, None
        for other in self.active:
            n = _common(other.arr, seq.arr, limit)
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
        self.lc.llama_memory_seq_cp(self.b._memory, source, seq.slot, 0, n)
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
        n, cap = 0, self.b.n_batch
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
        self.b._batch.n_tokens = n
        return rows

    def _put(self, i: int, token: int, pos: int, slot: int, logits: bool) -> None:
        self.tok[i] = token
        self.pos[i] = pos
        self.nseq[i] = 1
        self.seq_ptrs[i][0] = slot
        self.logits[i] = logits

    def _sample(self, rows: list[_Seq]) -> None:
        lc, b = self.lc, self.b
        constrained = [s for s in rows if s.constraint is not None]
        if constrained:
            masks = b._constraints().masks([s.constraint for s in constrained])  # type: ignore[misc]
            for seq, allowed in zip(constrained, masks, strict=True):
                ptr = lc.llama_get_logits_ith(b._ctx, seq.logit_row)
                apply_mask(self.as_array(ptr, shape=(b.n_vocab,)), allowed)
        for seq in rows:
            token = lc.llama_sampler_sample(seq.sampler, b._ctx, seq.logit_row)
            self._advance(seq, token)
            if seq.finish is not None:
                self._retire(seq)

    def _advance(self, seq: _Seq, token: int) -> None:
        req, b = seq.request, self.b
        if token in b._eog:
            seq.finish = "stop"
            return
        seq.n_out += 1
        if seq.constraint is not None:
            seq.constraint.consume(token)
        seq.out += b._pieces[token]
        if req.stop:
            before = len(seq.text)
            seq.text = seq.out.decode("utf-8", errors="ignore")
            cut = first_stop(seq.text, req.stop, before)
            if cut is not None:
                seq.text = seq.text[:cut]
                seq.finish = "stop"
                return
        if seq.constraint is not None and seq.constraint.finished:
            seq.finish = "stop"
        elif seq.n_out >= req.max_tokens or seq.pos + 1 >= b.n_ctx:
            seq.finish = "length"
        else:
            seq.pending = token

    def _retire(self, seq: _Seq) -> None:
        lc = self.lc
        if not seq.request.stop:
            seq.text = seq.out.decode("utf-8", errors="ignore")
        self.results[seq.index] = json_completion(
            seq.text,
            seq.request.schema,
            finish_reason=seq.finish or "stop",
            prompt_tokens=len(seq.prompt),
            completion_tokens=seq.n_out,
            prompt_tokens_decoded=len(seq.prompt) - seq.reused,
        )
        lc.llama_sampler_free(seq.sampler)
        lc.llama_memory_seq_rm(self.b._memory, seq.slot, -1, -1)
        self.active.remove(seq)
        self.free.append(seq.slot)
