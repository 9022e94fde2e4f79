"""The template path of ``implicit``: the model picks events, templates write quadruples.

By reading, SmolLM2-135M writes few quadruples a dataset builder would keep
(docs/implicit.md, "Which path"). Under ``compose = "template"`` each turn asks
the model only for a JSON array of event names from a closed list
(:data:`~.events.EVENTS`; a continue turn with a theme offers that theme's
events), and this module writes each quadruple: the captions from the
event's before and after, in a place drawn with the item's seed, and the
instruction from a bank of question and cause forms around the event's
clause, so it never names the edit.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from instructgen.backend import Message, messages

from .events import BY_NAME, EVENTS, Event

#: Instruction forms: ``{clause}`` reads after "if", ``{thing}`` is the thing that changes.
INSTRUCTION_FORMS: tuple[str, ...] = (
    "What happens if {clause}?",
    "What would the {thing} look like if {clause}?",
    "If {clause}, how does the scene look?",
    "How does the {thing} change if {clause}?",
    "What will you see after {clause}?",
    "Imagine {clause}. What changes?",
)


def events_for(theme: str | None) -> tuple[Event, ...]:
    """The events a turn may pick: the theme's, or all when it has none (or no theme)."""
    themed = tuple(e for e in EVENTS if e.theme == theme)
    return themed or EVENTS


def events_schema(events: Sequence[Event], per_turn: int) -> dict[str, Any]:
    """An array of 1 to ``per_turn`` event names, each from ``events``."""
    return {"type": "array", "items": {"type": "string", "enum": [e.name for e in events]},
            "minItems": 1, "maxItems": per_turn}


def events_prompt(example: Mapping[str, Any], events: Sequence[Event],
                  per_turn: int) -> tuple[Message, ...]:
    """Show the seed and the events, and ask for ``per_turn`` different ones."""
    listing = "\n".join(f"- {e.name}" for e in events)
    return messages(
        ("system", "You choose everyday events that change how a scene looks. "
                   "Answer with a JSON array of event names from the list only."),
        ("user", f"An example of such a change: {example.get('instruction', '')} "
                 f"({example.get('original_caption', '')} -> "
                 f"{example.get('target_caption', '')})\n\nEvents:\n{listing}\n\n"
                 f"Choose {per_turn} different events."),
    )


def picked_events(parsed: Any) -> list[Event]:
    """The known events of an answer, each once, in order."""
    names = parsed if isinstance(parsed, list) else []
    return [BY_NAME[n] for n in dict.fromkeys(names) if isinstance(n, str) and n in BY_NAME]


def _sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def write_quadruple(event: Event, rng: random.Random) -> dict[str, Any]:
    """One quadruple for ``event``: a place and an instruction form drawn with ``rng``."""
    place = rng.choice(event.places) if event.places else ""

    def fill(template: str) -> str:
        return " ".join(template.format(place=place).split())

    form = rng.choice(INSTRUCTION_FORMS)
    clause = event.clause
    if "{thing}" in form:  # named once: "What would the vase look like if it is knocked over?"
        clause = clause.replace(f"the {event.thing}", "it", 1)
    return {"original_caption": _sentence_start(fill(event.before)),
            "instruction": _sentence_start(form.format(clause=clause, thing=event.thing)),
            "target_caption": _sentence_start(fill(event.after)),
            "keywords": list(event.keywords)}
