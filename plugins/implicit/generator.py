"""The ``implicit`` generator: one conversation per seed, every answer an array of quadruples.

Turn 0 shows the seed and asks for a batch; ``continue_turns`` more turns ask for
more, optionally steered by a theme. Each quadruple is checked and compared with
the earlier ones of its conversation before it becomes a record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

import attrs

from instructgen.backend import Completion, LLMRequest
from instructgen.context import ItemContext
from instructgen.errors import Reject
from instructgen.plugin import Generator
from instructgen.records import SourceItem
from instructgen.schema import parse_json
from instructgen.text import NearDuplicateIndex

from . import prompts
from .checks import QuadrupleRules, check_quadruple, constrained_schema
from .dedup import dedup_text
from .payloads import Quadruple
from .templated import (
    events_for,
    events_prompt,
    events_schema,
    picked_events,
    write_quadruple,
)


@attrs.frozen
class ImplicitOptions:
    """Options of the ``implicit`` generator."""

    #: Continue turns after the first one (EditWorld used 19).
    continue_turns: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    #: Quadruples asked for in each turn (the answer may hold fewer).
    per_turn: int = attrs.field(default=5, validator=attrs.validators.in_(range(1, 51)))
    #: Most words in a caption, so a text-to-image model can draw it.
    max_words: int = attrs.field(default=20, validator=attrs.validators.ge(3))
    #: Most words in an instruction.
    max_instruction_words: int = attrs.field(default=25, validator=attrs.validators.ge(3))
    #: Most keywords per quadruple.
    max_keywords: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    #: Most words in one keyword ("ice cream" is 2).
    keyword_max_words: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    #: Accept plain statements ("The ice is left in the sun") as implicit instructions.
    allow_statements: bool = False
    #: Similarity (0-1) at which a quadruple repeats an earlier one of the same
    #: conversation, or the seed example; compared on instruction + original caption.
    dedup_threshold: float = attrs.field(default=0.9, validator=[attrs.validators.gt(0.0),
                                                                 attrs.validators.le(1.0)])
    #: Earlier exchanges kept in each prompt; default all (the first turn is always kept).
    history_turns: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0)))
    #: Kinds of change a continue turn steers towards, drawn per turn; empty: no steering.
    themes: list[str] = attrs.field(factory=lambda: list(prompts.DEFAULT_THEMES))
    #: Token limit of each answer.
    max_tokens: int = attrs.field(default=768, validator=attrs.validators.ge(16))
    #: Sampling temperature; some heat keeps continue turns from repeating themselves.
    temperature: float = attrs.field(default=0.8, validator=attrs.validators.ge(0.0))
    #: Nucleus-sampling mass.
    top_p: float = attrs.field(default=0.95, validator=[attrs.validators.gt(0.0),
                                                       attrs.validators.le(1.0)])
    #: Write the quadruple rules into the answer schema (word limits, an instruction
    #: opening with a question or cause word, short comma-separated keywords), so
    #: constrained decoding only writes quadruples the checks accept; ``false``: the
    #: plain schema (string lengths only). See docs/implicit.md, "Constraints".
    constrain: bool = True
    #: Who writes the quadruples: ``model`` (the conversation above), ``template``
    #: (the model picks events from a closed list, templates write captions and
    #: instruction), or ``auto`` (by measured precision: ``template`` for the embedded
    #: model; docs/implicit.md, "Which path").
    compose: Literal["model", "template", "auto"] = attrs.field(
        default="auto", validator=attrs.validators.in_(("model", "template", "auto")))

    @property
    def rules(self) -> QuadrupleRules:
        return QuadrupleRules(self.max_words, self.max_instruction_words, self.max_keywords,
                              self.keyword_max_words, self.allow_statements)


class ImplicitGenerator(Generator):
    """One conversation per seed example; every checked quadruple becomes a record."""

    def __init__(self, options: ImplicitOptions) -> None:
        self.options = options
        self.rules = options.rules
        self.plain_schema = prompts.answer_schema(
            per_turn=options.per_turn, max_words=options.max_words,
            max_instruction_words=options.max_instruction_words,
            max_keywords=options.max_keywords)
        self.schema = (constrained_schema(self.plain_schema, self.rules) if options.constrain
                       else self.plain_schema)

    def _sizes(self) -> dict[str, int]:
        o = self.options
        return {"per_turn": o.per_turn, "max_words": o.max_words, "max_keywords": o.max_keywords}

    def _messages(self, first: list[tuple[str, str]], history: list[tuple[str, str]],
                  ask: str) -> list[tuple[str, str]]:
        """Turn 0 and its answer, the kept continue exchanges, then the new ask."""
        keep = self.options.history_turns
        kept = history if keep is None else history[-keep:] if keep else []
        return [*first, *(m for user, answer in kept
                          for m in (("user", user), ("assistant", answer))), ("user", ask)]

    @property
    def path(self) -> str:
        """``model`` or ``template``: ``auto`` is ``template``, by measured precision (the
        embedded model's quadruples were mostly unusable; docs/implicit.md)."""
        return "model" if self.options.compose == "model" else "template"

    async def generate(self, item: SourceItem, ctx: ItemContext) -> list[dict[str, Any]]:
        if self.path == "template":
            return await self._from_templates(item, ctx)
        opts = self.options
        example = dict(item.data)
        seen = NearDuplicateIndex(opts.dedup_threshold)
        seen.add(dedup_text(example))  # a copy of the example is no new data
        first: list[tuple[str, str]] = [
            ("system", prompts.SYSTEM),
            ("user", prompts.first_turn(example, **self._sizes())),
        ]
        history: list[tuple[str, str]] = []  # (ask, answer) of the continue turns so far
        out: list[dict[str, Any]] = []
        for turn in range(opts.continue_turns + 1):
            theme = None
            if turn == 0:
                messages = first
            else:
                theme = prompts.theme_for(opts.themes, ctx.rng)
                ask = prompts.continue_turn(theme=theme, **self._sizes())
                messages = self._messages(first, history, ask)
            request = LLMRequest(messages=messages, max_tokens=opts.max_tokens,
                                 temperature=opts.temperature, top_p=opts.top_p,
                                 schema=self.schema)
            answer: Completion | Reject
            try:
                answer = await ctx.ask(request, stage="generate")
            except Reject as exc:
                answer = self._plain(exc)
            if isinstance(answer, Reject):
                refused = answer
                if turn == 0 or refused.reason != "invalid_output":
                    raise refused  # nothing to keep: the whole seed fails
                # Later turns cannot go on without this answer; keep what we have.
                ctx.reject(refused.reason, f"turn {turn}: {refused.detail}; conversation stopped",
                           raw=refused.raw, data={"seed_example": item.id, "turn": turn})
                break
            if turn == 0:
                first = [*first, ("assistant", answer.text)]
            else:
                history.append((ask, answer.text))
            out.extend(self._accept(answer.parsed, turn, theme, item.id, seen, ctx))
        return out

    async def _from_templates(self, item: SourceItem,
                              ctx: ItemContext) -> list[dict[str, Any]]:
        """The template path: per turn, the model picks events; templates write them.

        A turn offers only events this conversation has not used yet (its theme's,
        when it has some left), so turns do not repeat each other.
        """
        opts = self.options
        example = dict(item.data)
        seen = NearDuplicateIndex(opts.dedup_threshold)
        seen.add(dedup_text(example))
        used: set[str] = set()
        out: list[dict[str, Any]] = []
        for turn in range(opts.continue_turns + 1):
            theme = None if turn == 0 else prompts.theme_for(opts.themes, ctx.rng)
            events = [e for e in events_for(theme) if e.name not in used]
            events = events or [e for e in events_for(None) if e.name not in used]
            if not events:
                break
            request = LLMRequest(messages=events_prompt(example, events, opts.per_turn),
                                 max_tokens=opts.max_tokens, temperature=opts.temperature,
                                 top_p=opts.top_p, schema=events_schema(events, opts.per_turn))
            try:
                answer = await ctx.ask(request, stage="generate")
            except Reject as exc:
                if turn == 0 or exc.reason != "invalid_output":
                    raise
                ctx.reject(exc.reason, f"turn {turn}: {exc.detail}; conversation stopped",
                           raw=exc.raw, data={"seed_example": item.id, "turn": turn})
                break
            picked = picked_events(answer.parsed)
            used.update(e.name for e in picked)
            quads = [write_quadruple(e, ctx.rng) for e in picked]
            out.extend(self._accept(quads, turn, theme, item.id, seen, ctx))
        return out

    def _plain(self, rej: Reject) -> Completion | Reject:
        """The last answer, if only the constraints refused it; else the rejection.

        A backend without constrained decoding can write an array whose one bad
        quadruple fails the constrained schema. Read against the plain schema,
        its good quadruples are kept and the bad one is rejected by the check it
        breaks, as with ``constrain = false``.
        """
        if self.schema is self.plain_schema or rej.reason != "invalid_output":
            return rej
        value, problem = parse_json(rej.raw or "", self.plain_schema)
        if problem is not None:
            return rej
        return Completion(text=rej.raw or "", parsed=value)

    def _accept(self, parsed: Any, turn: int, theme: str | None, seed_id: str,
                seen: NearDuplicateIndex, ctx: ItemContext) -> Iterator[dict[str, Any]]:
        for index, raw in enumerate(parsed if isinstance(parsed, list) else []):
            where = {"seed_example": seed_id, "turn": turn, "index": index}
            if not isinstance(raw, Mapping):
                ctx.reject("not_an_object", f"turn {turn} item {index}", data=where)
                continue
            try:
                quad = check_quadruple(raw, self.rules)
            except Reject as rej:
                ctx.reject(rej.reason, f"turn {turn} item {index}: {rej.detail}",
                           data={**raw, **where})
                continue
            twin = seen.match(dedup_text(quad))
            if twin is not None:
                ctx.reject("near_duplicate", f"turn {turn} item {index}: similar "
                           f"({twin[1]:.2f}) to {twin[0]!r}", data={**quad, **where})
                continue
            seen.add(dedup_text(quad))
            yield Quadruple(**quad, seed_example=seed_id, turn=turn,
                            theme=theme or None).payload()
