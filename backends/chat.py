"""A chat turn in and out: the prompt from a model's own template, and where an answer ends.

GGUF files carry the template under ``tokenizer.chat_template``; rendering it
ourselves (in a sandbox) keeps prompts identical to what the model was
trained on, without llama.cpp's built-in template guesses.

Every decoding loop (llamacpp's, transformers', the openai client's stop
strings) ends an answer by the same rules, kept here once: :class:`AnswerEnd`
and :func:`first_stop`.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from instructgen.backend import LLMRequest, Message
from instructgen.errors import UserError

if TYPE_CHECKING:
    from .constrain import JsonConstraint


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


# -- where an answer ends ---------------------------------------------------------------


def first_stop(text: str, stop: Sequence[str], checked: int) -> int | None:
    """Where the earliest stop string starts in ``text``, or ``None``.

    ``checked`` is how much of ``text`` was already searched; only the tail
    that a stop string could newly complete is scanned, so streaming stays linear.
    """
    longest = max((len(s) for s in stop), default=0)
    start = max(0, checked - longest + 1)
    cuts = [i for s in stop if s and (i := text.find(s, start)) >= 0]
    return min(cuts) if cuts else None


class AnswerEnd:
    """Decides when one request's answer ends, token by token, and keeps its cut text.

    After an end-of-generation token (the loop's own check) the rules are, in
    order: the first stop string (the text is cut before it), a JSON constraint
    that is complete, then ``max_tokens`` or the context window used up
    (``"length"``). The text is rendered at each token only for a request with
    stop strings; the others render it once, at the end (:meth:`text`).
    """

    def __init__(self, request: LLMRequest, constraint: JsonConstraint | None,
                 n_ctx: int) -> None:
        self.request = request
        self.constraint = constraint
        self.n_ctx = n_ctx
        self._text = ""

    def after(self, token: int, n_out: int, context_used: int,
              render: Callable[[], str]) -> Literal["stop", "length"] | None:
        """Why the answer ends now that ``token`` joined it, or ``None`` if it goes on.

        ``n_out``: answer tokens so far, ``token`` included; ``context_used``: the
        sequence's tokens in the context once ``token`` is in; ``render()``: the
        answer's whole text so far.
        """
        request = self.request
        if self.constraint is not None:
            self.constraint.consume(token)
        if request.stop:
            before = len(self._text)
            self._text = render()
            cut = first_stop(self._text, request.stop, before)
            if cut is not None:
                self._text = self._text[:cut]
                return "stop"
        if self.constraint is not None and self.constraint.finished:
            return "stop"
        if n_out >= request.max_tokens or context_used >= self.n_ctx:
            return "length"
        return None

    def text(self, render: Callable[[], str]) -> str:
        """The answer's final text: cut at its stop string, else all of ``render()``."""
        return self._text if self.request.stop else render()
