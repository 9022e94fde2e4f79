"""What the rule-derived edit types share: reading the source record and its instances.

``from_record`` picks out an earlier ``remove``/``replace`` record, ``derived``
builds the ``derived_from`` provenance every rule record carries, and ``instances``
reads the item's COCO instances. The noun wording is in :mod:`..nouns`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from instructgen.records import SourceItem


def from_record(item: SourceItem, kinds: tuple[str, ...]) -> Mapping[str, Any] | None:
    """The item's data if it is an earlier edit record of ``kinds`` with the keys rules read."""
    data = item.data
    if data.get("edit_type") not in kinds:
        return None
    needed = ("input", "output", "edited_object") + (
        ("new_object",) if data["edit_type"] == "replace" else ())
    if not all(isinstance(data.get(k), str) and data[k].strip() for k in needed):
        return None
    return data


def derived(item: SourceItem, **more: Any) -> dict[str, Any]:
    """The ``derived_from`` of a rule record: the item, the source record, and ``more``."""
    data = item.data
    out = {"item_id": item.id}
    for key in ("record_id", "record_generator", "edit_type"):
        if key in data:
            out[key.replace("record_generator", "generator")] = data[key]
    return {**out, **more}


def instances(item: SourceItem) -> list[tuple[str, list[float]]]:
    """The item's object instances ``(category, [x, y, w, h])``, crowd regions left out."""
    out = []
    for obj in item.data.get("objects") or ():
        if not isinstance(obj, Mapping) or obj.get("iscrowd"):
            continue
        name, box = obj.get("name"), obj.get("bbox")
        if isinstance(name, str) and isinstance(box, list) and len(box) == 4:
            out.append((name, [float(v) for v in box]))
    return out
