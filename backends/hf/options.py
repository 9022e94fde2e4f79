"""The ``transformers`` backend's options, as a recipe's ``[backend]`` table sets them."""

from __future__ import annotations

from typing import Literal

import attrs

from ..models import EMBEDDED_MODEL

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
