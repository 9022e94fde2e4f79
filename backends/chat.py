"""Rendering chat messages with a model's own Jinja chat template.

GGUF files carry the template under ``tokenizer.chat_template``; rendering it
ourselves (in a sandbox) keeps prompts identical to what the model was
trained on, without llama.cpp's built-in template guesses.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any

from instructgen.errors import UserError
from instructgen.records import Message


class ChatTemplateError(UserError):
    """The model has no usable chat template and none was configured."""


class ChatTemplate:
    """A compiled chat template; ``render(messages)`` gives the prompt text."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        self.source = source
        self.bos_token = bos_token
        self.eos_token = eos_token
        self._template = _compile(source)

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt for ``messages``, ending where the assistant's answer starts."""
        try:
            return self._template.render(
                messages=[{"role": m.role, "content": m.content} for m in messages],
                add_generation_prompt=True,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
            )
        except ChatTemplateError:
            raise
        except Exception as exc:  # a template bug must not look like a crash of ours
            raise ChatTemplateError(f"chat template failed: {' '.join(str(exc).split())}") from None


@functools.lru_cache(maxsize=16)
def _compile(source: str) -> Any:
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise ChatTemplateError(f"chat template does not compile: {exc}") from None


def _raise(message: str) -> None:
    raise ChatTemplateError(f"chat template refused the messages: {message}")
