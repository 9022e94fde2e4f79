"""The llama.cpp backend: many sequences decoded together in one context.

Built directly on llama.cpp's low-level API (through llama-cpp-python's
ctypes bindings) rather than ``Llama.create_completion``, which serves one
prompt at a time. The backend composes objects that each own their state: the
loaded model (:mod:`.model`), the context it decodes in with its prefix cache
(:mod:`.context`, :mod:`.prefix`), the decoding loop run once per call
(:mod:`.decode`) and the first-token reference scorer (:mod:`.score`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from instructgen.backend import Backend, BackendIdentity, Completion, LLMRequest, generate_split
from instructgen.errors import UserError

from ..local import checked_prompts
from ..models import resolve_builtin
from ..native_log import route_native_log
from .context import DecodeContext
from .decode import DecodeRun
from .model import LlamaModel
from .options import LlamaCppOptions
from .score import Scorer


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
        self.model_path = model_path or model_file(options.model)
        #: The longest sequence (prompt + answer) this backend decodes: ``n_ctx``.
        self.n_ctx = options.n_ctx
        self.loaded = LlamaModel(llama_cpp, options, self.model_path)
        #: Whether this load uses extra buffer types (see the ``extra_buffers`` option).
        self.extra_buffers = self.loaded.extra_buffers
        self.context = DecodeContext(self.loaded, options)
        self.scorer = Scorer(self.loaded, options)
        self._lock = threading.Lock()  # one call at a time on the model and its context
        self._identity = self.loaded.identity(options)

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        if not requests:
            return []
        if self.loaded.closed:
            raise RuntimeError("the llamacpp backend is closed")
        # Everything that can be refused is refused before the first decode.
        prompts = checked_prompts("llamacpp", requests, self.loaded.prompt_tokens, self.n_ctx)
        for req in requests:
            if req.choices is not None:
                self.loaded.choice_tokens(req.choices)
        with self._lock:
            self.context.fit(requests, prompts)
            # A scored request runs alone (still reusing the prefix cache): a sequence's
            # logits shift by up to ~0.05 in log-probability with its place in a shared
            # decode, and a verdict must not depend on what it was batched with.
            return generate_split(
                requests,
                lambda idx: self._run([requests[i] for i in idx], [prompts[i] for i in idx]),
                lambda idx: [self._run([requests[i]], [prompts[i]])[0] for i in idx])

    def _run(self, requests: list[LLMRequest], prompts: list[list[int]]) -> list[Completion]:
        return DecodeRun(self.loaded, self.context, requests, prompts).run()

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each choice as the first answer token, in a context of its own.

        Makes this backend a :class:`~instructgen.backend.FirstTokenScorer`: the
        reference for ``generate`` with ``choices``, which runs use; see :mod:`.score`.
        """
        with self._lock:
            return self.scorer.first_token_logprobs(request, choices)

    def close(self) -> None:
        self.context.close()
        self.loaded.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have freed llama_cpp
            self.close()


def model_file(model: str) -> Path:
    """The GGUF file a registered name, a file or a folder names (hub ids are refused)."""
    found = resolve_builtin(model, "llamacpp")
    assert isinstance(found, Path)  # hub ids are refused for llamacpp
    return found
