"""Caption generators over concepts: ``c2cap`` (concept) and ``cb2cap`` (concept + background).

An answer that breaks a rule (too long, two sentences, digits, an opinion
word, the concept missing) raises :class:`InvalidOutput`, so the runner asks
again with a new seed; after ``max_retries`` the reason is in the rejects.
A caption that passes the rules but shows a sense problem (a repeated word,
a non-word, the concept modifying itself; :mod:`.fluency`) is asked again
too, and rejected under that problem's name.

``compose`` (:mod:`.paths`) says who writes the sentence: the model
(``model``), or a template bank from fields the model picks (``template``,
:mod:`.fields` and :mod:`.templates`); ``auto`` is ``template`` for the
embedded model, by measured precision.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

import attrs

from instructgen.backend import Completion, LLMRequest
from instructgen.context import ItemContext
from instructgen.errors import InvalidOutput, Reject
from instructgen.plugin import BuildContext, Generator
from instructgen.records import SourceItem
from instructgen.text import clean_caption, contains_any_word, mentions, word_count, words

from .constraints import explain, item_schema
from .fields import look_schema, read_look
from .fluency import SenseProblem, check_sense
from .lexicon import kind_of
from .paths import COMPOSE_PATHS, Compose, resolve
from .payloads import BackgroundCaptionPayload, ConceptCaptionPayload
from .phrases import strip_article
from .prompts import (
    background_caption_prompt,
    caption_schema,
    concept_caption_prompt,
    look_prompt,
)
from .templates import NoCaption, background_caption, concept_caption

#: Words that make a caption subjective rather than factual.
OPINION_WORDS = (
    "beautiful", "stunning", "gorgeous", "breathtaking", "majestic", "amazing", "wonderful",
    "lovely", "magnificent", "picturesque", "serene", "charming", "delightful", "adorable",
    "cute", "perfect", "awesome", "exquisite", "enchanting", "mesmerizing", "magical",
)
_SENTENCE_BREAK = re.compile(r"[.!?;]\s+\S")
_DIGIT = re.compile(r"\d")


def at_least_one(_inst: Any, attr: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"{attr.name} must be at least 1, got {value}")


@attrs.frozen(kw_only=True)
class CaptionRules:
    """Rules every concept caption follows; shared by the caption generators."""

    #: Most words in a caption.
    max_words: int = attrs.field(default=12, validator=at_least_one)
    #: Words that mark a caption as subjective; a caption using one is asked again.
    banned_words: list[str] = attrs.field(factory=lambda: list(OPINION_WORDS))
    #: Allow digits ("3 cats"); the reference data has none.
    allow_digits: bool = False
    #: Tokens the model may write per answer.
    max_tokens: int = attrs.field(default=64, validator=at_least_one)
    #: Sampling temperature.
    temperature: float = 0.7
    #: Write the caption rules into each request's schema (the concepts named, the
    #: word limit, one sentence, no digits), so constrained decoding only writes
    #: captions the checks accept (see docs/concepts.md, "Constraints"); ``false``:
    #: a plain string schema, the rules checked after the answer only.
    constrain: bool = True
    #: Who writes the caption: ``model`` (the model writes the sentence),
    #: ``template`` (the model picks a colour, size, state or pose from closed lists
    #: that fit the concept's kind, and a template bank writes the sentence), or
    #: ``auto`` (by measured precision: ``template`` for the embedded model;
    #: docs/concepts.md).
    compose: Compose = attrs.field(default="auto",
                                   validator=attrs.validators.in_(COMPOSE_PATHS))

    def path(self, family: str, model: str | None = None) -> Literal["model", "template"]:
        """``model`` or ``template``: what ``compose`` stands for in ``family`` on ``model``."""
        return resolve(self.compose, family, model)


Rules = TypeVar("Rules", bound=CaptionRules)


@attrs.frozen
class PreparedCaptions(Generic[Rules]):
    """What a caption generator is built from: its options and who writes its captions."""

    options: Rules
    #: ``model`` or ``template``: ``compose`` as set, or, under ``auto``, the path measured
    #: for the model the recipe's backend names. Chosen at plan time.
    path: Literal["model", "template"]


def prepare_captions(family: str) -> Callable[[Any, BuildContext], PreparedCaptions[Any]]:
    """The plan-time step of ``family``'s generator: choose its path by the recipe's model."""

    def prepare(options: CaptionRules, ctx: BuildContext) -> PreparedCaptions[Any]:
        return PreparedCaptions(options, options.path(family, ctx.backend_model))

    return prepare


class ComposedCaptions(Generator, Generic[Rules]):
    """A caption generator whose ``compose = "auto"`` follows the recipe's model."""

    def __init__(self, prepared: PreparedCaptions[Rules]) -> None:
        self.options: Rules = prepared.options
        self._path = prepared.path

    def path(self) -> Literal["model", "template"]:
        """``model`` or ``template``: who writes this run's captions."""
        return self._path


