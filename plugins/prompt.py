"""The ``prompt`` generator: one templated request per item, no code needed.

Useful on its own (a quick custom instruction type) and as the smallest real
generator for trying a backend or a dataset::

    [generator]
    name = "prompt"
    system = "You write short image captions."
    template = "Describe {concept} in one sentence."
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from instructgen.backend import LLMRequest
from instructgen.context import ItemContext
from instructgen.errors import Reject, did_you_mean
from instructgen.manager import hookimpl
from instructgen.plugin import Generator, GeneratorPlugin, PayloadKeys
from instructgen.records import SourceItem
from instructgen.schema import check_schema


def _check_template(_inst: Any, _attr: Any, value: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
    except ValueError as exc:
        raise ValueError(f"invalid template: {exc}") from None
    if any(not f or not f.isidentifier() for f in fields):
        raise ValueError("template fields must be plain names such as {caption}")


def _check_schema_text(_inst: Any, _attr: Any, value: str | None) -> None:
    if value is None:
        return
    try:
        schema = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"schema is not JSON: {exc.msg}") from None
    check_schema(schema)


@attrs.frozen
class PromptOptions:
    """Options of the ``prompt`` generator."""

    #: User message, with ``{field}`` placeholders filled from the item's data.
    template: str = attrs.field(validator=_check_template)
    #: Optional system message.
    system: str = ""
    #: Optional JSON schema (as a JSON string) the answer must satisfy.
    schema: str | None = attrs.field(default=None, validator=_check_schema_text)
    #: Field of the output record that receives the answer text (or parsed JSON fields).
    output_field: str = "text"
    #: Most tokens in the answer.
    max_tokens: int = 96
    #: Sampling temperature (0: greedy).
    temperature: float = 0.7
    #: Nucleus sampling: keep the smallest token set with this total probability.
    top_p: float = 0.95
    #: Sample among the k most likely tokens.
    top_k: int = 40
    #: Stop strings.
    stop: list[str] = attrs.field(factory=list)


class PromptGenerator(Generator):
    """Renders the template per item and keeps the answer."""

    def __init__(self, options: PromptOptions) -> None:
        self.options = options
        self.schema = json.loads(options.schema) if options.schema else None
        self.fields = [f for _, f, _, _ in string.Formatter().parse(options.template)
                       if f is not None]

    async def generate(self, item: SourceItem, ctx: ItemContext) -> Sequence[Mapping[str, Any]]:
        opts = self.options
        missing = [f for f in self.fields if f not in item.data]
        if missing:
            raise Reject("missing_field", missing_field_detail(missing, item.data),
                         stage="prompt")
        prompt = opts.template.format(**{f: item.data[f] for f in self.fields})
        messages = ([("system", opts.system)] if opts.system else []) + [("user", prompt)]
        answer = await ctx.ask(LLMRequest(
            messages=messages, max_tokens=opts.max_tokens, temperature=opts.temperature,
            top_p=opts.top_p, top_k=opts.top_k, stop=opts.stop, schema=self.schema))
        value = answer.parsed if self.schema is not None else answer.text.strip()
        return [{**item.data, opts.output_field: value}]


def missing_field_detail(missing: Sequence[str], data: Mapping[str, Any]) -> str:
    """Name the template fields the item lacks, the nearest field it has, and its fields.

    A typo such as ``{captoin}`` rejects every item; the hint makes the first
    rejection (and the early warning that repeats it) say what to fix.
    """
    first = missing[0]
    fields = ", ".join(sorted(data)) or "none"
    return (f"template field {{{first}}} is not in the item (fields: {fields})"
            f"{did_you_mean(first, data)}"
            + (f"; also missing: {', '.join(missing[1:])}" if len(missing) > 1 else ""))


def prompt_keys(options: PromptOptions, _ctx: object) -> PayloadKeys:
    """The answer's field and the template's fields; the item's other fields are copied
    too, and they are not known at plan time."""
    fields = [f for _, f, _, _ in string.Formatter().parse(options.template) if f is not None]
    return PayloadKeys({options.output_field, *fields}, open=True)


@hookimpl
def instructgen_generators():  # type: ignore[no-untyped-def]
    yield GeneratorPlugin(
        name="prompt",
        description="One templated request per item; the answer (or its JSON) is the record.",
        options=PromptOptions,
        factory=PromptGenerator,
        produces=prompt_keys,
    )
