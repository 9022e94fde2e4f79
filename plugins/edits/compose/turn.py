"""One rules-path turn: the model chooses, the rules write, the model may paraphrase.

1. :mod:`.objects` lists the caption's known objects; the type's planner
   (:mod:`.kinds`) turns them and a few drawn values into a choice schema;
2. the model answers that schema (one short constrained JSON call);
3. the planner's writer renders the instruction from the phrase bank and
   edits the caption into the output;
4. with ``paraphrase``, the model rewrites the instruction; the rewrite is
   kept only when it still names the object and the value and passes every
   check, else the rendered instruction stays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from instructgen.backend import LLMRequest
from instructgen.context import ItemContext
from instructgen.errors import Reject
from instructgen.schema import literal
from instructgen.text import mentions

from ..prefilter import CaptionAnalyzer
from ..prompts import parse_edit
from ..types import Check, EditType
from .kinds import PLANNERS, Composed, Plan
from .objects import known_objects

#: Tokens of a choice answer: a few short enum values.
CHOICE_TOKENS = 48
#: Tokens of a paraphrased instruction (at most 100 characters).
PARAPHRASE_TOKENS = 48
#: How many more words than the rendered instruction a rewording may have.
PARAPHRASE_SLACK = 3


def paraphrase_schema(verbs: Sequence[str]) -> dict[str, Any]:
    """A rewording: an imperative that opens with one of the type's verbs, capitalised."""
    opening = "|".join(literal(v[:1].upper() + v[1:]) for v in verbs)
    return {"type": "object",
            "properties": {"edit": {"type": "string", "minLength": 8, "maxLength": 100,
                                    "pattern": f"^(?:{opening}) [A-Za-z ,'\"-]*[A-Za-z\"]$"}},
            "required": ["edit"], "additionalProperties": False}


@frozen
class ComposeFailure:
    """Why a rules-path turn wrote nothing: the stage, a reason, a detail, the raw answer."""

    stage: str
    reason: str
    detail: str
    raw: str | None = None


def composes(etype: EditType) -> bool:
    """Whether the rules path can write ``etype`` (third-party types use the model path)."""
    return etype.name in PLANNERS


def choice_request(etype: EditType, caption: str, plan: Plan, *,
                   temperature: float) -> LLMRequest:
    """Ask the model to choose the edit's parts, each from the options listed."""
    system = (f"You choose the parts of one image edit of type {etype.title}: "
              f"{etype.description}. Pick the options that fit the picture the caption "
              f"describes. Answer with one JSON object.")
    user = f"Caption: {caption}\n" + "\n".join(plan.lines)
    return LLMRequest(messages=[("system", system), ("user", user)], max_tokens=CHOICE_TOKENS,
                      temperature=temperature, schema=dict(plan.schema))


def _keys(schema: Mapping[str, Any]) -> tuple[str, ...]:
    first = (schema.get("anyOf") or [schema])[0]
    return tuple(first["properties"])


async def compose_turn(etype: EditType, caption: str, analyzer: CaptionAnalyzer | None,
                       ctx: ItemContext, *, temperature: float, paraphrase: bool,
                       checks: Sequence[Check]) -> Composed | ComposeFailure:
    """One edit of ``caption`` written by rule from the model's choice."""
    plan = PLANNERS[etype.name](caption, known_objects(caption, analyzer), ctx.rng)
    if isinstance(plan, str):
        return ComposeFailure("prefilter", "nothing_to_compose", plan)
    request = choice_request(etype, caption, plan, temperature=temperature)
    try:
        choice = await ctx.ask(request, validate=parse_edit(etype, keys=_keys(plan.schema)),
                               stage="generate")
    except Reject as rej:
        return ComposeFailure("generate", rej.reason, rej.detail, rej.raw)
    made = plan.write(choice)
    if made is None:
        return ComposeFailure("generate", "choice_outside_options",
                              "the model chose a value the caption's options do not have "
                              "(a backend that does not decode under the schema)",
                              json.dumps(choice, ensure_ascii=False))
    if paraphrase:
        made = await _paraphrased(made, etype, caption, ctx, temperature, checks)
    return made


def result_of(made: Composed) -> dict[str, str]:
    """A composed edit as the checks read an answer: ``edit``, ``output`` and the fields."""
    return {"edit": made.edit, "output": made.output, **made.fields}


async def _paraphrased(made: Composed, etype: EditType, caption: str, ctx: ItemContext,
                       temperature: float, checks: Sequence[Check]) -> Composed:
    """``made`` with the model's rewording of its instruction, when the rewording keeps the
    object, the value and a "to <value>" ending, and passes every check; else ``made``."""
    request = LLMRequest(
        messages=[("system", "You reword image editing instructions. Keep every object, "
                             "colour, material, action and quoted text exactly as written. "
                             "Write one short instruction without a final period. Answer "
                             "with one JSON object."),
                  ("user", f"Instruction: {made.edit}")],
        max_tokens=PARAPHRASE_TOKENS, temperature=temperature,
        schema=paraphrase_schema(etype.verbs))
    try:
        answer = await ctx.ask(request, validate=parse_edit(etype, keys=("edit",)),
                               stage="paraphrase")
    except Reject:
        return made
    new = answer["edit"]
    # An imperative of the type's verbs, about as long: not "The user is asked to ...".
    if not new[:1].isupper() or new.split()[0].lower() not in {
            v.split()[0] for v in etype.verbs} or \
            len(new.split()) > len(made.edit.split()) + PARAPHRASE_SLACK:
        return made
    cut = made.edit.rfind(" to ")
    # "... to blue": AnyEdit reads the value after the one "to "
    if cut >= 0 and (not new.endswith(made.edit[cut:])
                     or new.count("to ") != made.edit.count("to ")):
        return made
    keep = [*made.fields.values(), *made.keep, made.edit.split()[-1].strip('"')]
    if not all(mentions(new, v, plural=False) for v in keep if v):
        return made
    candidate = Composed(new, made.output, made.fields, made.keep)
    if any(check(caption, result_of(candidate)) is not None for check in checks):
        return made
    return candidate
