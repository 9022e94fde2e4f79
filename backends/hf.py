"""The transformers backend: batched decoding with per-request sampling.

It runs its own decoding loop (:mod:`instructgen.backends.hf_decode`) instead
of ``model.generate`` because every request of a batch carries its own
temperature, top-k, top-p, seed, stop strings and (optionally) JSON schema,
which ``generate`` applies batch-wide. Requests are ordered by their tokens so
prompts that start alike share a chunk, whose common prefix runs once.

Models: a Hugging Face checkpoint folder, a hub id (downloaded only when the
user wrote one, ``hf:org/name``), or a GGUF file that transformers dequantizes
(needs ``gguf`` and ``accelerate``), including the embedded SmolLM2 model; a
GGUF is converted once and cached (:mod:`instructgen.backends.hf_gguf`).
It also scores an answer's first token for the edit judge's ``score`` mode
(:mod:`instructgen.backends.hf_score`).
torch and transformers are imported when the backend is built.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from instructgen.backend import Backend, file_sha256, generate_split
from instructgen.errors import ModelNotFoundError, UserError
from instructgen.records import BackendIdentity, Completion, LLMRequest

from .base import checked_prompts
from .chat import ChatTemplate, ChatTemplateError
from .constrain import Constrainer, hf_tokenizer
from .hf_decode import forward_names, generate_chunk
from .hf_gguf import load_gguf
from .hf_score import first_token_logprobs, score_request
from .models import EMBEDDED_MODEL, resolve_builtin

Dtype = Literal["auto", "float32", "float16", "bfloat16"]


@attrs.frozen
class TransformersOptions:
    """Options of the ``transformers`` backend."""

    #: Registered name, checkpoint folder, ``.gguf`` file, or ``hf:org/name``.
    model: str = EMBEDDED_MODEL
    #: ``auto`` picks CUDA when available, else CPU; or ``cpu``, ``cuda``, ``cuda:1``.
    device: str = "auto"
    #: ``auto``: bfloat16 on GPUs that support it, float16 on other GPUs, float32 on CPU.
    dtype: Dtype = "auto"
    #: CPU threads for torch; ``None`` keeps torch's default (every core).
    n_threads: int | None = None
    #: Sequences per forward pass; larger batches are split into chunks of this size.
    batch_size: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    #: Context window in tokens; ``None`` uses the model's ``max_position_embeddings``.
    n_ctx: int | None = None
    #: Jinja chat template to use instead of the tokenizer's.
    chat_template: str | None = None
    #: Hub revision (branch, tag or commit) for ``hf:`` models.
    revision: str | None = None
    #: Allow custom modelling code from the checkpoint (runs code from the model repo).
    trust_remote_code: bool = False


class TransformersBackend(Backend):
    """Batched generation with a transformers causal LM; see the module docstring."""

    def __init__(
        self, options: TransformersOptions | None = None, *, model_path: Path | str | None = None
    ) -> None:
        self.options = options = options or TransformersOptions()
        try:
            import torch
            import transformers
        except ImportError:
            raise UserError(
                "backend transformers needs torch and transformers:"
                " pip install 'instructgen[transformers]'"
            ) from None
        self._torch = torch
        if options.n_threads:
            torch.set_num_threads(options.n_threads)
        self.source = model_path if model_path is not None else _resolve(options.model)
        self.device = _pick_device(torch, options.device)
        self.dtype = _pick_dtype(torch, options.dtype, self.device)
        self._lock = threading.Lock()

        load: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
        #: The GGUF's quantization name (``Q4_1``...), for GGUF models only.
        self._file_type: str | None = None
        #: The converted checkpoint folder a GGUF was loaded from or saved to, if any.
        self.converted: Path | None = None
        try:
            if isinstance(self.source, Path) and self.source.suffix.lower() == ".gguf":
                loaded = load_gguf(transformers, self.source, self.dtype, load)
                self.tokenizer, self.model, self._file_type, self.converted = loaded
            else:
                where = str(self.source)
                if options.revision and isinstance(self.source, str):
                    load["revision"] = options.revision
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(where, **load)
                self.model = transformers.AutoModelForCausalLM.from_pretrained(
                    where, dtype=self.dtype, **load
                )
        except OSError as exc:
            raise ModelNotFoundError(
                f"transformers could not load {self.source}: {' '.join(str(exc).split())[:300]}"
            ) from None
        self.model.to(self.device)
        self.model.eval()

        tok = self.tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left"
        self.pad_id = int(tok.pad_token_id)
        self.n_vocab = int(self.model.get_output_embeddings().weight.shape[0])
        self.n_ctx = options.n_ctx or int(
            getattr(self.model.config, "max_position_embeddings", 0) or 2048
        )
        self._eos = self._eos_ids()
        self._forward_names = forward_names(self.model)
        self._template = self._chat_template()
        self._constrainer: Constrainer | None = None
        self._identity = self._make_identity(transformers.__version__)

    # -- identity ------------------------------------------------------------------------

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    def _make_identity(self, version: str) -> BackendIdentity:
        src = self.source
        sha, quant = "", str(self.dtype).removeprefix("torch.")
        if isinstance(src, Path) and src.is_file():
            sha = file_sha256(src)
            quant = f"{self._file_type or 'gguf'} dequantized to {quant}"
        elif isinstance(src, Path):
            sha = _folder_sha256(src)
        else:
            sha = str(getattr(self.model.config, "_commit_hash", "") or "")
        settings = {
            "engine": f"transformers {version}, torch {self._torch.__version__}",
            "device": self.device.type,
            "chat_template_sha256": hashlib.sha256(self._template.source.encode()).hexdigest(),
        }
        return BackendIdentity(
            name="transformers", model=str(src), sha256=sha, quantization=quant, settings=settings
        )

    # -- setup helpers -------------------------------------------------------------------

    def _eos_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for value in (
            getattr(self.model.generation_config, "eos_token_id", None),
            self.tokenizer.eos_token_id,
        ):
            if isinstance(value, int):
                ids.add(value)
            elif value:
                ids.update(int(v) for v in value)
        return frozenset(ids)

    def _chat_template(self) -> ChatTemplate:
        source = self.options.chat_template or getattr(self.tokenizer, "chat_template", None)
        if not isinstance(source, str) or not source:
            raise ChatTemplateError(
                f"{self.source} has no chat template; set the transformers option chat_template"
            )
        return ChatTemplate(
            source,
            bos_token=self.tokenizer.bos_token or "",
            eos_token=self.tokenizer.eos_token or "",
        )

    def _constraints(self) -> Constrainer:
        if self._constrainer is None:
            lltok = hf_tokenizer(self.tokenizer, self.n_vocab, sorted(self._eos))
            self._constrainer = Constrainer(lltok, self.n_vocab)
        return self._constrainer

    def prompt_tokens(self, request: LLMRequest) -> list[int]:
        """The request's messages through the chat template, as token ids."""
        text = self._template.render(request.messages)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- generation ----------------------------------------------------------------------

    def generate(self, requests: Sequence[LLMRequest]) -> list[Completion]:
        if not requests:
            return []
        prompts = checked_prompts("transformers", requests, self.prompt_tokens, self.n_ctx)
        # A scored request (``choices``) gets a forward pass of its own, unpadded, so its
        # scores do not depend on what it was batched with (see :mod:`.hf_score`).
        return generate_split(
            requests,
            lambda idx: self._generate([requests[i] for i in idx], [prompts[i] for i in idx]),
            lambda idx: [score_request(self, requests[i], prompts[i]) for i in idx])

    def _generate(self, requests: list[LLMRequest], prompts: list[list[int]]) -> list[Completion]:
        # Prompts that start alike share a chunk (their common prefix runs once);
        # those are mostly of similar length, so little compute goes to padding.
        order = sorted(range(len(requests)), key=lambda i: prompts[i])
        out: list[Completion | None] = [None] * len(requests)
        size = self.options.batch_size
        with self._lock, self._torch.inference_mode():
            for start in range(0, len(order), size):
                chunk = order[start: start + size]
                done = generate_chunk(
                    self, [requests[i] for i in chunk], [prompts[i] for i in chunk]
                )
                for i, completion in zip(chunk, done, strict=True):
                    out[i] = completion
        return [c for c in out if c is not None]

    def first_token_logprobs(
        self, request: LLMRequest, choices: Mapping[str, Sequence[str]]
    ) -> dict[str, float]:
        """Log-probability of each choice as the first answer token, from one forward pass.

        Makes this backend a :class:`~instructgen.backends.base.FirstTokenScorer`, as
        llamacpp is; ``generate`` answers requests with ``choices`` the same way.
        """
        return first_token_logprobs(self, request, choices)

    def decode(self, tokens: list[int]) -> str:
        """Text of generated tokens, without special tokens or space clean-up."""
        return self.tokenizer.decode(
            tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()


def _pick_device(torch: Any, wanted: str) -> Any:
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(wanted)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"transformers device {wanted!r}: no CUDA device is available")
    return device


def _pick_dtype(torch: Any, wanted: str, device: Any) -> Any:
    if wanted != "auto":
        return getattr(torch, wanted)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _resolve(model: str) -> Path | str:
    return resolve_builtin(model, "transformers")


def _folder_sha256(folder: Path) -> str:
    """One digest over a checkpoint's weight and tokenizer files (each hashed once, memoized)."""
    h = hashlib.sha256()
    patterns = ("*.safetensors", "*.bin", "config.json", "tokenizer*.json")
    files = sorted({f for pat in patterns for f in folder.glob(pat) if f.is_file()})
    for f in files:
        h.update(f"{f.name}:{file_sha256(f)}\n".encode())
    return h.hexdigest() if files else ""


__all__ = ["TransformersBackend", "TransformersOptions"]
