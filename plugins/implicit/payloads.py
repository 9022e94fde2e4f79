"""What the ``implicit`` generator writes: one checked quadruple per record, as an attrs class.

The generator builds every record, on the model path and the template path alike, as
a :class:`Quadruple` and writes :meth:`Quadruple.payload`; the plan reads the keys the
records carry off the same class (:meth:`instructgen.plugin.PayloadKeys.of`), so the
plan's promise and the records cannot drift apart.

Fields are written in declared order (JSON lines are compared byte for byte, so the
order is part of the output); ``theme``, whose default is ``None``, only when set.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from instructgen.plugin import PayloadKeys, payload_of


@frozen(kw_only=True)
class Quadruple:
    """One accepted quadruple: the four texts ``checks.check_quadruple`` cleaned, and
    where in which conversation it was written."""

    #: AnyEdit's name for this type, so its pipelines route the record.
    edit_type: str = "implicit_change"
    original_caption: str
    instruction: str
    target_caption: str
    keywords: list[str]
    #: The seed example's item id.
    seed_example: str
    #: The conversation turn (0: the first, which shows the seed).
    turn: int
    #: The theme a continue turn was steered towards; unset on turn 0 and with themes off.
    theme: str | None = None

    def payload(self) -> dict[str, Any]:
        """The record's fields in declared order, ``theme`` left out when unset."""
        return payload_of(self)

    @classmethod
    def keys(cls, *, themed: bool) -> PayloadKeys:
        """The keys of the records; ``theme`` only where some turn can be ``themed``."""
        own = PayloadKeys.of(cls)
        return own if themed else PayloadKeys(own.always, own.may - {"theme"})
