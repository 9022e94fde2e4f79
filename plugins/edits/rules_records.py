"""Rule-derived edits over earlier ``remove`` and ``replace`` records.

``movement``, ``resize``, ``visual_reference``, ``visual_material_transfer``,
``material_change`` and the visual conditions (``visual_sketch``,
``visual_scribble``, ``visual_segment``, ``visual_depth``, ``visual_bbox``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from instructgen.plugins.anyedit.sink import slug

from .checks import object_phrase
from .rule_helpers import article, derived, from_record
from .vocab import MATERIALS, TRANSFER_MATERIALS

if TYPE_CHECKING:
    from .rules import RuleContext

CONDITIONS = {"visual_sketch": "sketch", "visual_scribble": "scribble",
              "visual_segment": "segmentation mask", "visual_depth": "depth map",
              "visual_bbox": "bounding box"}


_POSITIONS = ("to the left side of the image", "to the right side of the image",
              "to the top of the image", "to the bottom of the image",
              "to the center of the image", "closer to the camera",
              "further into the background")


def movement(rc: RuleContext) -> dict[str, Any] | None:
    data = from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    position = rc.rng.choice(_POSITIONS)
    verb = rc.rng.choice(("Move", "Shift", "Reposition"))
    # Only the object's place changes, which captions rarely say: the caption stays.
    return {"edit": f"{verb} the {obj} {position}.", "input": data["input"],
            "output": data["input"], "edited_object": obj, "position": position,
            "derived_from": derived(rc.item)}


_SIZES = (("larger", "Make the {obj} larger."), ("larger", "Make the {obj} twice as big."),
          ("smaller", "Make the {obj} smaller."), ("smaller", "Shrink the {obj} to half its size."),
          ("larger", "Enlarge the {obj}."))


def resize(rc: RuleContext) -> dict[str, Any] | None:
    data = from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    scale, template = rc.rng.choice(_SIZES)
    return {"edit": template.format(obj=obj), "input": data["input"], "output": data["input"],
            "edited_object": obj, "scale": scale, "derived_from": derived(rc.item)}


def visual_reference(rc: RuleContext) -> dict[str, Any] | None:
    """Replace an object with the one shown in a reference image, named ``[V*]``."""
    data = from_record(rc.item, ("replace",))
    if data is None:
        return None
    obj, new = object_phrase(data["edited_object"]), object_phrase(data["new_object"])
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Replace the {obj} with {ref}.",
                          f"Swap the {obj} for the {new} shown in {ref}."))
    return {"edit": edit, "input": data["input"], "output": data["output"],
            "edited_object": obj, "new_object": new, "ref_object": new,
            "visual_input": f"{slug(new)}/{slug(rc.item.id)}.jpg", "reference": ref,
            "derived_from": derived(rc.item)}


def _new_material(rc: RuleContext, from_types: tuple[str, ...],
                  ) -> tuple[dict[str, Any], str, str, str] | None:
    """(record data, object, material, output caption) for the two material rules."""
    data = from_record(rc.item, from_types)
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    material = rc.rng.choice(rc.options.materials or TRANSFER_MATERIALS)
    output = with_material(data["input"], obj, material)
    return None if output is None else (data, obj, material, output)


def material_transfer(rc: RuleContext) -> dict[str, Any] | None:
    """Give an object the material shown in an exemplar image (``visual_material_transfer``)."""
    found = _new_material(rc, ("replace",))
    if found is None:
        return None
    data, obj, material, output = found
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Make the {obj} out of the material shown in {ref}.",
                          f"Apply the material in {ref} to the {obj}."))
    return {"edit": edit, "input": data["input"], "output": output, "edited_object": obj,
            "material": material, "visual_input": f"{slug(material)}/{slug(rc.item.id)}.jpg",
            "reference": ref, "derived_from": derived(rc.item)}


def material_change(rc: RuleContext) -> dict[str, Any] | None:
    """Change an object's material by name, from a category list (no reference image)."""
    found = _new_material(rc, ("remove",))
    if found is None:
        return None
    data, obj, material, output = found
    edit = rc.rng.choice((f"Change the material of the {obj} to {material}.",
                          f"Make the {obj} {material}."))
    return {"edit": edit, "input": data["input"], "output": output, "edited_object": obj,
            "material": material, "derived_from": derived(rc.item, rule="material_list")}


def with_material(caption: str, obj: str, material: str) -> str | None:
    """``caption`` with ``material`` before ``obj`` (replacing a material word already there)."""
    words_ = obj.split()
    for phrase in dict.fromkeys((obj, words_[-1] if words_ else "")):
        if not phrase:
            continue
        m = re.search(rf"\b{re.escape(phrase)}(?:s|es)?\b", caption, re.IGNORECASE)
        if m is None:
            continue
        before = caption[:m.start()]
        old = re.search(rf"\b(?:{'|'.join(MATERIALS)})\s+$", before, re.IGNORECASE)
        if old is not None:
            before = before[:old.start()]
        return f"{before}{material} {caption[m.start():]}"
    return None


def condition_rule(name: str) -> Callable[[RuleContext], dict[str, Any] | None]:
    """The rule of one visual condition: the edit names the sketch, mask, map or box."""
    cond = CONDITIONS[name]

    def rule(rc: RuleContext) -> dict[str, Any] | None:
        data = from_record(rc.item, ("replace", "remove"))
        if data is None:
            return None
        obj = object_phrase(data["edited_object"])
        if data["edit_type"] == "replace":
            new = object_phrase(data["new_object"])
            edit = rc.rng.choice((f"Following the {cond}, replace the {obj} with {article(new)}.",
                                  f"Replace the {obj} with {article(new)} using the {cond}."))
            extra = {"new_object": new}
        else:
            edit = rc.rng.choice((f"Remove the {obj} marked by the {cond}.",
                                  f"Using the {cond}, remove the {obj}."))
            extra = {}
        return {"edit": edit, "input": data["input"], "output": data["output"],
                "edited_object": obj, **extra, "condition": cond,
                "derived_from": derived(rc.item)}

    return rule
