"""The transformers model the backend runs: weights, tokenizer and chat template on one device.

:class:`LoadedModel` owns everything loaded (torch, the model, its tokenizer, the
chat template, the grammar tokenizer made on first use) and answers the decoder
and the scorer through methods: a prompt's tokens, a forward pass, text of
tokens, the grammar. A GGUF file is converted once (:mod:`.gguf`); a checkpoint
folder or a hub id loads as transformers loads it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from instructgen.backend import BackendIdentity, LLMRequest, file_sha256
from instructgen.errors import ModelNotFoundError, UserError

from ..chat import ChatTemplate, ChatTemplateError
from ..constrain import Constrainer, hf_tokenizer
from .gguf import load_gguf
from .options import TransformersOptions


class LoadedModel:
    """A causal LM with its tokenizer, in eval mode on its device; see the module docstring."""

    def __init__(self, options: TransformersOptions, source: Path | str) -> None:
        try:
            import torch
            import transformers
        except ImportError:
            raise UserError(
                "backend transformers needs torch and transformers:"
                " pip install 'instructgen[transformers]'"
            ) from None
        #: The torch module, for the decoder's and scorer's tensors.
        self.torch = torch
        if options.n_threads:
            torch.set_num_threads(options.n_threads)
        self.source = source
        self.device = _pick_device(torch, options.device)
        self.dtype = _pick_dtype(torch, options.dtype, self.device)
        load: dict[str, Any] = {"trust_remote_code": options.trust_remote_code}
        #: The GGUF's quantization name (``Q4_1``...), for GGUF models only.
        self.file_type: str | None = None
        #: The converted checkpoint folder a GGUF was loaded from or saved to, if any.
        self.converted: Path | None = None
        try:
            if isinstance(source, Path) and source.suffix.lower() == ".gguf":
                loaded = load_gguf(transformers, source, self.dtype, load)
                self.tokenizer, self.model, self.file_type, self.converted = loaded
            else:
                if options.revision and isinstance(source, str):
                    load["revision"] = options.revision
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(source), **load)
                self.model = transformers.AutoModelForCausalLM.from_pretrained(
                    str(source), dtype=self.dtype, **load
                )
        except OSError as exc:
            raise ModelNotFoundError(
                f"transformers could not load {source}: {' '.join(str(exc).split())[:300]}"
            ) from None
        self.model.to(self.device)
        self.model.eval()
        self.engine = f"transformers {transformers.__version__}, torch {torch.__version__}"

        tok = self.tokenizer
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "left"
        self.pad_id = int(tok.pad_token_id)
        self.n_vocab = int(self.model.get_output_embeddings().weight.shape[0])
        self.n_ctx = options.n_ctx or int(
            getattr(self.model.config, "max_position_embeddings", 0) or 2048
        )
        #: Tokens that end an answer.
        self.eos = self._eos_ids()
        #: ``forward`` keyword names for the KV cache and last-logits-only.
        self.cache_name, self.keep_name = forward_names(self.model)
        self.template = self._chat_template(options.chat_template)
        self._constrainer: Constrainer | None = None

    # -- what the decoder and the scorer ask -------------------------------------------------

    def prompt_tokens(self, request: LLMRequest) -> list[int]:
        """The request's messages through the chat template, as token ids."""
        text = self.template.render(request.messages)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def first_token(self, text: str) -> int | None:
        """The first token of ``text`` on its own (no special tokens), or ``None`` for none."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return int(ids[0]) if ids else None

    def decode(self, tokens: list[int]) -> str:
        """Text of generated tokens, without special tokens or space clean-up."""
        return self.tokenizer.decode(
            tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def forward(self, **inputs: Any) -> Any:
        """One forward pass; refuses after :meth:`close`."""
        if self.model is None:
            raise RuntimeError("the transformers backend is closed")
        return self.model(**inputs)

    def constraints(self) -> Constrainer:
        """The grammar engine over this tokenizer, built on the first constrained request."""
        if self._constrainer is None:
            lltok = hf_tokenizer(self.tokenizer, self.n_vocab, sorted(self.eos))
            self._constrainer = Constrainer(lltok, self.n_vocab)
        return self._constrainer

    def identity(self) -> BackendIdentity:
        """Who answers: the weights' hash, the dtype (and GGUF quantization) and the template."""
        src = self.source
        sha, quant = "", str(self.dtype).removeprefix("torch.")
        if isinstance(src, Path) and src.is_file():
            sha = file_sha256(src)
            quant = f"{self.file_type or 'gguf'} dequantized to {quant}"
        elif isinstance(src, Path):
            sha = _folder_sha256(src)
        else:
            sha = str(getattr(self.model.config, "_commit_hash", "") or "")
        settings = {
            "engine": self.engine,
            "device": self.device.type,
            "chat_template_sha256": hashlib.sha256(self.template.source.encode()).hexdigest(),
        }
        return BackendIdentity(
            name="transformers", model=str(src), sha256=sha, quantization=quant, settings=settings
        )

    def close(self) -> None:
        self.model = None
        if self.device.type == "cuda":
            self.torch.cuda.empty_cache()

    # -- loading ---------------------------------------------------------------------------

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

    def _chat_template(self, configured: str | None) -> ChatTemplate:
        source = configured or getattr(self.tokenizer, "chat_template", None)
        if not isinstance(source, str) or not source:
            raise ChatTemplateError(
                f"{self.source} has no chat template; set the transformers option chat_template"
            )
        return ChatTemplate(
            source,
            bos_token=self.tokenizer.bos_token or "",
            eos_token=self.tokenizer.eos_token or "",
        )


def forward_names(model: Any) -> tuple[str, str | None]:
    """Keyword names for the KV cache and last-logits-only, which moved across versions."""
    import inspect

    params = inspect.signature(model.forward).parameters
    cache = "cache" if "cache" in params else "past_key_values"
    keep = next((k for k in ("logits_to_keep", "num_logits_to_keep") if k in params), None)
    return cache, keep


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


def _folder_sha256(folder: Path) -> str:
    """One digest over a checkpoint's weight and tokenizer files (each hashed once, memoized)."""
    h = hashlib.sha256()
    patterns = ("*.safetensors", "*.bin", "config.json", "tokenizer*.json")
    files = sorted({f for pat in patterns for f in folder.glob(pat) if f.is_file()})
    for f in files:
        h.update(f"{f.name}:{file_sha256(f)}\n".encode())
    return h.hexdigest() if files else ""
