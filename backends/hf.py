"""The transformers backend: batched decoding with per-request sampling.

It runs its own decoding loop instead of ``model.generate`` because every
request of a batch carries its own temperature, top-k, top-p, seed, stop
strings and (optionally) JSON schema, which ``generate`` applies batch-wide.
Prompts are left-padded and decoded together with a KV cache; each request
samples with its own ``torch.Generator`` seeded from ``request.seed``, and
constrained requests get an llguidance token mask before sampling. When
every prompt of a chunk starts with the same tokens (one edit type, one
example set), that prefix is run once and its KV cache repeated over the
batch; requests are ordered by their tokens so such prompts share a chunk.

Models: a Hugging Face checkpoint folder, a hub id (downloaded only when the
user wrote one, ``hf:org/name``), or a GGUF file that transformers dequantizes
(needs ``gguf`` and ``accelerate``), including the embedded SmolLM2 model.
torch and transformers are imported when the backend is built.

A GGUF is converted once: the first load parses it (one parse for config,
tokenizer and weights) and saves the dequantized checkpoint under
:func:`~instructgen.backends.models.converted_cache_dir`, keyed by the file's
sha256, the transformers version and the dtype; later loads read that folder.
Concurrent first loads (replicas, actors on one node) convert once under a file
lock while the others wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs

from instructgen.errors import ModelNotFoundError, UserError
from instructgen.records import BackendIdentity, Completion, LLMRequest

from .base import Backend, checked_prompts, file_sha256, first_stop, json_completion
from .chat import ChatTemplate, ChatTemplateError
from .constrain import Constrainer, JsonConstraint, hf_tokenizer
from .models import EMBEDDED_MODEL, converted_cache_dir

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
                loaded = _load_gguf(transformers, self.source, self.dtype, load)
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
        self._forward_names = _forward_names(self.model)
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
        # Prompts that start alike share a chunk (their common prefix runs once);
        # those are mostly of similar length, so little compute goes to padding.
        order = sorted(range(len(requests)), key=lambda i: prompts[i])
        out: list[Completion | None] = [None] * len(requests)
        size = self.options.batch_size
        with self._lock, self._torch.inference_mode():
            for start in range(0, len(order), size):
                chunk = order[start: start + size]
                done = self._generate_chunk(
                    [requests[i] for i in chunk], [prompts[i] for i in chunk]
                )
                for i, completion in zip(chunk, done, strict=True):
                    out[i] = completion
        return [c for c in out if c is not None]

    def _generate_chunk(
        self, requests: list[LLMRequest], prompts: list[list[int]]
    ) -> list[Completion]:
        torch, dev = self._torch, self.device
        n = len(requests)
        cache_name, keep_name = self._forward_names
        shared = _shared_prefix(prompts) if n > 1 else 0
        if shared < _MIN_SHARED:
            shared = 0
        width = max(len(p) for p in prompts) - shared
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
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
            result = self.model(input_ids=head, use_cache=True, **extra)
            cache = result["cache"] if "cache" in result else result["past_key_values"]
            cache.batch_repeat_interleave(n)
            mask = torch.cat([torch.ones((n, shared), dtype=mask.dtype, device=dev), mask], dim=1)

        states = [_Row(req, len(p), self, dev) for req, p in zip(requests, prompts, strict=True)]
        for row, state in enumerate(states):
            state.decoded = state.n_prompt - shared + (shared if row == 0 else 0)
        budget = max(
            min(r.max_tokens, self.n_ctx - len(p))
            for r, p in zip(requests, prompts, strict=True)
        )
        for _step in range(budget):
            extra = {cache_name: cache} if cache is not None else {}
            if keep_name:
                extra[keep_name] = 1  # logits of the last position only
            result = self.model(
                input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra
            )
            cache = result["cache"] if "cache" in result else result["past_key_values"]
            logits = result.logits[:, -1, :].float()
            tokens = self._pick(logits, states)
            for row, state in enumerate(states):
                if state.finish is None:
                    state.advance(int(tokens[row]))
            if all(s.finish is not None for s in states):
                break
            feed = [s.last if s.finish is None else self.pad_id for s in states]
            ids = torch.tensor(feed, dtype=torch.long, device=dev).unsqueeze(1)
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=dev)], dim=1)
            positions = positions[:, -1:] + 1
        return [s.completion() for s in states]

    def _pick(self, logits: Any, states: list[_Row]) -> Any:
        """One token per row: masked by the grammar, then greedy or seeded sampling."""
        torch = self._torch
        live = [i for i, s in enumerate(states) if s.finish is None]
        constrained = [i for i in live if states[i].constraint is not None]
        if constrained:
            allowed = self._constraints().masks([states[i].constraint for i in constrained])  # type: ignore[misc]
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

    def decode(self, tokens: list[int]) -> str:
        """Text of generated tokens, without special tokens or space clean-up."""
        return self.tokenizer.decode(
            tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False
        )

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
        if self.device.type == "cuda":
            self._torch.cuda.empty_cache()


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


def _forward_names(model: Any) -> tuple[str, str | None]:
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


def _resolve(model: str) -> Path | str:
    from instructgen.manager import make_registry

    from .models import resolve_model

    return resolve_model(make_registry().get_models(), model, "transformers")


def _gguf_file_type(path: Path) -> str:
    """Quantization name stored in a GGUF header (``general.file_type``).

    Called inside :func:`_parse_once`, so it reuses the parse transformers made.
    """
    try:
        import gguf

        reader = gguf.GGUFReader(str(path))
        field = reader.fields.get("general.file_type")
        if field is None:
            return "gguf"
        value = int(field.parts[field.data[0]][0])
        return gguf.LlamaFileType(value).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (ImportError, ValueError, KeyError, IndexError):
        return "gguf"


# -- GGUF conversion cache -----------------------------------------------------------------

#: Written last into a converted folder: what it was made from (and that it is complete).
CONVERTED_META = "instructgen-converted.json"
_PARSE_LOCK = threading.Lock()
_Loaded = tuple[Any, Any, str, "Path | None"]


def converted_folder(sha256: str, transformers_version: str, dtype: str) -> Path:
    """Cache folder of one GGUF (by content) converted by one transformers version."""
    return converted_cache_dir() / f"{sha256[:32]}-transformers-{transformers_version}-{dtype}"


def _load_gguf(transformers: Any, path: Path, dtype: Any, load: dict[str, Any]) -> _Loaded:
    """Tokenizer, model, file type and cache folder of a GGUF: from the cache, else converted.

    The first load takes an exclusive lock on the folder's lock file, so
    concurrent first loads on one machine convert once and the others read the
    result. A cache that cannot be written only costs converting again.
    """
    dtype_name = str(dtype).removeprefix("torch.")
    folder = converted_folder(file_sha256(path), transformers.__version__, dtype_name)
    found = _read_converted(transformers, folder, dtype, load)
    if found is not None:
        return found
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = (folder.parent / f".{folder.name}.lock").open("a")
    except OSError as exc:
        warnings.warn(f"cannot use the converted-GGUF cache {folder.parent} ({exc}); "
                      f"converting {path.name} in memory, again on every load",
                      RuntimeWarning, stacklevel=2)
        return _convert(transformers, path, dtype, load, None)
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process converting: wait for its result
        found = _read_converted(transformers, folder, dtype, load)
        if found is not None:
            return found
        if folder.exists():  # damaged (a file deleted by hand): convert it again
            shutil.rmtree(folder, ignore_errors=True)
        return _convert(transformers, path, dtype, load, folder)


def _read_converted(transformers: Any, folder: Path, dtype: Any,
                    load: dict[str, Any]) -> _Loaded | None:
    try:
        meta = json.loads((folder / CONVERTED_META).read_text())
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), **load)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, **load)
    except (OSError, ValueError):
        return None
    return tokenizer, model, str(meta.get("file_type") or "gguf"), folder


def _convert(transformers: Any, path: Path, dtype: Any, load: dict[str, Any],
             folder: Path | None) -> _Loaded:
    """Load the GGUF with one parse; save the checkpoint atomically into ``folder``."""
    where, gguf = {**load, "gguf_file": path.name}, str(path.parent)
    with _parse_once():
        model = transformers.AutoModelForCausalLM.from_pretrained(gguf, dtype=dtype, **where)
        tokenizer = transformers.AutoTokenizer.from_pretrained(gguf, **where)
        file_type = _gguf_file_type(path)
    if folder is None:
        return tokenizer, model, file_type, None
    # The dequantized model is an ordinary dense one; the GGUF quantizer only refuses saving.
    model.hf_quantizer = None
    with contextlib.suppress(AttributeError):
        del model.config.quantization_config
    tmp = folder.parent / f".{folder.name}.{os.getpid()}.tmp"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        meta = {"source": str(path), "sha256": file_sha256(path), "file_type": file_type,
                "transformers": transformers.__version__,
                "dtype": str(dtype).removeprefix("torch.")}
        (tmp / CONVERTED_META).write_text(json.dumps(meta, indent=1) + "\n")
        os.rename(tmp, folder)
    except OSError as exc:  # a full or read-only disk: the model in memory still serves
        shutil.rmtree(tmp, ignore_errors=True)
        warnings.warn(f"could not save the converted {path.name} to {folder}: {exc}; "
                      "the next load converts it again", RuntimeWarning, stacklevel=2)
        return tokenizer, model, file_type, None
    return tokenizer, model, file_type, folder


@contextlib.contextmanager
def _parse_once() -> Iterator[None]:
    """Within this block a GGUF file is parsed once, however often it is opened.

    transformers opens the file separately for the config, the tokenizer and
    the weights (each parse walks the whole vocabulary), and rebuilds gguf's
    tensor-name table per tensor; both are pure functions of their arguments.
    """
    import gguf

    class SharedReader(gguf.GGUFReader):  # type: ignore[misc,name-defined]
        parsed: ClassVar[dict[tuple[str, tuple[Any, ...]], Any]] = {}

        def __new__(cls, path: Any, *args: Any, **kwargs: Any) -> Any:
            hit = cls.parsed.get(_reader_key(path, args, kwargs))
            return hit if hit is not None else super().__new__(cls)

        def __init__(self, path: Any, *args: Any, **kwargs: Any) -> None:
            key = _reader_key(path, args, kwargs)
            if self.parsed.get(key) is self:
                return
            super().__init__(path, *args, **kwargs)
            self.parsed[key] = self

    with _PARSE_LOCK:
        saved = gguf.GGUFReader, gguf.get_tensor_name_map
        gguf.GGUFReader = SharedReader
        gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(saved[1])
        try:
            yield
        finally:
            gguf.GGUFReader, gguf.get_tensor_name_map = saved
            SharedReader.parsed.clear()


def _reader_key(path: Any, args: tuple[Any, ...],
                kwargs: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    return os.path.realpath(path), (*args, *sorted(kwargs.items()))


def _folder_sha256(folder: Path) -> str:
    """One digest over a checkpoint's weight and tokenizer files (each hashed once, memoized)."""
    h = hashlib.sha256()
    patterns = ("*.safetensors", "*.bin", "config.json", "tokenizer*.json")
    files = sorted({f for pat in patterns for f in folder.glob(pat) if f.is_file()})
    for f in files:
        h.update(f"{f.name}:{file_sha256(f)}\n".encode())
    return h.hexdigest() if files else ""


__all__ = ["TransformersBackend", "TransformersOptions"]
