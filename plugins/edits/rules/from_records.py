"""Rule-derived edits over earlier ``remove`` and ``replace`` records.

``movement``, ``resize``, ``visual_reference``, ``visual_material_transfer``,
``material_change`` and the visual conditions (``visual_sketch``,
``visual_scribble``, ``visual_segment``, ``visual_depth``, ``visual_bbox``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from instructgen.plugins.anyedit.sink import slug

from ..checks import object_phrase
from ..nouns import article
from ..vocab import MATERIALS, TRANSFER_MATERIALS
from .context import RuleContext
from .helpers import derived, from_record
from .payloads import (
    MaterialChange,
    MaterialTransfer,
    Movement,
    Resize,
    RuleEdit,
    VisualCondition,
    VisualReference,
)

CONDITIONS = {"visual_sketch": "sketch", "visual_scribble": "scribble",
              "visual_segment": "segmentation mask", "visual_depth": "depth map",
              "visual_bbox": "bounding box"}


_POSITIONS = ("to the left side of the image", "to the right side of the image",
              "to the top of the image", "to the bottom of the image",
              "to the center of the image", "closer to the camera",
              "further into the background")


def movement(rc: RuleContext) -> RuleEdit | None:
    data = from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    position = rc.rng.choice(_POSITIONS)
    verb = rc.rng.choice(("Move", "Shift", "Reposition"))
    # Only the object's place changes, which captions rarely say: the caption stays.
    return Movement(edit=f"{verb} the {obj} {position}", input=data["input"],
                    output=data["input"], edited_object=obj, position=position,
                    derived_from=derived(rc.item))


_SIZES = (("larger", "Make the {obj} larger"), ("larger", "Make the {obj} twice as big"),
          ("smaller", "Make the {obj} smaller"), ("smaller", "Shrink the {obj} to half its size"),
          ("larger", "Enlarge the {obj}"))


def resize(rc: RuleContext) -> RuleEdit | None:
    data = from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    scale, template = rc.rng.choice(_SIZES)
    return Resize(edit=template.format(obj=obj), input=data["input"], output=data["input"],
                  edited_object=obj, scale=scale, derived_from=derived(rc.item))


def visual_reference(rc: RuleContext) -> RuleEdit | None:
    """Replace an object with the one shown in a reference image, named ``[V*]``.

    As in the reference, the output is the input with the object replaced by ``[V*]``.
    With a reference pool (``reference_images`` and ``reference_mapping``) the image is
    one whose category fits the new object (any image under ``reference_match = "any"``,
    the reference's random draw) and ``ref_object`` is that category; without one, a
    placeholder path per record under the new object's name.
    """
    data = from_record(rc.item, ("replace",))
    if data is None:
        return None
    obj, new = object_phrase(data["edited_object"]), object_phrase(data["new_object"])
    ref = rc.options.reference_token
    found = re.search(rf"\b{re.escape(obj)}\b", data["input"], re.IGNORECASE)
    if found is None:
        return None
    output = data["input"][:found.start()] + ref + data["input"][found.end():]
    if rc.references is not None:
        picked = rc.references.pick(new, rc.rng, any_image=rc.options.reference_match == "any")
        if picked is None:
            return None
        visual_input, ref_object = picked
    else:
        visual_input, ref_object = f"{slug(new)}/{slug(rc.item.id)}.jpg", new
    edit = rc.rng.choice((f"Replace the {obj} with the {ref}",
                          f"Swap the {obj} for the {ref}"))
    return VisualReference(edit=edit, input=data["input"], output=output,
                           edited_object=obj, new_object=new, ref_object=ref_object,
                           visual_input=visual_input, reference=ref,
                           derived_from=derived(rc.item))


def _new_material(rc: RuleContext, from_types: tuple[str, ...],
                  ) -> tuple[Mapping[str, Any], str, str, str] | None:
    """(record data, object, material, output caption) for the two material rules."""
    data = from_record(rc.item, from_types)
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    material = rc.rng.choice(rc.options.materials or TRANSFER_MATERIALS)
    output = with_material(data["input"], obj, material)
    return None if output is None else (data, obj, material, output)


def material_transfer(rc: RuleContext) -> RuleEdit | None:
    """Give an object the material shown in an exemplar image (``visual_material_transfer``)."""
    found = _new_material(rc, ("replace",))
    if found is None:
        return None
    data, obj, material, output = found
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Make the {obj} out of the material shown in {ref}",
                          f"Apply the material in {ref} to the {obj}"))
    return MaterialTransfer(edit=edit, input=data["input"], output=output, edited_object=obj,
                            material=material,
                            visual_input=f"{slug(material)}/{slug(rc.item.id)}.jpg",
                            reference=ref, derived_from=derived(rc.item))


def material_change(rc: RuleContext) -> RuleEdit | None:
    """Change an object's material by name, from a category list (no reference image)."""
    found = _new_material(rc, ("remove",))
    if found is None:
        return None
    data, obj, material, output = found
    edit = rc.rng.choice((f"Change the material of the {obj} to {material}",
                          f"Make the {obj} {material}"))
    return MaterialChange(edit=edit, input=data["input"], output=output, edited_object=obj,
                          material=material, derived_from=derived(rc.item, rule="material_list"))


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


#: Why a visual condition is declined for a record the image stage has not drawn.
AFTER_IMAGE_STAGE = ("visual_* records come after AnyEdit's remove/replace image stage: read "
                     "that stage's output JSON (final_edit_results_*.json, with edited_file) "
                     "with the anyedit_records source")


def condition_rule(name: str) -> Callable[[RuleContext], RuleEdit | None]:
    """The rule of one visual condition: the edit names the sketch, mask, map or box.

    AnyEdit makes these from the remove/replace image stage's output: the condition is
    drawn from that stage's edited image (``edited_file``), so a record without one
    is declined (:data:`AFTER_IMAGE_STAGE`, the item's rejection says so).
    """
    cond = CONDITIONS[name]

    def rule(rc: RuleContext) -> RuleEdit | None:
        data = from_record(rc.item, ("replace", "remove"))
        if data is None:
            return None
        edited_file = data.get("edited_file")
        if not isinstance(edited_file, str) or not edited_file.strip():
            return None
        obj = object_phrase(data["edited_object"])
        if data["edit_type"] == "replace":
            new = object_phrase(data["new_object"])
            edit = rc.rng.choice((f"Following the {cond}, replace the {obj} with {article(new)}",
                                  f"Replace the {obj} with {article(new)} using the {cond}"))
        else:
            new = None
            edit = rc.rng.choice((f"Remove the {obj} marked by the {cond}",
                                  f"Using the {cond}, remove the {obj}"))
        return VisualCondition(edit=edit, input=data["input"], output=data["output"],
                               edited_object=obj, new_object=new, condition=cond,
                               edited_file=edited_file, derived_from=derived(rc.item))

    return rule
