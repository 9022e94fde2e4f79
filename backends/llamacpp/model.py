"""The llama.cpp model the backend runs: weights, vocabulary and chat template.

:class:`LlamaModel` owns the loaded ``llama_model`` and everything read off it
once (every token's text, the end-of-generation tokens, the chat template, the
grammar tokenizer made on first use) and answers the other parts of the
backend through methods: a prompt's tokens, a label's first tokens, the
grammar. Whether llama.cpp's extra CPU buffer types are safe is decided before
the load (:mod:`instructgen.backends.native`).
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from instructgen.backend import BackendIdentity, LLMRequest, file_sha256
from instructgen.errors import ModelNotFoundError

from ..chat import ChatTemplate, ChatTemplateError
from ..constrain import Constrainer, llamacpp_tokenizer
from ..native import decide_extra_buffers
from .options import LlamaCppOptions
from .prefix import common_prefix

_ALL_LAYERS = 0x7FFFFFFF
_log = logging.getLogger(__name__)


class LlamaModel:
    """A GGUF model loaded through llama.cpp's C API; see the module docstring."""

    def __init__(self, lc: Any, options: LlamaCppOptions, path: Path) -> None:
        #: The ``llama_cpp`` bindings module.
        self.lc = lc
        self.path = path
        lc.llama_backend_init()
        mparams = lc.llama_model_default_params()
        mparams.n_gpu_layers = _ALL_LAYERS if options.n_gpu_layers == -1 else options.n_gpu_layers
        #: Whether this load uses extra buffer types (see the ``extra_buffers`` option).
        self.extra_buffers = decide_extra_buffers(options.extra_buffers, path,
                                                  options.n_gpu_layers)
        mparams.use_extra_bufts = self.extra_buffers
        #: The ``llama_model`` pointer; ``None`` once closed.
        self.handle: Any = lc.llama_model_load_from_file(str(path).encode(), mparams)
        if not self.handle:
            raise ModelNotFoundError(f"llama.cpp could not load {path} (not a GGUF model?)")
        self.vocab = lc.llama_model_get_vocab(self.handle)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        trained = int(lc.llama_model_n_ctx_train(self.handle))
        if 0 < trained < options.n_ctx:
            _log.warning(
                "llamacpp: n_ctx = %d is above the %d tokens %s was trained on; sequences "
                "longer than that tend to lose coherence, so lower n_ctx unless the model is "
                "known to extrapolate", options.n_ctx, trained, path.name)
        #: Every token's text, by id.
        self.pieces = [self.piece(t) for t in range(self.n_vocab)]
        #: Tokens that end an answer.
        self.eog = frozenset(t for t in range(self.n_vocab) if lc.llama_vocab_is_eog(self.vocab, t))
        self.template = self._chat_template(options.chat_template)
        self._add_bos = bool(lc.llama_vocab_get_add_bos(self.vocab))
        self._constrainer: Constrainer | None = None
        self._choice_memo: dict[Any, dict[str, list[int]]] = {}

    @property
    def closed(self) -> bool:
        return self.handle is None

    # -- tokens ----------------------------------------------------------------------------

    def piece(self, token: int, special: bool = False) -> bytes:
        """The text of one token, as bytes (a token may end inside a UTF-8 character)."""
        buf = ctypes.create_string_buffer(256)
        n = self.lc.llama_token_to_piece(self.vocab, token, buf, 256, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.lc.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        return buf.raw[:n]

    def tokenize(self, text: str, *, add_special: bool = True) -> list[int]:
        """Token ids of ``text``; special tokens written in the text are parsed."""
        data = text.encode()
        size = len(data) + 16
        while True:
            buf = (self.lc.llama_token * size)()
            n = self.lc.llama_tokenize(self.vocab, data, len(data), buf, size, add_special, True)
            if n >= 0:
                return list(buf[:n])
            size = -n

    def prompt_tokens(self, request: LLMRequest) -> list[int]:
        """The request's messages through the chat template, as token ids."""
        text = self.template.render(request.messages)
        bos = self.template.bos_token
        add_bos = self._add_bos and not (bos and text.startswith(bos))
        return self.tokenize(text, add_special=add_bos)

    def prefix_boundary(self, request: LLMRequest, prompt: list[int]) -> int:
        """Tokens of ``prompt`` before its last message: the part other requests may share."""
        if len(request.messages) < 2:
            return 0
        head = self.prompt_tokens(attrs.evolve(request, messages=request.messages[:-1]))
        return common_prefix(head, prompt, len(prompt) - 1)

    def choice_tokens(self, choices: Mapping[str, Sequence[str]]) -> dict[str, list[int]]:
        """Each label's distinct first tokens of the texts that spell it ("yes": ["yes", "Yes"]).

        Memoised: a run asks the same labels again and again.
        """
        key = tuple((label, tuple(texts)) for label, texts in choices.items())
        found = self._choice_memo.get(key)
        if found is None:
            found = self._choice_memo[key] = {
                label: sorted({self._first_token(label, text) for text in texts})
                for label, texts in choices.items()}
        return found

    def _first_token(self, label: str, text: str) -> int:
        ids = self.tokenize(text, add_special=False)
        if not ids:
            raise ValueError(f"choices: label {label!r} has a text that is no token ({text!r})")
        return ids[0]

    def constraints(self) -> Constrainer:
        """The grammar engine over this vocabulary, built on the first constrained request."""
        if self._constrainer is None:
            tok = llamacpp_tokenizer(self.vocab, sorted(self.eog))
            self._constrainer = Constrainer(tok, self.n_vocab)
        return self._constrainer

    # -- identity --------------------------------------------------------------------------

    def identity(self, options: LlamaCppOptions) -> BackendIdentity:
        """Who answers: the weights' hash and quantization, the engine and the template."""
        settings: dict[str, Any] = {
            "engine": f"llama-cpp-python {getattr(self.lc, '__version__', '?')}",
            "device": "cpu" if options.n_gpu_layers == 0 else "gpu",
            "flash_attn": options.flash_attn,
            "chat_template_sha256": hashlib.sha256(self.template.source.encode()).hexdigest(),
        }
        return BackendIdentity(
            name="llamacpp",
            model=str(self.path),
            sha256=file_sha256(self.path),
            quantization=self._quantization(),
            settings=settings,
        )

    def _quantization(self) -> str:
        ftype = self.lc.llama_model_ftype(self.handle)
        for name in dir(self.lc):
            if name.startswith("LLAMA_FTYPE_") and getattr(self.lc, name) == ftype:
                short = name.removeprefix("LLAMA_FTYPE_")
                return short.removeprefix("MOSTLY_").removeprefix("ALL_")
        return f"ftype {ftype}"

    # -- loading ---------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = self.lc.llama_model_meta_val_str(self.handle, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.raw[:n].decode("utf-8", errors="replace")
            size = n + 1

    def _chat_template(self, configured: str | None) -> ChatTemplate:
        source = configured or self._meta("tokenizer.chat_template")
        if not source:
            raise ChatTemplateError(
                f"{self.path.name} has no tokenizer.chat_template; set the llamacpp"
                " option chat_template to a Jinja template"
            )
        bos = self.lc.llama_vocab_bos(self.vocab)
        eos = self.lc.llama_vocab_eos(self.vocab)
        return ChatTemplate(
            source,
            bos_token=self.piece(bos, True).decode(errors="replace") if bos >= 0 else "",
            eos_token=self.piece(eos, True).decode(errors="replace") if eos >= 0 else "",
        )

    def close(self) -> None:
        if self.handle is not None:
            self.lc.llama_model_free(self.handle)
            self.handle = None
