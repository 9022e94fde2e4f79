"""The llama.cpp backend: many sequences decoded together in one context.

Built directly on llama.cpp's low-level API (through llama-cpp-python's
ctypes bindings) rather than ``Llama.create_completion``, which serves one
prompt at a time. This module loads the model and owns the context; the
decoding loop (continuous batching over slots, shared prefixes, constrained
sampling) is :mod:`instructgen.backends.llamacpp_batch`, the prefix cache
kept between calls :mod:`instructgen.backends.llamacpp_prefix`, and
first-token scoring :mod:`instructgen.backends.llamacpp_score`.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.errors import ModelNotFoundError, UserError
from instructgen.records import BackendIdentity, Completion, LLMRequest

from .base import Backend, checked_prompts, file_sha256, generate_split
from .chat import ChatTemplate, ChatTemplateError
from .constrain import Constrainer, llamacpp_tokenizer
from .cpu_share import CoreShare
from .llamacpp_batch import DecodeRun
from .llamacpp_prefix import PrefixCache, common_prefix
from .llamacpp_score import choice_tokens, first_token_logprobs
from .models import EMBEDDED_MODEL, resolve_builtin
from .native_log import route_native_log

_ALL_LAYERS = 0x7FFFFFFF
_log = logging.getLogger(__name__)
#: Sequence ids reserved for the prefix cache (at most; llama.cpp allows 256 in all).
_CACHE_SLOTS = 64


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
    #: CPU threads. ``None``: the cores this process may run on that no other process is
    #: busy with, looked at again every half second while decoding (so two runs on one
    #: machine do not spin against each other; see :mod:`instructgen.backends.cpu_share`).
    #: A number pins the count.
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
        route_native_log(llama_cpp, verbose=options.verbose)
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

        #: The longest sequence (prompt + answer) this backend decodes: ``n_ctx``.
        self.n_ctx = options.n_ctx
        trained = int(lc.llama_model_n_ctx_train(self._model))
        if 0 < trained < options.n_ctx:
            _log.warning(
                "llamacpp: n_ctx = %d is above the %d tokens %s was trained on; sequences "
                "longer than that tend to lose coherence, so lower n_ctx unless the model is "
                "known to extrapolate", options.n_ctx, trained, self.model_path.name)
        self.n_slots = 0  # decoding sequence ids of the current context
        self.slot_cells = 0  # KV cells the current context holds per decoding sequence
        self._threads = CoreShare(len(os.sched_getaffinity(0))) if options.n_threads is None \
            else None
        self._threads_now = 0
        self._prefixes: PrefixCache | None = None
        if options.n_seq_max is not None:
            self._open_context(options.n_seq_max, options.n_ctx)

        self._pieces = [self._piece(t) for t in range(self.n_vocab)]
        self._eog = frozenset(
            t for t in range(self.n_vocab) if lc.llama_vocab_is_eog(self._vocab, t)
        )
        self._template = self._chat_template()
        self._add_bos = bool(lc.llama_vocab_get_add_bos(self._vocab))
        self._constrainer: Constrainer | None = None
        self._choice_memo: dict[Any, dict[str, list[int]]] = {}
        self._identity = self._make_identity()

    def _use_extra_buffers(self) -> bool:
        """The option, or for ``"auto"`` the cached verdict of a crash probe (one warning)."""
        from .native import decide_extra_buffers

        return decide_extra_buffers(self.options.extra_buffers, self.model_path,
                                    self.options.n_gpu_layers)

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

    def choice_tokens(self, choices: Mapping[str, Sequence[str]]) -> dict[str, list[int]]:
        """Each label's first tokens (see :func:`.llamacpp_score.choice_tokens`), memoised."""
        key = tuple((label, tuple(texts)) for label, texts in choices.items())
        found = self._choice_memo.get(key)
        if found is None:
            found = self._choice_memo[key] = choice_tokens(self, choices)
        return found

    def _open_context(self, n_slots: int, slot_cells: int) -> None:
        """A context with ``n_slots`` decoding sequences plus the prefix cache's ids.

        ``slot_cells`` KV cells per decoding sequence: what the longest request of the
        batch can fill (prompt + max_tokens), not ``n_ctx``, because llama.cpp allocates
        and clears every cell up front, so unused room is resident memory.
        """
        lc, options = self._lc, self.options
        self._close_context()
        threads = options.n_threads or (self._threads.current if self._threads else 1)
        budget = options.prefix_cache_tokens
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
        self._ctx = lc.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            raise UserError(
                f"llama.cpp could not create a context of {cparams.n_ctx} tokens"
                f" ({slot_cells} cells per sequence x n_seq_max={n_slots}"
                f" + prefix_cache_tokens={budget if n_cached else 0}); lower one of them"
            )
        self.n_slots, self.slot_cells = n_slots, slot_cells
        self._threads_now = threads
        self.n_batch = lc.llama_n_batch(self._ctx)
        self._memory = lc.llama_get_memory(self._ctx)
        self._batch = lc.llama_batch_init(self.n_batch, 0, 1)
        if n_cached:
            ids = list(range(n_slots, n_slots + n_cached))
            self._prefixes = PrefixCache(lc, self._memory, ids, budget)

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
        return common_prefix(head, prompt, len(prompt) - 1)

    # -- generation ----------------------------------------------------------------------

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        if not requests:
            return []
        if self._model is None:
            raise RuntimeError("the llamacpp backend is closed")
        # Everything that can be refused is refused before the first decode.
        prompts = checked_prompts("llamacpp", requests, self.prompt_tokens, self.n_ctx)
        for req in requests:
            if req.choices is not None:
                self.choice_tokens(req.choices)
        with self._lock:
            want = min(len(requests), int(self._lc.llama_max_parallel_sequences()))
            slots = self.n_slots if self.options.n_seq_max is not None else max(want,
                                                                                 self.n_slots)
            cells = max(self.slot_cells, slot_cells_for(requests, prompts, self.n_ctx))
            if slots != self.n_slots or cells != self.slot_cells:
                self._open_context(slots, cells)  # grows with the runner's batches
            # A scored request runs alone (still reusing the prefix cache): a sequence's
            # logits shift by up to ~0.05 in log-probability with its place in a shared
            # decode, and a verdict must not depend on what it was batched with.
            return generate_split(
                requests,
                lambda idx: DecodeRun(self, [requests[i] for i in idx],
                                      [prompts[i] for i in idx]).run(),
                lambda idx: [DecodeRun(self, [requests[i]], [prompts[i]]).run()[0]
                             for i in idx])

    def fit_threads(self) -> int:
        """Set the decode threads for the next step from the free cores; the count used."""
        if self._threads is None or self._ctx is None:
            return self._threads_now
        wanted = self._threads.threads()
        if wanted != self._threads_now:
            self._lc.llama_set_n_threads(self._ctx, wanted, wanted)
            self._threads_now = wanted
        return wanted

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each choice as the first answer token, in a context of its own.

        Makes this backend a :class:`~instructgen.backends.base.FirstTokenScorer`: the
        reference for ``generate`` with ``choices``, which runs use; see :mod:`.llamacpp_score`.
        """
        return first_token_logprobs(self, request, choices)

    def close(self) -> None:
        lc = self._lc
        self._close_context()
        if self._model is not None:
            lc.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have freed llama_cpp
            self.close()


#: KV cells per sequence are rounded up to this, so batches of similar requests share a size.
_CELL_STEP = 256


def slot_cells_for(requests: Sequence[LLMRequest], prompts: Sequence[Sequence[int]],
                   n_ctx: int) -> int:
    """KV cells one decoding sequence may need in this call: prompt + answer, at most ``n_ctx``."""
    need = max(len(p) + r.max_tokens for r, p in zip(requests, prompts, strict=True))
    return min(n_ctx, -(-need // _CELL_STEP) * _CELL_STEP)


def _resolve(model: str) -> Path:
    found = resolve_builtin(model, "llamacpp")
    assert isinstance(found, Path)  # hub ids are refused for llamacpp
    return found
