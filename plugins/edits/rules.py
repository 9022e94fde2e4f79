"""The ``edit_rules`` generator: edit types derived by rules, with no LLM call.

* ``counting``: remove k of the N instances of an object. N is the true count
  from COCO instance annotations when the item carries them (``objects``),
  else a number word or digit (2-10) before a plural noun in the caption.
  ``remove_number`` is k.
* ``movement``, ``resize``: from ``remove`` records (their object is in the image).
* ``visual_reference``: from ``replace`` records; the edit names the reference
  image ``[V*]``, the record carries ``ref_object`` and ``visual_input``.
* ``visual_material_transfer``: from ``replace`` records and a material list.
* ``material_change``: from ``remove`` records and a material list (by name).
* ``visual_sketch``, ``visual_scribble``, ``visual_segment``,
  ``visual_depth``, ``visual_bbox``: over ``replace`` and ``remove`` records that
  AnyEdit's remove/replace image stage has drawn (they carry its ``edited_file``);
  these come after that stage, so a record without it is declined with that reason.
* ``style_change``: from a style list (:data:`~.vocab.STYLES`).
* ``relation``: from COCO instance boxes (``objects``): swap two objects, or
  move one to the left/right of, above or below another, or to one side.
* ``rotation_change``: templates over an object of a ``remove`` record or of
  the item's ``objects``.
* ``outpainting``: templates over the whole scene of a caption.

Old names (``visual_segmentation``, ``material_transfer``, ``outpaint``) still work,
with a notice.

Every record is checked against AnyEdit's downstream rules for its type
(:mod:`instructgen.plugins.anyedit.stage_rules`) before it is kept; one that a
stage would skip is rejected under the rule's name.

The record-based rules are in :mod:`.rules_records`, the caption- and
instance-based ones in :mod:`.rules_scenes`, their shared helpers in
:mod:`.rule_helpers`; this module holds the generator and the :data:`RULES` table.

Read earlier edit records with the ``records`` source. Every record says in
``derived_from`` what it came from. Caption-based rules read the item's
``caption_field``, or the record's ``input`` when there is none.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs

from instructgen.context import ItemContext
from instructgen.errors import RecipeError, did_you_mean
from instructgen.plugin import Generator
from instructgen.plugins.anyedit.contract import canonical_type
from instructgen.plugins.anyedit.stage_rules import anyedit_view, first_failure, rules_for
from instructgen.records import SourceItem
from instructgen.text import normalize

from .generator import image_of
from .rules_records import (
    AFTER_IMAGE_STAGE,
    CONDITIONS,
    ReferencePool,
    condition_rule,
    material_change,
    material_transfer,
    movement,
    resize,
    visual_reference,
)
from .rules_scenes import counting, outpainting, relation, rotation_change, style_change


@attrs.frozen
class RuleContext:
    """What a rule sees: the item's data, its caption, the item rng and the options."""

    item: SourceItem
    caption: str | None
    rng: random.Random
    options: RulesOptions
    #: visual_reference's pool of reference images, when the options name one.
    references: ReferencePool | None = None


Rule = Callable[[RuleContext], "dict[str, Any] | None"]


@attrs.frozen
class RulesOptions:
    """Options of the ``edit_rules`` generator."""

    #: Rule-derived types to produce; each item gets one record per type that applies to it.
    types: list[str] = attrs.field(factory=lambda: list(RULES))
    #: The item field holding the caption for counting and style_change (else ``input``).
    caption_field: str = "caption"
    #: Styles for style_change; empty: the builtin list.
    styles: list[str] = attrs.field(factory=list)
    #: Materials for visual_material_transfer and material_change; empty: the builtin list.
    materials: list[str] = attrs.field(factory=list)
    #: Stands for the reference image in visual_reference and visual_material_transfer
    #: edits; AnyEdit's visual stages look for ``[V*]``.
    reference_token: str = "[V*]"
    #: visual_reference: a folder of reference images (the reference's crawled pool);
    #: empty: a placeholder path per record. Needs ``reference_mapping``.
    reference_images: str = ""
    #: visual_reference: JSON or JSONL mapping each image's file name to its category,
    #: as a string or the reference's ``{"animals": [category, ...]}`` form.
    reference_mapping: str = ""
    #: ``category``: an image whose category fits the new object (else no record);
    #: ``any``: any image of the pool, the reference's random draw.
    reference_match: Literal["category", "any"] = "category"


class RulesGenerator(Generator):
    """Applies each chosen rule to each item; no model calls."""

    def __init__(self, options: RulesOptions) -> None:
        names = [n if n in RULES else canonical_type(n, f"generator.types[{i}]")
                 for i, n in enumerate(options.types)]
        problems = [f"generator.types[{i}]: unknown rule-derived type {name!r}"
                    f"{did_you_mean(name, RULES)} (valid: {', '.join(RULES)})"
                    for i, name in enumerate(names) if name not in RULES]
        if problems:
            raise RecipeError("; ".join(problems))
        self.options = attrs.evolve(options, types=names)
        self.references = (ReferencePool.load(options.reference_images, options.reference_mapping)
                           if options.reference_images or options.reference_mapping else None)

    async def generate(self, item: SourceItem, ctx: ItemContext) -> Sequence[Mapping[str, Any]]:
        data = item.data
        caption = data.get(self.options.caption_field, data.get("input"))
        caption = normalize(caption) if isinstance(caption, str) and caption.strip() else None
        rc = RuleContext(item, caption, ctx.rng, self.options, self.references)
        out = []
        for name in self.options.types:
            made = RULES[name](rc)
            if made is None:
                if name in CONDITIONS and data.get("edit_type") in ("remove", "replace") \
                        and not data.get("edited_file"):
                    ctx.reject("visual_after_image_stage", AFTER_IMAGE_STAGE, stage="rules")
                continue
            failed = first_failure(anyedit_view(name, made["input"], made),
                                   rules_for(name, "answer"))
            if failed is not None:  # AnyEdit's stages would skip it, or rewrite it wrongly
                ctx.reject(failed[0].name, failed[1], stage="stage_rules",
                           data={"edit_type": name, **made})
                continue
            out.append({"edit_type": name, **made, **image_of(item)})
        if not out:
            ctx.reject("no_rule_applies", f"none of {', '.join(self.options.types)} applies "
                       f"(edit_type={data.get('edit_type')!r}, caption={caption!r})",
                       stage="rules")
        return out


#: Every rule-derived type and its rule, in the order records of one item are made.
RULES: dict[str, Rule] = {
    "counting": counting,
    "movement": movement,
    "resize": resize,
    "visual_reference": visual_reference,
    "visual_material_transfer": material_transfer,
    "material_change": material_change,
    **{name: condition_rule(name) for name in CONDITIONS},
    "style_change": style_change,
    "relation": relation,
    "rotation_change": rotation_change,
    "outpainting": outpainting,
}
