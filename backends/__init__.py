"""LLM backends: the contract, the fake backend, llama.cpp and transformers.

Heavy libraries (llama-cpp-python, torch, transformers) are imported only when
a backend of that kind is built.
"""

from .base import Backend, file_sha256, json_completion
from .fake import FakeBackend, FakeOptions

__all__ = ["Backend", "FakeBackend", "FakeOptions", "file_sha256", "json_completion"]
