"""The prompts and answer schemas of the concept generators.

The embedded model is tiny: it follows worked examples given as earlier chat
turns far better than rules in prose (a single in-prompt example gets copied
word for word). So each prompt is a short system rule, two example turns
with subjects unlikely to be in a pool's first items, and the real question.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instructgen.backend import Message, messages


def caption_schema(max_words: int) -> dict[str, Any]:
    """``{"caption": "..."}``, the string capped near ``max_words`` words of text."""
    return {
        "type": "object",
        "properties": {"caption": {"type": "string", "minLength": 3,
                                   "maxLength": max_words * 9 + 12}},
        "required": ["caption"],
        "additionalProperties": False,
    }


def backgrounds_schema(count: int, max_chars: int = 40) -> dict[str, Any]:
    """A JSON array of up to ``count`` short strings."""
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 2, "maxLength": max_chars},
        "minItems": 1,
        "maxItems": count,
    }


def _caption_system(max_words: int, subjects: str) -> str:
    return (
        f"You write captions for photographs. A caption is one plain, factual sentence of "
        f"at most {max_words} words about what the photo shows. It names {subjects}, "
        "has no opinions and no numbers. Answer with JSON only."
    )


def backgrounds_prompt(concept: str, count: int, known: Sequence[str] = ()) -> tuple[Message, ...]:
    """Ask for ``count`` places or scenes where ``concept`` could be photographed."""
    system = (
        f"You list {count} different places or scenes where a thing can be seen in a photo. "
        "Each is a short noun phrase of 1 to 4 words that does not repeat the thing's name. "
        "Answer with a JSON array."
    )
    question = f"Thing: {concept}"
    if known:
        question += "\nAlready listed, give others: " + ", ".join(known)
    return messages(
        ("system", system),
        ("user", "Thing: canoe"),
        ("assistant", '["calm lake","river bank","boathouse","camping site","waterfall pool"]'),
        ("user", "Thing: lantern"),
        ("assistant", '["porch railing","night market","cave entrance","attic","garden path"]'),
        ("user", question),
    )


def concept_caption_prompt(concept: str, max_words: int) -> tuple[Message, ...]:
    """The subject alone: the reference's c2cap asks for no other objects."""
    return messages(
        ("system", _caption_system(max_words, "the subject and no other object")),
        ("user", "Subject: lantern"),
        ("assistant", '{"caption":"A brass lantern with a small glowing flame."}'),
        ("user", "Subject: apple"),
        ("assistant", '{"caption":"A shiny red apple with a short stem."}'),
        ("user", f"Subject: {concept}"),
    )


def background_caption_prompt(concept: str, background: str,
                              max_words: int) -> tuple[Message, ...]:
    return messages(
        ("system", _caption_system(max_words, "the subject and places it in the setting")),
        ("user", "Subject: lantern\nSetting: camping site"),
        ("assistant", '{"caption":"A lit lantern standing on a table at a camping site."}'),
        ("user", "Subject: apple\nSetting: orchard"),
        ("assistant", '{"caption":"A ripe apple hanging from a branch in an orchard."}'),
        ("user", f"Subject: {concept}\nSetting: {background}"),
    )


def pair_caption_prompt(first: str, second: str, max_words: int) -> tuple[Message, ...]:
    return messages(
        ("system", _caption_system(max_words, "both subjects")),
        ("user", "Subjects: lantern, dog"),
        ("assistant", '{"caption":"A dog sleeping beside a brass lantern."}'),
        ("user", "Subjects: apple, chair"),
        ("assistant", '{"caption":"A red apple on a wooden chair."}'),
        ("user", f"Subjects: {first}, {second}"),
    )


_LOOK_SYSTEM = (
    "You say how a thing usually looks in a photo by choosing one option for each field. "
    "Choose what is most typical of the thing; choose none when no option fits. "
    "Answer with JSON only."
)


#: Two worked answers per kind of concept, with the fields that kind is asked for.
_LOOK_SHOTS: dict[str, tuple[tuple[str, str], ...]] = {
    "thing": (("Subject: lantern", '{"colour":"black","size":"small"}'),
              ("Subject: canoe", '{"colour":"red","size":"none"}')),
    "fixed_colour": (("Subject: lantern", '{"size":"small"}'),
                     ("Subject: canoe", '{"size":"none"}')),
    "food": (("Subject: lemon", '{"size":"sliced"}'),
             ("Subject: bagel", '{"size":"none"}')),
    "plant": (("Subject: tulip", '{"size":"none"}'),
              ("Subject: palm tree", '{"size":"tall"}')),
    "creature": (("Subject: fox", '{"pose":"sitting"}'),
                 ("Subject: crow", '{"pose":"standing"}')),
}


def look_prompt(concept: str, kind: str) -> tuple[Message, ...]:
    """Ask for the fields of :func:`~.fields.look_schema`; examples of the concept's kind.

    ``kind`` is :func:`~.lexicon.kind_of` the concept, so the worked examples
    show the same fields the schema asks for.
    """
    turns: list[tuple[str, str]] = [("system", _LOOK_SYSTEM)]
    for question, answer in _LOOK_SHOTS.get(kind, _LOOK_SHOTS["creature"]):
        turns += [("user", question), ("assistant", answer)]
    return messages(*turns, ("user", f"Subject: {concept}"))


def pair_look_prompt(first: str, second: str) -> tuple[Message, ...]:
    """Ask for a colour per subject and how the first stands to the second."""
    return messages(
        ("system", _LOOK_SYSTEM),
        ("user", "Subjects: canoe, lantern"),
        ("assistant", '{"first_colour":"red","second_colour":"black","relation":"beside"}'),
        ("user", "Subjects: mailbox, bucket"),
        ("assistant", '{"first_colour":"blue","second_colour":"grey","relation":"in front of"}'),
        ("user", f"Subjects: {first}, {second}"),
    )


def photographable_prompt(concept: str) -> tuple[Message, ...]:
    """The yes/no question of ``instructgen concepts filter --llm``."""
    return messages(
        ("system", "Answer whether the named thing is a concrete object that can be "
                   "photographed. Say no to a proper noun or a person's name, to a species "
                   "or a breed named as such, and to a product model or brand: the concept "
                   "should be a general kind of thing. Answer with JSON only."),
        ("user", "Is \"bicycle\" a concrete object that can be photographed?"),
        ("assistant", '{"answer":"yes"}'),
        ("user", "Is \"freedom\" a concrete object that can be photographed?"),
        ("assistant", '{"answer":"no"}'),
        ("user", "Is \"Boeing 737 MAX\" a concrete object that can be photographed?"),
        ("assistant", '{"answer":"no"}'),
        ("user", "Is \"eastern bluebird\" a concrete object that can be photographed?"),
        ("assistant", '{"answer":"no"}'),
        ("user", f"Is \"{concept}\" a concrete object that can be photographed?"),
    )


YES_NO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}
