"""``cc2cap``: one caption combining two different concepts.

Under ``compose = "template"`` the model picks a colour per concept and how
the first stands to the second (next to, behind, ...), and a template writes
the caption (:mod:`.templates`); under ``model`` the model writes it.

A caption that places the pair nowhere ("A cat beside a ladder.") gets a
background from the pool appended, in ``append_backgrounds`` variants (10, as
the reference made) with distinct backgrounds drawn with the item's seed; such
records say so in ``background_appended``. A background that already starts
with a preposition ("on the shipbuilding area", as in the reference's
``concept.json``) is appended as written; a bare one ("snowy field") gets
``preposition`` and an article.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from instructgen.backend import LLMRequest
from instructgen.context import ItemContext
from instructgen.errors import Reject, UserError
from instructgen.records import SourceItem
from instructgen.text import dedup_key, mentions, words

from .captions import (
    CaptionRules,
    ComposedCaptions,
    ask_caption,
    ask_template,
    at_least_one,
    caption_request,
)
from .fields import pair_schema, read_look, read_relation
from .lexicon import creature_kind, fits_setting
from .payloads import PairCaptionPayload
from .phrases import PLACE_WORDS as _PLACE_WORDS
from .phrases import indefinite, starts_with_preposition
from .prompts import pair_caption_prompt, pair_look_prompt
from .templates import pair_caption, place_head, setting_phrase

_SCENE_START = re.compile(
    r"\b(?:next to|in front of|" + "|".join(_PLACE_WORDS) + r")\s+"
    r"(?:the|a|an|some|his|her|their|its|this|that)\s+",
    re.IGNORECASE,
)
#: Words that end the noun phrase after a place preposition.
_PHRASE_END = frozenset({*_PLACE_WORDS, "and", "with", "while", "next", "of", "as", "during"})


def has_scene(caption: str, concepts: Sequence[str]) -> bool:
    """True when a place phrase ("on the beach") names something other than the concepts.

    "A cat on the ladder" relates the two concepts; it does not set a scene.
    """
    for match in _SCENE_START.finditer(caption):
        place: list[str] = []
        for word in words(caption[match.end():]):
            if word.lower() in _PHRASE_END or len(place) == 4:
                break
            place.append(word)
        if place and not any(mentions(" ".join(place), c) for c in concepts):
            return True
    return False


def append_background(caption: str, background: str, preposition: str = "in") -> str:
    """The caption placed in ``background``.

    ``"A cat and a ladder." + "snowy field"`` → ``"A cat and a ladder in a snowy field."``;
    ``+ "on the shipbuilding area"`` → ``"A cat and a ladder on the shipbuilding area."``.
    """
    body = caption.rstrip().rstrip(".!").rstrip()
    place = " ".join(background.split()).rstrip(".")
    if starts_with_preposition(place):
        return f"{body} {place[:1].lower()}{place[1:]}."
    return f"{body} {preposition} {indefinite(place)}."


def append_setting(caption: str, background: str) -> str:
    """The caption placed in ``background`` with the preposition the setting takes.

    ``"A cat beside a ladder." + "bus stop"`` → ``"A cat beside a ladder at a bus stop."``
    """
    return f"{caption.rstrip().rstrip('.!').rstrip()} {setting_phrase(background)}."


def distinct(texts: Iterable[str]) -> list[str]:
    """``texts`` in order, each once (case and spacing ignored), blanks dropped."""
    seen: set[str] = set()
    out = []
    for text in texts:
        key = dedup_key(text)
        if key and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def pair_request(rules: CaptionRules, first: str, second: str) -> LLMRequest:
    """The template path's request: a colour per concept and a relation, from closed lists."""
    return LLMRequest(messages=pair_look_prompt(first, second), max_tokens=rules.max_tokens,
                      temperature=rules.temperature, schema=pair_schema(first, second))


def write_pair(parsed: Any, first: str, second: str, max_words: int,
               rng: random.Random) -> str:
    """The template path's caption from a ``cc2cap`` answer."""
    looks = (read_look(parsed, "first_"), read_look(parsed, "second_"))
    return pair_caption((first, second), looks, read_relation(parsed), max_words, rng)


@attrs.frozen(kw_only=True)
class Cc2capOptions(CaptionRules):
    """Options of ``cc2cap``."""

    #: Most words in the caption the model writes (before a background is appended);
    #: 12, as the reference asks.
    max_words: int = attrs.field(default=12, validator=at_least_one)
    #: Variants with a distinct pool background appended when the caption has no scene
    #: (10, as the reference made; seeded, no duplicates); 0: none.
    append_backgrounds: int = attrs.field(default=10, validator=attrs.validators.ge(0))
    #: Preposition joining an appended background that does not start with one.
    preposition: str = "in"


class PairCaptions(ComposedCaptions[Cc2capOptions]):
    """A caption per unordered concept pair, with a background when it lacks a scene."""

    async def generate(self, item: SourceItem, ctx: ItemContext) -> list[dict[str, Any]]:
        opts = self.options
        concepts = item.data.get("concepts")
        if not isinstance(concepts, list) or len(concepts) != 2:
            raise UserError(f"cc2cap needs items with two concepts (item {item.id!r} has "
                            f"{concepts!r}); use source 'concept_pairs'")
        first, second = concepts
        if words(first.lower()) == words(second.lower()):
            raise Reject("same_concept", f"both concepts are {first!r}")
        if self.path() == "template":
            caption = await ask_template(ctx, opts, pair_request(opts, first, second),
                                         lambda parsed: write_pair(parsed, first, second,
                                                                   opts.max_words, ctx.rng),
                                         [first, second], "cc2cap")
        else:
            prompt = pair_caption_prompt(first, second, opts.max_words)
            request = caption_request(opts, prompt, concepts=[first, second])
            caption = await ask_caption(ctx, opts, request, [first, second], "cc2cap")
        sources = item.data.get("sources", {})
        # The template path places a background as its own captions do ("on a beach",
        # "at a bus stop"); the model path keeps the one preposition of the options.
        place = (append_setting if self.path() == "template"
                 else lambda text, bg: append_background(text, bg, opts.preposition))

        def record(background: str | None = None, scene: bool = False) -> dict[str, Any]:
            """The record of ``caption``, with ``background`` appended if one is given."""
            return PairCaptionPayload(
                concepts=[first, second], sources=sources,
                caption=caption if background is None else place(caption, background),
                base_caption=caption, background=background,
                background_appended=background is not None, has_scene=scene).payload()

        if has_scene(caption, concepts) or opts.append_backgrounds == 0:
            return [record(scene=has_scene(caption, concepts))]
        # One entry per distinct background, so no two variants share one.
        pool = distinct(b for b in item.data.get("backgrounds", []) if isinstance(b, str))
        if self.path() == "template":  # no giraffe on a breakfast tray
            pool = [b for b in pool if all(fits_setting(c, place_head(b)) for c in concepts)]
            water = [c for c in concepts if creature_kind(c) == "fish"]
            if water and not pool:  # a goldfish next to a camera, out of water
                raise Reject("no_fitting_scene", f"{water[0]!r} needs water, and no background "
                             "of the pair is water both concepts fit", stage="cc2cap")
        if not pool:  # nothing to append from: keep the caption as it is
            return [record()]
        chosen = ctx.rng.sample(pool, min(opts.append_backgrounds, len(pool)))
        return [record(bg) for bg in chosen]
