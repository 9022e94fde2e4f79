"""What the model chooses under ``compose = "template"``: a few fields from closed lists.

One request per caption asks for a small JSON object whose every property is
an ``enum``, so a constrained decoder can only pick, never write. What the
lists hold depends on the concept's kind (:func:`~.lexicon.kind_of`), and
every option fits any concept of that kind: a made thing gets a colour and a
size (a thing whose colour everyone knows, a size only), a creature a pose
that fits its kind (:func:`~.lexicon.poses_for`), a food a state, a plant a
size. ``cc2cap`` asks for a colour per made thing and how the two concepts
are placed (:data:`~.lexicon.RELATIONS`).
The answer becomes :class:`~.templates.Look` records that
:mod:`.templates` turns into a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from instructgen.errors import InvalidOutput

from .lexicon import (
    COLOURS,
    FOOD_STATES,
    PLANT_SIZES,
    RELATIONS,
    SIZES,
    kind_of,
    poses_for,
)
from .templates import Look


def _enum(values: Sequence[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _object(props: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "required": list(props),
            "additionalProperties": False}


def look_properties(concept: str, prefix: str = "") -> dict[str, dict[str, Any]]:
    """The fields one concept gets, each an enum (``prefix`` names them in a pair)."""
    kind = kind_of(concept)
    if kind == "thing":
        return {f"{prefix}colour": _enum(COLOURS), f"{prefix}size": _enum(SIZES)}
    if kind == "fixed_colour":
        return {f"{prefix}size": _enum(SIZES)}
    if kind == "food":
        return {f"{prefix}size": _enum(FOOD_STATES)}
    if kind == "plant":
        return {f"{prefix}size": _enum(PLANT_SIZES)}
    return {f"{prefix}pose": _enum(poses_for(concept))}


def look_schema(concept: str) -> dict[str, Any]:
    """The answer schema of ``c2cap`` and ``cb2cap`` under the template path."""
    return _object(look_properties(concept))


def pair_schema(first: str, second: str) -> dict[str, Any]:
    """The answer schema of ``cc2cap``: a colour per concept and a relation."""
    first_colour = look_properties(first, "first_").get("first_colour")
    second_colour = look_properties(second, "second_").get("second_colour")
    props: dict[str, dict[str, Any]] = {}
    if first_colour:
        props["first_colour"] = first_colour
    if second_colour:
        props["second_colour"] = second_colour
    props["relation"] = _enum(RELATIONS)
    return _object(props)


def _chosen(parsed: Mapping[str, Any], key: str) -> str | None:
    value = parsed.get(key)
    return value if isinstance(value, str) and value and value != "none" else None


def read_look(parsed: Any, prefix: str = "") -> Look:
    """The :class:`Look` in an answer; ``"none"`` leaves a field out."""
    if not isinstance(parsed, Mapping):
        raise InvalidOutput("answer is not a JSON object")
    return Look(colour=_chosen(parsed, f"{prefix}colour"), size=_chosen(parsed, f"{prefix}size"),
                pose=_chosen(parsed, f"{prefix}pose"))


def read_relation(parsed: Any) -> str:
    """The relation of a ``cc2cap`` answer; one of :data:`~.lexicon.RELATIONS`."""
    relation = parsed.get("relation") if isinstance(parsed, Mapping) else None
    if relation not in RELATIONS:
        raise InvalidOutput(f"relation {relation!r} is not one of {', '.join(RELATIONS)}")
    return str(relation)
