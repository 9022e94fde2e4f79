"""What the ``implicit`` generator says to the model, and the answer schema it enforces.

The conversation follows EditWorld's recipe: one worked example, a request for
a batch of new quadruples, then "continue" turns that ask for more while the
earlier answers stay in the history, so the model can avoid repeating itself.
The wording here is ours.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

#: The four fields of a quadruple, in the order the model is asked to write them.
FIELDS: tuple[str, ...] = ("original_caption", "instruction", "target_caption", "keywords")

#: Kinds of physical change a continue turn may steer towards, for variety.
DEFAULT_THEMES: tuple[str, ...] = (
    "falling and breaking",
    "melting and freezing",
    "fire and burning",
    "plants growing over time",
    "food going stale or rotting",
    "rain, snow and other weather",
    "cooking and baking",
    "water soaking or spilling",
    "strong wind",
    "time of day and light",
    "animals eating or playing",
    "squashing, bending and tearing",
)

SYSTEM = (
    "You write training data for an image-editing model. Each example has four parts: "
    "a short description of a photo, an implicit instruction, a description of the same "
    "photo after the instruction has happened, and keywords. An implicit instruction never "
    "says what to draw or change: it asks what would happen, or states a cause, and the new "
    "photo follows from how the real world works (things fall, melt, burn, grow, get wet, "
    "age). Reply with JSON only."
)


def _example_json(example: Mapping[str, Any]) -> str:
    keywords = example.get("keywords", [])
    shown = {
        "original_caption": example["original_caption"],
        "instruction": example["instruction"],
        "target_caption": example["target_caption"],
        "keywords": ", ".join(keywords) if isinstance(keywords, list) else str(keywords),
    }
    return json.dumps(shown, ensure_ascii=False)


def rules(per_turn: int, max_words: int, max_keywords: int) -> str:
    """The rules every turn repeats, so a trimmed history still carries them."""
    return (
        "Rules:\n"
        f"- original_caption and target_caption: one simple, concrete sentence each, at most "
        f"{max_words} words, describing what a camera would see.\n"
        '- instruction: a question such as "What happens if ...?" or a cause such as '
        '"After ..., ..." or "If ..., ...". Never start it with make, change, turn, add, '
        "remove or replace.\n"
        "- target_caption shows the visible result, so it differs from original_caption.\n"
        f"- keywords: 1 to {max_keywords} single nouns for the main objects, separated by "
        'commas, like "egg, floor".\n'
        f"Answer with a JSON array of {per_turn} objects with the keys original_caption, "
        "instruction, target_caption and keywords."
    )


def first_turn(example: Mapping[str, Any], *, per_turn: int, max_words: int,
               max_keywords: int) -> str:
    """Turn 0: the worked example and the request for a first batch."""
    return (
        f"Here is one example:\n{_example_json(example)}\n\n"
        f"Write {per_turn} new examples in the same spirit, each with different objects and "
        "a different kind of physical change.\n"
        + rules(per_turn, max_words, max_keywords)
    )


def continue_turn(*, per_turn: int, max_words: int, max_keywords: int,
                  theme: str | None) -> str:
    """A continue turn: more examples, unlike every earlier one."""
    focus = f" This time, focus on {theme}." if theme else ""
    return (
        f"Continue: write {per_turn} more examples that differ from every example above "
        f"(new objects, new places, new kinds of change).{focus}\n"
        + rules(per_turn, max_words, max_keywords)
    )


def answer_schema(*, per_turn: int, max_words: int, max_instruction_words: int,
                  max_keywords: int) -> dict[str, Any]:
    """An array of quadruples; string lengths are capped so decoding cannot run away."""

    def text(words: int) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": char_limit(words)}

    item = {
        "type": "object",
        "properties": {
            "original_caption": text(max_words),
            "instruction": text(max_instruction_words),
            "target_caption": text(max_words),
            "keywords": text(3 * max_keywords),
        },
        "required": list(FIELDS),
        "additionalProperties": False,
    }
    return {"type": "array", "items": item, "minItems": 1, "maxItems": per_turn}


def char_limit(words: int) -> int:
    """The schema's length cap for a field of ``words`` words.

    Generous (10 characters a word), so only a runaway string reaches it: the
    word limit is the real check, and a string cut at the cap is rejected.
    """
    return max(40, 10 * words)


def theme_for(themes: Sequence[str], rng: random.Random) -> str | None:
    """One theme drawn with the item's random generator, or None when themes are off."""
    return rng.choice(list(themes)) if themes else None