def check_caption(answer: Completion, rules: CaptionRules, concepts: Sequence[str]) -> str:
    """The cleaned caption, or :class:`InvalidOutput` saying which rule it breaks."""
    parsed = answer.parsed
    if not isinstance(parsed, Mapping) or not isinstance(parsed.get("caption"), str):
        raise InvalidOutput("answer has no caption string")
    caption = clean_caption(parsed["caption"])
    if not words(caption):
        raise InvalidOutput("empty caption")
    caption = caption[0].upper() + caption[1:]
    n = word_count(caption)
    if n > rules.max_words:
        raise InvalidOutput(f"{n} words > max_words {rules.max_words}")
    if _SENTENCE_BREAK.search(caption) or "\n" in caption:
        raise InvalidOutput("more than one sentence")
    if caption.rstrip().endswith("?"):
        raise InvalidOutput("a question, not a caption")
    if not rules.allow_digits and _DIGIT.search(caption):
        raise InvalidOutput("contains digits")
    opinion = contains_any_word(caption, rules.banned_words)
    if opinion:
        raise InvalidOutput(f"subjective word(s): {', '.join(opinion)}")
    missing = [c for c in concepts if not mentions(caption, c)]
    if missing:
        raise InvalidOutput(f"does not mention {', '.join(map(repr, missing))}")
    return caption


def caption_request(rules: CaptionRules, prompt: Any, seed: int | None = None,
                    concepts: Sequence[str] = ()) -> LLMRequest:
    """The request for one caption; with ``rules.constrain``, its schema names ``concepts``."""
    schema = caption_schema(rules.max_words)
    if rules.constrain and concepts:
        schema = item_schema(schema, concepts, rules.max_words, allow_digits=rules.allow_digits)
    return LLMRequest(messages=prompt, max_tokens=rules.max_tokens,
                      temperature=rules.temperature, seed=seed, schema=schema)


def validator(rules: CaptionRules, concepts: Sequence[str],
              known: Sequence[str] = ()) -> Callable[[Completion], str]:
    """The model path's check: the caption rules, then the sense checks."""

    def check(answer: Completion) -> str:
        caption = check_caption(answer, rules, concepts)
        check_sense(caption, concepts, known)
        return caption

    return check


class LastProblem:
    """Wraps a validator and remembers the problem of the last answer it refused.

    ``ctx.ask`` reports every final refusal as ``invalid_output``; a sense
    problem should be rejected under its own name instead.
    """

    def __init__(self, check: Callable[[Completion], str]) -> None:
        self.check = check
        self.last: tuple[str, InvalidOutput] | None = None

    def __call__(self, answer: Completion) -> str:
        try:
            return self.check(answer)
        except InvalidOutput as exc:
            self.last = (answer.text, exc)
            raise

    def named(self, rej: Reject) -> Reject | None:
        """``rej`` under the sense problem's name, when that is what the last answer broke."""
        if self.last is None or rej.reason != "invalid_output" or rej.raw != self.last[0]:
            return None
        exc = self.last[1]
        if not isinstance(exc, SenseProblem):
            return None
        tail = rej.detail[len(str(exc)):] if rej.detail.startswith(str(exc)) else ""
        return Reject(exc.reason, f"{str(exc).split(': ', 1)[1]}{tail}", stage=rej.stage,
                      raw=rej.raw)


async def ask_caption(ctx: ItemContext, rules: CaptionRules, request: LLMRequest,
                      concepts: Sequence[str], stage: str, known: Sequence[str] = ()) -> str:
    """Ask for a caption; a rejection names the caption rule the last answer broke.

    Without constrained decoding an answer can fail the narrowed schema; the
    rejection then says which check it fails, as it would without ``constrain``.
    ``known``: texts whose words the caption may use (a background).
    """
    check = LastProblem(validator(rules, concepts, known))
    try:
        return await ctx.ask(request, validate=check, stage=stage)
    except Reject as rej:
        raise check.named(rej) or explain(rej, check.check) from None


def checked_template(caption: str, rules: CaptionRules, concepts: Sequence[str],
                     known: Sequence[str] = ()) -> str:
    """A template's caption through the same rules and sense checks as a model's."""
    answer = Completion(text=caption, parsed={"caption": caption})
    return validator(rules, concepts, known)(answer)


