"""What each rule-derived edit type writes, as one attrs class per type.

A rule returns an instance of its type's class, the ``edit_rules`` generator writes
:meth:`RuleEdit.payload`, and the plan reads the same class for the keys the records
carry (:meth:`instructgen.plugin.PayloadKeys.of`). The shape of a record is said once,
where it is built, so the plan's promise and the records cannot drift apart.

Fields whose default is ``None`` are written only when set (a plain relation move has
no ``target_object``); every other field is written every time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import frozen

from instructgen.plugin import Payload, payload_of


@frozen(kw_only=True)
class RuleEdit(Payload):
    """What every rule-derived record says: the edit, the caption before and after, and
    where it came from (``derived_from``: the item, the record it was read from, the rule)."""

    edit: str
    input: str
    output: str
    derived_from: Mapping[str, Any]

    def payload(self) -> dict[str, Any]:
        """The record's fields in declared order, unset optional ones left out and the
        provenance last (it is the longest and the least read)."""
        out = payload_of(self)
        out["derived_from"] = dict(out.pop("derived_from"))
        return out


@frozen(kw_only=True)
class Counting(RuleEdit):
    edited_object: str
    #: How many of the instances the edit removes (AnyEdit's ``remove_number``).
    remove_number: int
    count_before: int
    count_after: int


@frozen(kw_only=True)
class Movement(RuleEdit):
    edited_object: str
    position: str


@frozen(kw_only=True)
class Resize(RuleEdit):
    edited_object: str
    #: ``larger`` or ``smaller``.
    scale: str


@frozen(kw_only=True)
class VisualReference(RuleEdit):
    edited_object: str
    new_object: str
    #: The reference image's category.
    ref_object: str
    #: The reference image's path.
    visual_input: str
    #: The token the edit names the image by (``[V*]``).
    reference: str


@frozen(kw_only=True)
class MaterialTransfer(RuleEdit):
    edited_object: str
    material: str
    #: The material exemplar image's path.
    visual_input: str
    reference: str


@frozen(kw_only=True)
class MaterialChange(RuleEdit):
    edited_object: str
    material: str


@frozen(kw_only=True)
class VisualCondition(RuleEdit):
    edited_object: str
    #: Set when the condition is drawn over a ``replace`` record.
    new_object: str | None = None
    #: What is drawn: a sketch, a scribble, a segmentation mask, a depth map, a box.
    condition: str
    #: The image AnyEdit's remove/replace stage drew, the condition's source.
    edited_file: str


@frozen(kw_only=True)
class StyleChange(RuleEdit):
    style: str


@frozen(kw_only=True)
class Relation(RuleEdit):
    edited_object: str
    #: The object the move is relative to; unset for a move to one side of the image.
    target_object: str | None = None
    direction: str
    #: How the two objects stood before, from their boxes.
    relation_before: str


@frozen(kw_only=True)
class RotationChange(RuleEdit):
    edited_object: str
    #: ``clockwise`` or ``counterclockwise``.
    direction: str


@frozen(kw_only=True)
class Outpainting(RuleEdit):
    #: Where the canvas grows.
    direction: str
