"""The ``llamacpp`` backend: GGUF models through llama.cpp's C API, many sequences at once.

One idea per module: :mod:`.backend` composes the loaded model (:mod:`.model`),
the context and its thread count (:mod:`.context`), the prompt-prefix cache kept
in that context (:mod:`.prefix`), the decoding loop (:mod:`.decode`) and the
first-token reference scorer (:mod:`.score`); :mod:`.options` is the recipe's table.
"""

from .backend import LlamaCppBackend
from .options import LlamaCppOptions

__all__ = ["LlamaCppBackend", "LlamaCppOptions"]
