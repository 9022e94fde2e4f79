"""What the ``edit`` generator writes, as attrs classes: one edit, a chain, and what
every record adds from its item.

The generator builds its records from these classes and the plan reads their keys off
the same classes (:meth:`instructgen.plugin.PayloadKeys.of`), with each edit type's own
answer fields (``EditType.fields``) spliced in after ``output``; nothing lists the keys
by hand beside them. A field whose default is ``None`` is written only when set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attrs import field, frozen

from instructgen.plugin import Payload, PayloadKeys, payload_of


@frozen(kw_only=True)
class EditTurn:
    """One edit: a single-edit record, or one turn of a chain. The edit type's own
    fields (``edited_object``, ``new_background``, ...) follow ``output``."""

    edit_type: str
    edit: str
    input: str
    output: str
    #: The type's answer fields, by name (written after ``output``, not as one key).
    fields: Mapping[str, str] = field(factory=dict)
    #: The judge's verdict; ``None`` when the judge is off.
    judge: str | None
    #: With ``judge_format = "score"``: P(yes) of the judge's first token.
    judge_p_yes: float | None = None
    #: The few-shot examples the request showed (``<type>-<index>``).
    few_shot: list[str]
    #: ``rules`` when the rules wrote the edit and the output.
    compose: str | None = None
    #: Which attempt was accepted (1 when the first one was).
    attempts: int

    def payload(self) -> dict[str, Any]:
        """The turn's fields in declared order, the type's own in place of ``fields``."""
        out: dict[str, Any] = {}
        for key, value in payload_of(self).items():
            out.update(value if key == "fields" else {key: value})
        return out

    @classmethod
    def keys(cls, type_fields: Iterable[str], *, scored: bool) -> PayloadKeys:
        """The keys of an edit of a type whose answer fields are ``type_fields``;
        ``judge_p_yes`` is in every record when the judge scores (``scored``), else in none."""
        own = PayloadKeys.of(cls)
        score = {"judge_p_yes"}
        return PayloadKeys(own.always - {"fields"} | (score if scored else set()),
                           own.may - score).plus(always=type_fields)


@frozen(kw_only=True)
class EditChain(Payload):
    """A chain of edits (``turns`` > 1): each turn an :class:`EditTurn` under ``turns``."""

    edit_type: str = "multi_turn"
    num_turns: int
    #: The caption the first turn edits.
    input: str
    #: The last turn's output.
    output: str
    turns: list[dict[str, Any]]
    #: ``false``: every turn edited the original caption (the reference's form).
    chain: bool


@frozen(kw_only=True)
class FromItem(Payload):
    """What every ``edit`` record adds from its item, after the edit or the chain."""

    image_file: str | None = None
    url: str | None = None
    #: How the caption was prefiltered (``spacy``, ``heuristic``, ``off``).
    prefilter: str
    #: When the item is an earlier run's record: its id and generator.
    derived_from: Mapping[str, Any] | None = None
