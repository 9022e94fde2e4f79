"""``c2b``: collect diverse, plausible backgrounds for each concept.

The model is asked for a JSON array of short noun phrases, again and again
with new derived seeds, until ``target`` unique backgrounds are kept or
``max_attempts`` answers have been read. Every phrase goes through the same
steps, each counted in the record: normalize, drop junk, drop duplicates.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import attrs

from instructgen.backend import Completion, LLMRequest
from instructgen.context import ItemContext
from instructgen.errors import InvalidOutput, Reject
from instructgen.plugin import Generator
from instructgen.records import SourceItem
from instructgen.text import NearDuplicateIndex, clean_caption, mentions, word_count

from .captions import concept_of
from .payloads import ConceptBackgroundsPayload
from .phrases import indefinite, lemma_key, strip_article
from .prompts import backgrounds_prompt, backgrounds_schema

#: Most backgrounds one concept may ask for; more hurts quality (the reference warns).
MAX_TARGET = 50
#: The steps a phrase can be dropped at, in order; each is a count in the record.
DROP_REASONS = ("empty", "too_long", "contains_concept", "duplicate", "near_duplicate",
                "surplus")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")


@attrs.frozen
class C2bOptions:
    """Options of ``c2b``."""

    #: Unique backgrounds wanted per concept (the seed's average, 50, is also the most).
    target: int = attrs.field(default=MAX_TARGET, validator=[attrs.validators.ge(1),
                                                     attrs.validators.le(MAX_TARGET)])
    #: Most model answers read per concept, whether or not ``target`` is reached.
    max_attempts: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    #: Backgrounds asked for in one request.
    per_request: int = attrs.field(default=10, validator=[attrs.validators.ge(1),
                                                          attrs.validators.le(MAX_TARGET)])
    #: Longest background kept, in words (articles not counted).
    max_words: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    #: ``strip``: "snowy field"; ``indefinite``: "a snowy field" (plurals stay bare).
    article: Literal["strip", "indefinite"] = "strip"
    #: Similarity (0-1) at which two backgrounds count as the same; 1.0: exact only.
    near_threshold: float = attrs.field(default=0.85)
    #: Concepts ending with fewer backgrounds than this are rejected.
    min_backgrounds: int = attrs.field(default=1, validator=attrs.validators.ge(0))
    #: Show the model up to this many backgrounds it already gave, to steer it elsewhere.
    show_known: int = attrs.field(default=8, validator=attrs.validators.ge(0))
    #: Tokens the model may write per answer.
    max_tokens: int = attrs.field(default=160, validator=attrs.validators.ge(8))
    #: Sampling temperature; high, because diversity is the point.
    temperature: float = 0.9

    @near_threshold.validator
    def _check_threshold(self, _attr: Any, value: float) -> None:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"near_threshold must be in (0, 1], got {value}")


def normalize_background(text: str, article: str = "strip") -> str:
    """Lower case, single spaces, no edge punctuation, and one article policy."""
    phrase = clean_caption(text).lower()
    phrase = _EDGE_PUNCT.sub("", phrase)
    phrase = " ".join(phrase.split())
    bare = strip_article(phrase)
    return indefinite(bare) if article == "indefinite" else bare


def _phrases(answer: Completion) -> list[str]:
    if not isinstance(answer.parsed, list):
        raise InvalidOutput("answer is not a JSON array")
    return [p for p in answer.parsed if isinstance(p, str)]


class BackgroundCollector:
    """The per-concept state: kept backgrounds, the duplicate index and the counts."""

    def __init__(self, concept: str, options: C2bOptions) -> None:
        self.concept = concept
        self.options = options
        self.kept: list[str] = []
        self.index = NearDuplicateIndex(options.near_threshold)
        # "golf cart" and "golfcart" share no word, so the index cannot pair them.
        self.compact: set[str] = set()
        self.counts: dict[str, int] = {"returned": 0, **dict.fromkeys(DROP_REASONS, 0),
                                       "kept": 0}
        self.dropped: dict[str, list[str]] = {}

    @property
    def done(self) -> bool:
        return len(self.kept) >= self.options.target

    def _drop(self, reason: str, phrase: str) -> None:
        self.counts[reason] += 1
        self.dropped.setdefault(reason, []).append(phrase)

    def offer(self, raw: str) -> None:
        """Run one phrase through normalize → junk → duplicate checks."""
        self.counts["returned"] += 1
        phrase = normalize_background(raw, self.options.article)
        bare = strip_article(phrase)
        if word_count(bare) == 0:
            self._drop("empty", raw)
        elif word_count(bare) > self.options.max_words:
            self._drop("too_long", phrase)
        elif mentions(bare, self.concept) or lemma_key(bare) == lemma_key(self.concept):
            self._drop("contains_concept", phrase)
        else:
            key = lemma_key(bare)
            compact = key.replace(" ", "").replace("-", "")
            found = self.index.match(key)
            if compact in self.compact:
                self._drop("duplicate", phrase)
            elif found is not None:
                self._drop("duplicate" if found[1] >= 1.0 else "near_duplicate", phrase)
            elif self.done:
                self._drop("surplus", phrase)
            else:
                self.index.add(key)
                self.compact.add(compact)
                self.kept.append(phrase)
                self.counts["kept"] += 1


class ConceptBackgrounds(Generator):
    """Asks repeatedly for backgrounds of one concept until enough unique ones are kept."""

    def __init__(self, options: C2bOptions) -> None:
        self.options = options

    async def generate(self, item: SourceItem, ctx: ItemContext) -> list[dict[str, Any]]:
        opts = self.options
        concept = concept_of(item)
        found = BackgroundCollector(concept, opts)
        attempts = invalid = 0
        while attempts < opts.max_attempts and not found.done:
            known = found.kept[-opts.show_known:] if opts.show_known else []
            request = LLMRequest(
                messages=backgrounds_prompt(concept, opts.per_request, known),
                max_tokens=opts.max_tokens, temperature=opts.temperature,
                seed=ctx.derive_seed("c2b", attempts),
                schema=backgrounds_schema(opts.per_request),
            )
            attempts += 1
            try:
                phrases = await ctx.ask(request, validate=_phrases, stage="c2b")
            except Reject as rej:  # one unusable answer must not cost the whole concept
                invalid += 1
                ctx.reject(rej.reason, f"attempt {attempts}: {rej.detail}", stage="c2b",
                           raw=rej.raw)
                continue
            for phrase in phrases:
                found.offer(phrase)
        if len(found.kept) < opts.min_backgrounds:
            raise Reject("too_few_backgrounds",
                         f"{len(found.kept)} unique backgrounds after {attempts} attempts "
                         f"(min_backgrounds {opts.min_backgrounds})", stage="c2b")
        return [ConceptBackgroundsPayload(
            concept=concept,
            backgrounds=found.kept,
            target=opts.target,
            complete=found.done,
            attempts=attempts,
            invalid_answers=invalid,
            counts=found.counts,
            dropped=found.dropped,
            sources=list(item.data.get("sources", [])),
        ).payload()]
