"""The ``edit`` generator: edit instructions from captions, one turn or a chain of turns.

Per item and per turn:

1. pick the edit type with the item's random generator (weighted mix);
2. prefilter: does the caption have what the type needs (noun, verb, quoted text);
3. ask for the edit as constrained JSON, with ``examples`` few-shot examples
   drawn from the type's pool;
4. run the type's consistency checks (word-boundary matching), and check that
   the instruction uses one of the type's verbs and is short prose (at most
   100 characters, no words joined by underscores);
5. ask the self-check judge "is this a <type> instruction?" and accept only a
   strict "yes".

A failed turn is tried again up to ``attempts`` times, each time with a fresh
seed and a fresh draw of examples; every failed attempt is logged as a
rejection with its stage and reason. When the last attempt fails the item is
rejected; in a chain, the whole chain is dropped. A chain's turn k starts from
turn k-1's output caption; with ``chain = false`` every turn starts from the
original caption (the reference's independent edits).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from instructgen.context import ItemContext
from instructgen.errors import RecipeError, Reject
from instructgen.plugin import Generator, RunInfo
from instructgen.plugins.anyedit.stage_rules import answer_checks, strip_final_punctuation
from instructgen.records import SourceItem
from instructgen.text import normalize

from .checks import prose_instruction, short_instruction, uses_a_verb
from .compose import ComposeFailure, compose_turn, composes, path_for, result_of
from .compose.auto import Path as ComposePath
from .constraints import NoCandidates, explain, item_schema
from .coupling import couple, parse_fields
from .fallback import first_usable
from .payloads import EditChain, EditTurn, FromItem
from .prefilter import CaptionAnalyzer, make_analyzer
from .prompts import (
    edit_request,
    judge_request,
    parse_edit,
    parse_verdict,
    sample_examples,
    score_verdict,
)
from .sense import sense_checks
from .types import EDIT_TYPES, Check, EditType, select_edit_types

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext

#: Where the judge's measured accuracy is, for the log line that says it is off.
JUDGE_FIGURES = 'docs/benchmarks.md, "Edit judge"'


def _positive_weights(inst: Any, _a: Any, value: list[float]) -> None:
    if any(w <= 0 for w in value):
        raise ValueError("every weight must be greater than 0")


@attrs.frozen
class EditOptions:
    """Options of the ``edit`` generator."""

    #: Edit types to draw from (any registered through ``instructgen_edit_types``); empty:
    #: the default mix, every registered type that joins it (``EditType.default_mix``: the
    #: eleven builtins, as in the reference's mix). textual_change needs quoted text
    #: (AnyWord data); on other captions the prefilter rejects it before any model call.
    types: list[str] = attrs.field(factory=list)
    #: Relative weight of each entry of ``types``; empty: all equal.
    weights: list[float] = attrs.field(factory=list, validator=_positive_weights)
    #: Edits per chain; each turn edits the previous turn's output caption.
    turns: int = attrs.field(default=1, validator=[attrs.validators.ge(1),
                                                   attrs.validators.le(10)])
    #: In chains, allow global types (background_change, tone_transfer) only in the last turn.
    global_last: bool = True
    #: ``true``: turn k edits turn k-1's output caption (a real chain); ``false``: every
    #: turn edits the original caption, as the reference's multi-turn script did.
    chain: bool = True
    #: Few-shot examples per request, drawn from the type's pool with the item's seed
    #: (5, the reference's count).
    examples: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    #: Draw each item's examples from this many fixed example sets per type (0: a
    #: fresh draw per item). Items sharing a set share their prompt up to the caption,
    #: which the llamacpp backend prefills once; why 2 is the default:
    #: docs/benchmarks.md, "Example sets".
    example_sets: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    #: ``weights``: draw types by ``weights`` alone; ``accepted``: aim the *accepted*
    #: records at ``weights``: each type's weight is divided by its acceptance rate
    #: in the run ``balance_from`` (a run directory), so types the model often
    #: fails are asked more often. Read once at start, so the draw stays a pure
    #: function of the item's seed (same output at any batch size and on resume).
    balance: Literal["weights", "accepted"] = "weights"
    #: The earlier run (its directory) whose per-type acceptance ``balance = "accepted"`` uses.
    balance_from: str = ""
    #: Tries per turn before the item (or chain) is dropped.
    attempts: int = attrs.field(default=2, validator=attrs.validators.ge(1))
    #: Ask the model whether each edit really is of its type; only "yes" accepts. Off by
    #: default: on the embedded model its call filters next to nothing
    #: (docs/benchmarks.md, "Edit judge"); turn it on for a model whose balanced
    #: accuracy on the labelled set is 0.6 or more (``benchmarks/quality.py --judge-eval``).
    judge: bool = False
    #: ``json``: the judge answers {"answer": "yes"|"no"} (constrained); ``text``: one word;
    #: ``score``: P(yes) against P(no) from the first answer token, yes when P(yes) >=
    #: ``judge_threshold`` (backends llamacpp and transformers; the record also gets
    #: ``judge_p_yes``).
    judge_format: Literal["json", "text", "score"] = "json"
    #: ``judge_format = "score"``: the least P(yes) that accepts (above 1: none does).
    judge_threshold: float = attrs.field(default=0.5, validator=attrs.validators.ge(0.0))
    #: Sampling temperature of the judge (low: a steady verdict).
    judge_temperature: float = attrs.field(default=0.2, validator=attrs.validators.ge(0.0))
    #: Token limit of each edit answer.
    max_tokens: int = attrs.field(default=160, validator=attrs.validators.ge(16))
    #: Sampling temperature of the edit answers.
    temperature: float = attrs.field(default=0.7, validator=attrs.validators.ge(0.0))
    #: The item field holding the caption.
    caption_field: str = "caption"
    #: Narrow each request's schema with what the caption offers (the edited object
    #: from the caption's nouns, a leading type verb, the colour/material/texture/
    #: time words), so constrained decoding writes answers the checks accept
    #: (see docs/edits.md, "Constraints"); ``false``: the type's plain schema.
    constrain: bool = True
    #: With ``constrain``, also tie the fields together (the output no longer names a
    #: removed object, names a recoloured one, is not the caption; see docs/edits.md,
    #: "Constraints"). ``grammar``: one schema, a branch per caption object;
    #: ``two_calls``: the fields first, then edit and output built from them; ``auto``:
    #: ``grammar`` where the edited object comes from the caption, ``two_calls`` where
    #: the model invents the coupled field (add, background, tone, text), as measured
    #: on the embedded model (docs/benchmarks.md, "Coupled fields"); ``off``: each
    #: field alone. The checks run on every answer either way.
    couple: Literal["auto", "grammar", "two_calls", "off"] = "auto"
    #: Reject instructions that use none of their type's verbs ("The dog jumps" is
    #: a caption, not an instruction).
    require_verb: bool = True
    #: Who writes the edit and the output caption. ``model``: the model writes both (few-shot
    #: JSON, the flow above); ``rules``: the model only chooses the fields from closed
    #: options (an object of the caption, a colour, a new object, ...) and rules write the
    #: instruction (a bank of phrasings) and the output (the input with one change);
    #: ``auto``: the path measured best for the model (``compose/auto.py``; ``rules`` for
    #: the embedded model and for models not measured). Types the rules cannot write
    #: (registered by other plugins) use ``model`` (see docs/edits.md, "Paths").
    compose: Literal["auto", "model", "rules"] = "auto"
    #: Under ``rules``, let the model reword each rendered instruction; the rewording is kept
    #: only when it keeps the object and the value and passes every check.
    paraphrase: bool = False
    #: ``auto``: spaCy POS tags when en_core_web_sm is installed, else word lists;
    #: ``heuristic``: always word lists; ``off``: no prefilter.
    prefilter: Literal["auto", "spacy", "heuristic", "off"] = "auto"

    def __attrs_post_init__(self) -> None:
        if self.balance == "accepted" and not self.balance_from:
            raise ValueError("balance = 'accepted' needs balance_from, the directory of an "
                             "earlier run whose per-type acceptance it evens out")
        if self.weights and self.types and len(self.weights) != len(self.types):
            raise ValueError(f"weights has {len(self.weights)} entries but types has "
                             f"{len(self.types)}; give one weight per type or none")


@attrs.frozen
class TurnFailure:
    """Why one attempt at a turn failed."""

    stage: str
    reason: str
    detail: str
    raw: str | None = None


@attrs.frozen
class PreparedEdit:
    """What the generator is built from: the options and the edit types they name,
    resolved against the catalog at plan time (nothing is looked up after)."""

    options: EditOptions
    types: tuple[EditType, ...]
    #: Who writes the edit and the output: ``compose`` as set, or, under ``auto``, the
    #: path measured for the recipe's model (``compose/auto.py``).
    compose: ComposePath = "rules"
    #: Under ``auto``, why that path (logged at setup); ``None`` when set explicitly.
    compose_why: str | None = None


def prepare_edit(options: EditOptions, ctx: BuildContext) -> PreparedEdit:
    """Plan time: resolve ``generator.types`` (empty: the default mix) against the
    ``instructgen_edit_types`` catalog, each unknown name reported with its key path; check
    what the options ask of those types; and under ``compose = "auto"`` choose the path
    measured for the model the recipe's backend names."""
    known = ctx.catalog(EDIT_TYPES)
    if options.types:
        types = select_edit_types(known, options.types, ctx.key("types"))
    else:
        types = [t for t in known.values() if t.default_mix]
        if not types:
            raise RecipeError(f"{ctx.key('types')}: empty, and no registered edit type joins "
                              "the default mix; name the types to draw from")
    if options.weights and len(options.weights) != len(types):
        raise RecipeError(f"{ctx.key('weights')}: {len(options.weights)} entries for the "
                          f"{len(types)} types of the default mix; give one weight per type, "
                          "or none")
    if options.turns > 1 and options.global_last and not any(t.scope == "local" for t in types):
        raise RecipeError(f"{ctx.key('global_last')}: every type in {ctx.key('types')} is "
                          "global, so no turn but the last could be filled; add a local type "
                          "or set global_last = false")
    compose, why = (path_for(ctx.backend_model) if options.compose == "auto"
                    else (options.compose, None))
    return PreparedEdit(options, tuple(types), compose, why)