async def ask_template(ctx: ItemContext, rules: CaptionRules, request: LLMRequest,
                       write: Callable[[Any], str], concepts: Sequence[str], stage: str,
                       known: Sequence[str] = ()) -> str:
    """Ask for the fields, let ``write(parsed)`` make the caption, and check it.

    A caption that fails a check (no template fits the word limit, a sense
    problem) asks the model again, as on the model path.
    """

    def build(answer: Completion) -> str:
        try:
            caption = write(answer.parsed)
        except NoCaption as exc:
            raise InvalidOutput(str(exc)) from None
        return checked_template(caption, rules, concepts, known)

    check = LastProblem(build)
    try:
        return await ctx.ask(request, validate=check, stage=stage)
    except Reject as rej:
        raise check.named(rej) or rej from None


def look_request(rules: CaptionRules, concept: str, seed: int | None = None) -> LLMRequest:
    """The template path's request: the concept's fields, each from a closed list."""
    return LLMRequest(messages=look_prompt(concept, kind_of(concept)),
                      max_tokens=rules.max_tokens, temperature=rules.temperature, seed=seed,
                      schema=look_schema(concept))



def concept_of(item: SourceItem) -> str:
    concept = item.data.get("concept")
    if not isinstance(concept, str) or not concept.strip():
        raise Reject("bad_item", "item has no 'concept' string; use source 'concept_pool'")
    return concept


@attrs.frozen(kw_only=True)
class C2capOptions(CaptionRules):
    """Options of ``c2cap``: the caption rules."""


class ConceptCaptions(ComposedCaptions[C2capOptions]):
    """One short factual caption per concept."""

    async def generate(self, item: SourceItem, ctx: ItemContext) -> list[dict[str, Any]]:
        concept = concept_of(item)
        rules = self.options
        if self.path() == "template":
            caption = await ask_template(
                ctx, rules, look_request(rules, concept),
                lambda parsed: concept_caption(concept, read_look(parsed), rules.max_words,
                                               ctx.rng),
                [concept], "c2cap")
        else:
            request = caption_request(rules, concept_caption_prompt(concept, rules.max_words),
                                      concepts=[concept])
            caption = await ask_caption(ctx, rules, request, [concept], "c2cap")
        return [ConceptCaptionPayload(concept=concept, caption=caption,
                                      sources=list(item.data.get("sources", []))).payload()]


@attrs.frozen(kw_only=True)
class Cb2capOptions(CaptionRules):
    """Options of ``cb2cap``."""

    #: Backgrounds per concept, drawn without replacement with the item's seed.
    k: int = attrs.field(default=3, validator=at_least_one)
    #: Most words in a caption (12, as the reference asks).
    max_words: int = attrs.field(default=12, validator=at_least_one)


class BackgroundCaptions(ComposedCaptions[Cb2capOptions]):
    """A caption per (concept, background) pair for ``k`` backgrounds of each concept."""

    async def generate(self, item: SourceItem, ctx: ItemContext) -> list[dict[str, Any]]:
        concept = concept_of(item)
        rules = self.options
        backgrounds = [b for b in item.data.get("backgrounds", []) if isinstance(b, str)]
        if not backgrounds:
            raise Reject("no_backgrounds", f"{concept!r} has no backgrounds in the pool")
        # sample() copies: the item's (possibly shared) list is never reordered.
        chosen = ctx.rng.sample(backgrounds, min(rules.k, len(backgrounds)))
        out: list[dict[str, Any]] = []
        template = self.path() == "template"
        for background in chosen:
            seed = ctx.derive_seed("cb2cap", background)
            try:
                if template:
                    def write(parsed: Any, bg: str = background) -> str:
                        return background_caption(concept, read_look(parsed), bg,
                                                  rules.max_words, ctx.rng)

                    caption = await ask_template(
                        ctx, rules, look_request(rules, concept, seed), write,
                        [concept], "cb2cap", known=[background])
                else:
                    prompt = background_caption_prompt(concept, background, rules.max_words)
                    request = caption_request(rules, prompt, seed, concepts=[concept])
                    caption = await ask_caption(ctx, rules, request, [concept], "cb2cap",
                                                known=[background])
            except Reject as rej:
                ctx.reject(rej.reason, f"background {background!r}: {rej.detail}",
                           stage="cb2cap", raw=rej.raw, data={"background": background})
                continue
            out.append(BackgroundCaptionPayload(
                concept=concept,
                background=background,
                caption=caption,
                mentions_background=mentions(caption, strip_article(background)),
                background_overlap=round(background_overlap(caption, background), 3),
                sources=list(item.data.get("sources", [])),
            ).payload())
        # Each failed background is already in the rejects; an empty list is a valid result.
        return out


_STOP = frozenset({"a", "an", "the", "of", "in", "on", "at", "with", "and", "to", "by"})


def background_overlap(caption: str, background: str) -> float:
    """Share of the background's content words that the caption uses (plurals allowed)."""
    content = [w for w in words(background) if w.lower() not in _STOP]
    if not content:
        return 0.0
    return sum(mentions(caption, w) for w in content) / len(content)
