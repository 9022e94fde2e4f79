"""The ``transformers`` backend: Hugging Face causal LMs (folders, hub ids or GGUF files).

One idea per module: :mod:`.backend` composes the loaded model (:mod:`.model`),
the decoding loop (:mod:`.decode`) and the first-token scorer (:mod:`.score`);
:mod:`.options` is the recipe's table; :mod:`.gguf` converts a GGUF file once
into a checkpoint transformers reads.
"""

from .backend import TransformersBackend
from .options import TransformersOptions

__all__ = ["TransformersBackend", "TransformersOptions"]