class EditGenerator(Generator):
    """Writes edit instructions (or chains of them) from each item's caption."""

    def __init__(self, prepared: PreparedEdit) -> None:
        self.options = options = prepared.options
        self._types = list(prepared.types)
        self._weights = list(options.weights) or [1.0] * len(self._types)
        self._analyzer: CaptionAnalyzer | None = None
        self._logged = False
        self._ready_ = False
        self._compose = prepared.compose
        self._compose_why = prepared.compose_why

    # -- setup ------------------------------------------------------------------------

    def setup(self, run: RunInfo) -> None:
        """Read what the run decides: the balanced weights, the prefilter, the compose path."""
        opts = self.options
        if opts.balance == "accepted":
            self._weights = balanced_weights(self._types, self._weights, opts.balance_from)
            if run.log is not None:
                run.log.info("edit_balance", balance_from=opts.balance_from,
                             weights={t.name: round(w, 4)
                                      for t, w in zip(self._types, self._weights, strict=True)})
        self._analyzer = make_analyzer(opts.prefilter)
        self._ready_ = True
        if self._compose_why is not None and run.log is not None:
            run.log.info("edit_compose", compose=self._compose, why=self._compose_why)
        if not opts.judge and run.log is not None:
            run.log.info("edit_judge_off", why=(
                "the judge is off (generator.judge = false, the default): on the embedded "
                f"model it filters next to nothing ({JUDGE_FIGURES}); set judge = true for a "
                "model whose balanced accuracy on the labelled set is 0.6 or more "
                "(benchmarks/quality.py --judge-eval)"))

    def _ready(self) -> None:
        if not self._ready_:
            raise RuntimeError("EditGenerator.setup() was not called")

    # -- per item ---------------------------------------------------------------------------

    async def generate(self, item: SourceItem, ctx: ItemContext) -> Sequence[Mapping[str, Any]]:
        self._ready()
        opts = self.options
        if not self._logged and ctx.log is not None:
            self._logged = True
            method = self._analyzer.method if self._analyzer else "off"
            ctx.log.info("edit_prefilter", method=method,
                         skips=list(getattr(self._analyzer, "skips", ())))
        caption = caption_of(item, opts.caption_field)
        turns: list[EditTurn] = []
        current = caption
        for k in range(opts.turns):
            turns.append(await self._turn_with_retries(k, current, ctx))
            if opts.chain:
                current = turns[-1].output
        if opts.turns == 1:
            payload = turns[0].payload()
        else:
            payload = EditChain(num_turns=len(turns), input=caption, output=turns[-1].output,
                                turns=[t.payload() for t in turns], chain=opts.chain).payload()
        derived = ({"record_id": item.data["record_id"],  # an earlier run's record
                    "generator": item.data.get("record_generator")}
                   if "record_id" in item.data else None)
        payload.update(FromItem(**image_of(item), derived_from=derived,
                                prefilter=self._analyzer.method if self._analyzer else "off",
                                ).payload())
        return [payload]

    def _pick(self, k: int, ctx: ItemContext) -> EditType:
        types, weights = self._types, self._weights
        if self.options.turns > 1 and self.options.global_last and k < self.options.turns - 1:
            pairs = [(t, w) for t, w in zip(types, weights, strict=True) if t.scope == "local"]
            types, weights = [p[0] for p in pairs], [p[1] for p in pairs]
        return ctx.rng.choices(types, weights=weights, k=1)[0]

    async def _turn_with_retries(self, k: int, caption: str, ctx: ItemContext) -> EditTurn:
        opts = self.options
        chain = opts.turns > 1
        etype = self._pick(k, ctx)
        for attempt in range(1, opts.attempts + 1):
            outcome = await self._turn(etype, caption, ctx)
            if not isinstance(outcome, TurnFailure):
                return attrs.evolve(outcome, attempts=attempt)
            where = f"turn {k + 1} of {opts.turns}: " if chain else ""
            # A caption without what the type needs fails the same way again; a
            # chain picks another type instead, a single edit stops here.
            last = attempt == opts.attempts or (outcome.stage == "prefilter" and not chain)
            if last:
                tail = "; chain dropped" if chain else ""
                raise Reject(outcome.reason,
                             f"{where}{etype.name}: {outcome.detail} (attempt {attempt} of "
                             f"{opts.attempts}){tail}", stage=outcome.stage, raw=outcome.raw)
            ctx.reject(outcome.reason, f"{where}{etype.name}: {outcome.detail} (attempt "
                       f"{attempt} of {opts.attempts}; retrying)", stage=outcome.stage,
                       raw=outcome.raw, data={"edit_type": etype.name, "input": caption,
                                              "turn": k + 1})
            if outcome.stage == "prefilter":
                etype = self._pick(k, ctx)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _turn(self, etype: EditType, caption: str,
                    ctx: ItemContext) -> EditTurn | TurnFailure:
        opts = self.options
        if etype.needs and self._analyzer is not None and not self._analyzer.has(caption,
                                                                                 etype.needs):
            return TurnFailure("prefilter", f"missing_{etype.needs}",
                               f"the caption has no {etype.needs.replace('_', ' ')} "
                               f"({self._analyzer.method} prefilter)")
        if self._compose == "rules" and composes(etype):
            return await self._composed(etype, caption, ctx)
        schema = None
        if opts.constrain:
            try:
                schema = item_schema(etype, caption, self._analyzer,
                                     require_verb=opts.require_verb)
            except NoCandidates as exc:
                return TurnFailure("prefilter", f"no_{exc.field}_candidates",
                                   f"the caption offers nothing to use as {exc.field}")
        examples = sample_examples(etype, opts.examples, ctx.rng, sets=opts.example_sets)
        narrowed = schema
        if schema is not None and opts.couple != "off":  # tie the fields together
            def ask(s: dict[str, Any]) -> Any:
                return ctx.ask(edit_request(etype, caption, examples, max_tokens=opts.max_tokens,
                                            temperature=opts.temperature, schema=s),
                               validate=parse_fields(etype), stage="generate")
            try:
                schema = await couple(opts.couple, etype, caption, schema,
                                      etype.verbs if opts.require_verb else (), ask)
            except Reject as rej:
                return TurnFailure("generate", rej.reason, rej.detail, rej.raw)
        if schema is not None and narrowed is not None:  # one item's schema never stops a run
            schema = first_usable([("coupled" if schema is not narrowed else "item", schema),
                                   ("item", narrowed), ("plain", etype.schema())], ctx,
                                  f"{etype.name} edit")
        request = edit_request(etype, caption, examples, max_tokens=opts.max_tokens,
                               temperature=opts.temperature, schema=schema)
        checks = self._checks(etype)
        try:
            result = await ctx.ask(request, validate=parse_edit(etype), stage="generate")
        except Reject as rej:  # invalid JSON even after the runner's retries
            why = explain(caption, rej.raw, schema, checks) if schema is not None else None
            if why is not None:  # outside the narrowed schema: name the check it fails
                return TurnFailure(why[0], why[1], why[2], rej.raw)
            return TurnFailure("generate", rej.reason, rej.detail, rej.raw)
        return await self._accept(etype, caption, result, checks, ctx,
                                  few_shot=[f"{etype.name}-{i}" for i, _ in examples])

    def _checks(self, etype: EditType) -> tuple[Check, ...]:
        """Every check an answer of ``etype`` must pass, on every path."""
        opts = self.options
        checks = (*etype.checks, *((uses_a_verb(etype.verbs),) if opts.require_verb else ()),
                  short_instruction(), prose_instruction(), *sense_checks(etype))
        return (*checks, *answer_checks(etype.contract()))  # AnyEdit's stage rules

    async def _composed(self, etype: EditType, caption: str,
                        ctx: ItemContext) -> EditTurn | TurnFailure:
        """The ``rules`` path: the model chooses the fields, rules write edit and output."""
        checks = self._checks(etype)
        made = await compose_turn(etype, caption, self._analyzer, ctx,
                                  temperature=self.options.temperature,
                                  paraphrase=self.options.paraphrase, checks=checks)
        if isinstance(made, ComposeFailure):
            return TurnFailure(made.stage, made.reason, made.detail, made.raw)
        return await self._accept(etype, caption, result_of(made), checks, ctx,
                                  few_shot=[], compose="rules")

    async def _accept(self, etype: EditType, caption: str, result: Mapping[str, str],
                      checks: Sequence[Check], ctx: ItemContext, *, few_shot: list[str],
                      compose: str | None = None) -> EditTurn | TurnFailure:
        """Run the checks and the judge on one answer; the turn's record, or why it failed."""
        opts = self.options
        result = {**result, "edit": strip_final_punctuation(result["edit"])}  # AnyEdit's form
        raw = _raw(result, etype)
        for check in checks:
            problem = check(caption, result)
            if problem is not None:
                return TurnFailure("consistency", check.name, problem, raw)
        verdict: str | None = None
        p_yes: float | None = None
        if opts.judge:
            request = judge_request(etype, caption, result, mode=opts.judge_format,
                                    temperature=opts.judge_temperature)
            try:
                if opts.judge_format == "score":
                    verdict, score = await ctx.ask(
                        request, validate=score_verdict(opts.judge_threshold), stage="judge")
                    p_yes = round(score, 4)
                else:
                    verdict = await ctx.ask(request, validate=parse_verdict(opts.judge_format),
                                            stage="judge")
            except Reject as rej:
                return TurnFailure("judge", "judge_unparseable", rej.detail, rej.raw)
            if verdict != "yes":
                why = (f" (P(yes) = {p_yes:.4f} < judge_threshold "
                       f"{opts.judge_threshold})" if p_yes is not None else "")
                return TurnFailure("judge", "judge_no",
                                   f"the judge says this is not a {etype.title} instruction{why}",
                                   raw)
        return EditTurn(edit_type=etype.name, edit=result["edit"], input=caption,
                        output=result["output"], fields={f: result[f] for f in etype.fields},
                        judge=verdict, judge_p_yes=p_yes, few_shot=few_shot, compose=compose,
                        attempts=1)


