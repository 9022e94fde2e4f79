"""What each concept generator writes, as one attrs class per generator.

A generator builds its records as an instance of its class and writes
:meth:`~instructgen.plugin.Payload.payload`; the plan reads the keys the records carry
off the same class (:meth:`~instructgen.plugin.Payload.keys`). The shape of a record is
said once, where it is built, so the plan's promise and the records cannot drift
apart.

Fields are written in declared order (JSON lines are compared byte for byte, so the
order is part of the output). A field whose default is ``None`` is written only when
set; every other field is written every time, ``None`` included (``cc2cap``'s
``background`` is null, not missing, when no background was appended).
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from instructgen.plugin import Payload


@frozen(kw_only=True)
class ConceptBackgroundsPayload(Payload):
    """A ``c2b`` record: the backgrounds kept for one concept and how they were found."""

    concept: str
    #: The unique backgrounds kept, in the order they were found.
    backgrounds: list[str]
    #: How many were wanted (``target`` of the options).
    target: int
    #: Whether ``target`` was reached within ``max_attempts``.
    complete: bool
    #: Model answers read.
    attempts: int
    #: Answers that could not be read as a list of phrases.
    invalid_answers: int
    #: Phrases returned, dropped at each step (``DROP_REASONS``) and kept.
    counts: Mapping[str, int]
    #: The dropped phrases, by reason.
    dropped: Mapping[str, list[str]]
    #: Where the concept came from (the pool entry's sources).
    sources: list[str]


@frozen(kw_only=True)
class ConceptCaptionPayload(Payload):
    """A ``c2cap`` record: one caption of one concept."""

    concept: str
    caption: str
    sources: list[str]


@frozen(kw_only=True)
class BackgroundCaptionPayload(Payload):
    """A ``cb2cap`` record: a caption of one concept in one of its backgrounds."""

    concept: str
    background: str
    caption: str
    #: Whether the caption names the background (articles aside).
    mentions_background: bool
    #: Share of the background's content words the caption uses, rounded to 3 places.
    background_overlap: float
    sources: list[str]


@frozen(kw_only=True)
class PairCaptionPayload(Payload):
    """A ``cc2cap`` record: a caption combining two concepts, perhaps with a background."""

    #: The pair, in the item's order.
    concepts: list[str]
    #: Each concept's sources, by concept name (as the ``concept_pairs`` item has them).
    sources: Mapping[str, list[str]]
    #: The caption written, with the background appended when one was.
    caption: str
    #: The caption before any background was appended.
    base_caption: str
    #: The appended background; null (but present) when none was appended.
    background: str | None
    background_appended: bool
    #: Whether the caption already places the pair somewhere.
    has_scene: bool
