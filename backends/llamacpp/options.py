"""The ``llamacpp`` backend's options, as a recipe's ``[backend]`` table sets them."""

from __future__ import annotations

from typing import Literal

import attrs

from ..models import EMBEDDED_MODEL


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
    #: least recently used dropped first); 0 turns the cross-call cache off. ``None``:
    #: half as many cells as the decoding slots hold, at most 8192, so a batch of short
    #: prompts does not carry a large cache it cannot fill (llama.cpp allocates and
    #: clears every cell up front).
    prefix_cache_tokens: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0)))
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
