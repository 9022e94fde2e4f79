"""The ``openai`` backend: any server that speaks the OpenAI chat-completions API.

vLLM, SGLang, TGI, llama.cpp's llama-server, llama-cpp-python's server and
Ollama all do. Requests of a batch go out concurrently (at most
``max_concurrency`` at a time, spread over one or several URLs), failures that
a later attempt can fix are retried with backoff, and the identity records the
model id and build the server reports, so cached answers never cross models.
httpx is imported only when the backend is built.
"""

from .backend import OpenAIBackend, ServerRefusedError, ServerUnavailableError
from .options import OpenAIOptions

__all__ = ["OpenAIBackend", "OpenAIOptions", "ServerRefusedError", "ServerUnavailableError"]