def balanced_weights(types: Sequence[EditType], weights: Sequence[float],
                     run_dir: str) -> list[float]:
    """``weights`` divided by each type's acceptance rate in the run at ``run_dir``.

    The accepted share of type t is proportional to its draw weight times its
    acceptance rate, so dividing by the rate aims the accepted records at the
    target weights. Rates are smoothed, ``(accepted + 1) / (ended + 2)``, so a
    type the earlier run never accepted (or never tried) gets a large but
    finite weight. A missing or unreadable run is a recipe error naming the key.
    """
    from instructgen.errors import UserError
    from instructgen.report.metrics import edit_type_acceptance
    from instructgen.report.rundata import load_run

    try:
        table = edit_type_acceptance(load_run(run_dir))
    except UserError as exc:
        raise RecipeError(f"generator.balance_from: {exc}") from None
    out = []
    for etype, weight in zip(types, weights, strict=True):
        got, ended = table.get(etype.name, (0, 0))
        out.append(weight * (ended + 2) / (got + 1))
    total = sum(out)
    return [w * len(out) / total for w in out]


def caption_of(item: SourceItem, field: str) -> str:
    """The item's caption, normalised; an empty or non-string one rejects the item."""
    if field not in item.data:
        raise Reject("bad_caption", f"the item has no {field!r} field "
                     f"(fields: {', '.join(item.data) or 'none'})", stage="input")
    value = item.data[field]
    if not isinstance(value, str):
        raise Reject("bad_caption", f"{field} is {type(value).__name__}, not a string",
                     stage="input")
    caption = normalize(value)
    if not caption:
        raise Reject("bad_caption", f"{field} is empty", stage="input")
    return caption


def image_of(item: SourceItem) -> dict[str, Any]:
    """The item's image reference (file and/or URL), as the record carries it."""
    return {k: item.data[k] for k in ("image_file", "url") if item.data.get(k) is not None}


def _raw(result: Mapping[str, str], etype: EditType) -> str:
    return json.dumps({k: result[k] for k in ("edit", *etype.fields, "output")},
                      ensure_ascii=False)
