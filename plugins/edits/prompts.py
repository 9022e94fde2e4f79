"""The two requests an edit makes: write the edit (few-shot, JSON) and judge it (yes/no).

Few-shot examples are drawn with the item's random generator and
``random.sample``, which returns a new list: the shared pool is never
shuffled in place, so one item's draw cannot change another's.

Requests are laid out for prefix reuse in the backend: what every request
of a type shares comes first (instructions in the system message), then the
examples in pool order, then the item's caption. With example sets, items
of a type draw one of a few fixed example draws, so whole prefixes repeat and
the llama.cpp backend prefills them once.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from instructgen.backend import Completion, LLMRequest
from instructgen.errors import InvalidOutput

from .types import EditExample, EditType

#: The judge's answer schema: exactly "yes" or "no".
JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}
#: The judge's labels in ``score`` mode, and the texts whose first token spells each.
YES_NO: dict[str, tuple[str, ...]] = {"yes": ("yes", "Yes"), "no": ("no", "No")}
_YES_NO = re.compile(r"^\s*(yes|no)\s*[.!]?\s*$", re.IGNORECASE)


def sample_examples(
    etype: EditType, k: int, rng: random.Random, *, sets: int = 0
) -> list[tuple[int, EditExample]]:
    """``k`` examples of the pool with their indexes, in pool order, without touching the pool.

    ``sets`` > 0: ``rng`` picks one of ``sets`` fixed draws of the type (the same
    in every run), so requests of a type share their examples' prefix.
    """
    k = min(k, len(etype.examples))
    if sets > 0:
        fixed = random.Random(f"{etype.name}:{k}:{rng.randrange(sets)}")
        picks = fixed.sample(range(len(etype.examples)), k)
    else:
        picks = rng.sample(range(len(etype.examples)), k)
    return [(i, etype.examples[i]) for i in sorted(picks)]


def system_prompt(etype: EditType) -> str:
    hints = "\n".join(f'- "{f}": {etype.field_hints[f]}' for f in etype.fields)
    rules = "".join(f"\n- {r}" for r in etype.rules)
    verbs = ", ".join(f'"{v}"' for v in etype.verbs)
    return (
        f"You write one image editing instruction of type {etype.title}: "
        f"{etype.description}.\n"
        f"Start the instruction with a verb such as {verbs}.\n"
        f"Answer with one JSON object with these keys:\n"
        f'- "edit": the instruction\n{hints}\n'
        f'- "output": the caption of the image after the edit\n'
        f"Rules:\n- Keep the output short and close to the input caption.{rules}"
    )


def edit_request(
    etype: EditType,
    caption: str,
    examples: list[tuple[int, EditExample]],
    *,
    max_tokens: int,
    temperature: float,
    schema: Mapping[str, Any] | None = None,
) -> LLMRequest:
    """The chat request that asks for one edit of ``caption`` as JSON.

    ``schema``: the answer schema narrowed for this caption
    (:func:`~instructgen.plugins.edits.constraints.item_schema`); the type's
    plain schema without it.
    """
    msgs: list[tuple[str, str]] = [("system", system_prompt(etype))]
    for _, ex in examples:
        msgs.append(("user", f"Caption: {ex.input}"))
        msgs.append(("assistant", json.dumps(ex.answer(etype.fields), ensure_ascii=False)))
    msgs.append(("user", f"Caption: {caption}"))
    return LLMRequest(messages=msgs, max_tokens=max_tokens, temperature=temperature,
                      schema=dict(schema) if schema is not None else etype.schema())


def parse_edit(etype: EditType,
               keys: Sequence[str] | None = None) -> Callable[[Completion], dict[str, str]]:
    """A validator for :meth:`ItemContext.ask`: the answer as a dict of stripped strings.

    ``keys``: the keys to read, by default ``edit``, the type's fields and
    ``output`` (the coupling's first call reads the fields alone). The schema
    already guarantees the keys; this also refuses blank values, which a
    schema's ``minLength`` lets through as spaces.
    """
    wanted = tuple(keys) if keys is not None else ("edit", *etype.fields, "output")

    def validate(answer: Completion) -> dict[str, str]:
        value = answer.parsed
        if not isinstance(value, Mapping):  # without a schema-aware backend
            try:
                value = json.loads(answer.text)
            except json.JSONDecodeError as exc:
                raise InvalidOutput(f"not JSON: {exc.msg}") from None
        out = {}
        for key in wanted:
            text = value.get(key) if isinstance(value, Mapping) else None
            if not isinstance(text, str) or not text.strip():
                raise InvalidOutput(f"{key!r} is missing or blank")
            out[key] = " ".join(text.split())
        return out

    return validate


def judge_request(
    etype: EditType,
    caption: str,
    result: Mapping[str, str],
    *,
    mode: Literal["json", "text", "score"],
    temperature: float,
) -> LLMRequest:
    """Ask whether ``result`` is an instruction of ``etype``; the answer is yes or no.

    ``score`` asks the ``text`` question but reads P(yes) against P(no) off the
    first answer token (``choices``) instead of sampling: nothing random, so
    the seed is fixed and equal judge questions share one cache entry.
    """
    reply = ('Reply with JSON: {"answer": "yes"} or {"answer": "no"}.' if mode == "json"
             else "Reply with one word: yes or no.")
    user = (f"Caption before: {caption}\n"
            f"Instruction: {result['edit']}\n"
            f"Caption after: {result['output']}\n"
            f"Question: {etype.judge_question}\n{reply}")
    system = "You check image editing instructions. You answer only yes or no."
    if mode == "score":
        return LLMRequest(messages=[("system", system), ("user", user)], max_tokens=1,
                          temperature=0.0, seed=0, choices=YES_NO)
    return LLMRequest(messages=[("system", system), ("user", user)],
                      max_tokens=8 if mode == "text" else 16, temperature=temperature,
                      schema=JUDGE_SCHEMA if mode == "json" else None)


def parse_verdict(mode: Literal["json", "text"]) -> Callable[[Completion], str]:
    """A strict validator: ``"yes"`` or ``"no"``; anything else is invalid, never a yes.

    Text mode accepts the bare word (any case, one trailing period); "Yes, it
    is" or "I think yes" are invalid: the reference scripts accepted any answer
    containing "yes", which this refuses to repeat.
    """

    def validate(answer: Completion) -> str:
        if mode == "json":
            value = answer.parsed
            if not isinstance(value, Mapping):
                try:
                    value = json.loads(answer.text)
                except json.JSONDecodeError:
                    raise InvalidOutput(f"judge answer is not JSON: {answer.text[:60]!r}") from None
            verdict = value.get("answer") if isinstance(value, Mapping) else None
            if verdict not in ("yes", "no"):
                raise InvalidOutput(f"judge answer is neither yes nor no: {verdict!r}")
            return verdict
        m = _YES_NO.match(answer.text)
        if m is None:
            raise InvalidOutput(f"judge answer is neither yes nor no: {answer.text[:60]!r}")
        return m.group(1).lower()

    return validate


def score_verdict(threshold: float) -> Callable[[Completion], tuple[str, float]]:
    """A validator for ``score`` mode: (``"yes"`` if P(yes) >= ``threshold`` else ``"no"``, P(yes)).

    An answer without scores (a backend that answered text instead) is invalid, never a yes.
    """

    def validate(answer: Completion) -> tuple[str, float]:
        scores = answer.scores
        if scores is None or "yes" not in scores:
            raise InvalidOutput(f"judge answer has no yes/no scores: {answer.text[:60]!r}")
        p_yes = math.exp(scores["yes"])
        return ("yes" if p_yes >= threshold else "no"), p_yes

    return validate
