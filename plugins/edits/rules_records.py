"""Rule-derived edits over earlier ``remove`` and ``replace`` records.

``movement``, ``resize``, ``visual_reference``, ``visual_material_transfer``,
``material_change`` and the visual conditions (``visual_sketch``,
``visual_scribble``, ``visual_segment``, ``visual_depth``, ``visual_bbox``).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from instructgen.errors import RecipeError
from instructgen.plugins.anyedit.sink import slug
from instructgen.text import plural_forms

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
    return {"edit": f"{verb} the {obj} {position}", "input": data["input"],
            "output": data["input"], "edited_object": obj, "position": position,
            "derived_from": derived(rc.item)}


_SIZES = (("larger", "Make the {obj} larger"), ("larger", "Make the {obj} twice as big"),
          ("smaller", "Make the {obj} smaller"), ("smaller", "Shrink the {obj} to half its size"),
          ("larger", "Enlarge the {obj}"))


def resize(rc: RuleContext) -> dict[str, Any] | None:
    data = from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    scale, template = rc.rng.choice(_SIZES)
    return {"edit": template.format(obj=obj), "input": data["input"], "output": data["input"],
            "edited_object": obj, "scale": scale, "derived_from": derived(rc.item)}


def visual_reference(rc: RuleContext) -> dict[str, Any] | None:
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
    return {"edit": edit, "input": data["input"], "output": output,
            "edited_object": obj, "new_object": new, "ref_object": ref_object,
            "visual_input": visual_input, "reference": ref, "derived_from": derived(rc.item)}


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


def material_transfer(rc: RuleContext) -> dict[str, Any] | None:
    """Give an object the material shown in an exemplar image (``visual_material_transfer``)."""
    found = _new_material(rc, ("replace",))
    if found is None:
        return None
    data, obj, material, output = found
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Make the {obj} out of the material shown in {ref}",
                          f"Apply the material in {ref} to the {obj}"))
    return {"edit": edit, "input": data["input"], "output": output, "edited_object": obj,
            "material": material, "visual_input": f"{slug(material)}/{slug(rc.item.id)}.jpg",
            "reference": ref, "derived_from": derived(rc.item)}


def material_change(rc: RuleContext) -> dict[str, Any] | None:
    """Change an object's material by name, from a category list (no reference image)."""
    found = _new_material(rc, ("remove",))
    if found is None:
        return None
    data, obj, material, output = found
    edit = rc.rng.choice((f"Change the material of the {obj} to {material}",
                          f"Make the {obj} {material}"))
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


#: Why a visual condition is declined for a record the image stage has not drawn.
AFTER_IMAGE_STAGE = ("visual_* records come after AnyEdit's remove/replace image stage: read "
                     "that stage's output JSON (final_edit_results_*.json, with edited_file) "
                     "with the anyedit_records source")


def condition_rule(name: str) -> Callable[[RuleContext], dict[str, Any] | None]:
    """The rule of one visual condition: the edit names the sketch, mask, map or box.

    AnyEdit makes these from the remove/replace image stage's output: the condition is
    drawn from that stage's edited image (``edited_file``), so a record without one
    is declined (:data:`AFTER_IMAGE_STAGE`, the item's rejection says so).
    """
    cond = CONDITIONS[name]

    def rule(rc: RuleContext) -> dict[str, Any] | None:
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
            extra = {"new_object": new}
        else:
            edit = rc.rng.choice((f"Remove the {obj} marked by the {cond}",
                                  f"Using the {cond}, remove the {obj}"))
            extra = {}
        return {"edit": edit, "input": data["input"], "output": data["output"],
                "edited_object": obj, **extra, "condition": cond, "edited_file": edited_file,
                "derived_from": derived(rc.item)}

    return rule


_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


@attrs.frozen
class ReferencePool:
    """visual_reference's reference images: file names in a folder, each with a category.

    The reference crawled a pool of object photos and kept a mapping from each file
    name to its category (``{"bear_01.jpg": {"animals": ["bear"]}}``, one a line).
    A record takes an image whose category fits its new object, and that category
    becomes ``ref_object``.
    """

    images: tuple[tuple[str, str], ...]

    @classmethod
    def load(cls, folder: str, mapping: str) -> ReferencePool:
        """Read the folder and the mapping; a bad path or an empty pool is a recipe error."""
        if not folder or not mapping:
            raise RecipeError("generator.reference_images and generator.reference_mapping "
                              "go together: a folder of reference images and the file "
                              "mapping each image to its category")
        root, table = Path(folder), Path(mapping)
        if not root.is_dir():
            raise RecipeError(f"generator.reference_images: {folder!r} is not a folder")
        if not table.is_file():
            raise RecipeError(f"generator.reference_mapping: {mapping!r} does not exist")
        categories = _read_mapping(table)
        files = sorted(p.name for p in root.iterdir() if p.suffix.lower() in _IMAGE_EXTS)
        images = tuple((name, categories[name]) for name in files if name in categories)
        if not images:
            raise RecipeError(f"generator.reference_mapping: none of the {len(files)} images "
                              f"in {folder!r} has a category in {mapping!r}")
        return cls(images)

    def pick(self, new_object: str, rng: random.Random, *, any_image: bool = False,
             ) -> tuple[str, str] | None:
        """(file name, category) for a record whose new object is ``new_object``."""
        head = new_object.split()[-1].lower() if new_object.split() else ""
        fits = [(f, c) for f, c in self.images
                if any_image or (c.split() and plural_forms(c.split()[-1]) & {head})]
        return rng.choice(fits) if fits else None


def _read_mapping(path: Path) -> dict[str, str]:
    """File name -> category, from a JSON object or JSON lines of objects."""
    text = path.read_text(encoding="utf-8")
    try:
        blocks = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            blocks = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise RecipeError(f"generator.reference_mapping: {path} is neither JSON nor JSON "
                              f"lines ({exc})") from None
    out: dict[str, str] = {}
    for block in blocks:
        if not isinstance(block, dict):
            raise RecipeError(f"generator.reference_mapping: {path} holds a "
                              f"{type(block).__name__}, not an object of file name -> category")
        for name, value in block.items():
            category = _category(value)
            if category:
                out[str(name)] = category
    return out


def _category(value: Any) -> str | None:
    """The category of one mapping entry: a string, a list's first, or a dict's first list."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        return _category(value[0]) if value else None
    if isinstance(value, dict):
        for inner in value.values():
            found = _category(inner)
            if found:
                return found
    return None
