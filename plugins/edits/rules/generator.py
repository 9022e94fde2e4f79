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

Each type is a :class:`~.context.RuleType` registered through ``instructgen_rule_types``
(the builtins in :mod:`.builtin`); its rule is in :mod:`.from_records` (over earlier
records) or :mod:`.from_scenes` (over a caption and COCO instances) and returns the
type's payload class (:mod:`.payloads`). This module holds the generator.

Read earlier edit records with the ``records`` source. Every record says in
``derived_from`` what it came from. Caption-based rules read the item's
``caption_field``, or the record's ``input`` when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from instructgen.context import ItemContext
from instructgen.errors import PluginError, RecipeError, did_you_mean
from instructgen.plugin import Generator, PayloadKeys
from instructgen.plugins.anyedit.contract import canonical_type
from instructgen.plugins.anyedit.stage_rules import anyedit_view, first_failure, rules_for
from instructgen.records import SourceItem
from instructgen.text import normalize

from ..generator import image_of
from .context import RULE_TYPES, RuleContext, RulesOptions, RuleType
from .from_records import AFTER_IMAGE_STAGE
from .references import ReferencePool

if TYPE_CHECKING:
    from instructgen.plugin import BuildContext


@attrs.frozen
class PreparedRules:
    """What the generator is built from: the options, the types they name, resolved at
    plan time, and the reference pool the options name (read then, so a bad path fails
    ``validate``)."""

    options: RulesOptions
    types: tuple[RuleType, ...]
    references: ReferencePool | None = None


def prepare_rules(options: RulesOptions, ctx: BuildContext) -> PreparedRules:
    """Plan time: resolve ``generator.types`` (empty: every registered rule type) against
    the ``instructgen_rule_types`` catalog; old names resolve with a notice, unknown ones
    are one error naming each key."""
    known = ctx.catalog(RULE_TYPES)
    if not options.types:
        types = tuple(known.values())
    else:
        where = ctx.key("types")
        names = [n if n in known else canonical_type(n, f"{where}[{i}]")
                 for i, n in enumerate(options.types)]
        problems = [f"{where}[{i}]: unknown rule-derived type {name!r}"
                    f"{did_you_mean(name, known)} (valid: {', '.join(known)})"
                    for i, name in enumerate(names) if name not in known]
        if problems:
            raise RecipeError("; ".join(problems))
        types = tuple(known[n] for n in names)
    references = (ReferencePool.load(options.reference_images, options.reference_mapping)
                  if options.reference_images or options.reference_mapping else None)
    return PreparedRules(options, types, references)


def rule_keys(prepared: PreparedRules, _ctx: BuildContext) -> PayloadKeys:
    """The ``edit_rules`` generator's keys: its types' payload classes', with the type
    name and the item's image reference."""
    return PayloadKeys.one_of(t.payload.keys() for t in prepared.types).plus(
        always=("edit_type",), may=("image_file", "url"))


class RulesGenerator(Generator):
    """Applies each chosen rule to each item; no model calls."""

    def __init__(self, prepared: PreparedRules) -> None:
        self.options = prepared.options
        self.types = prepared.types
        self.references = prepared.references
        self._contracts = {t.name: t.contract() for t in self.types}

    async def generate(self, item: SourceItem, ctx: ItemContext) -> Sequence[Mapping[str, Any]]:
        data = item.data
        caption = data.get(self.options.caption_field, data.get("input"))
        caption = normalize(caption) if isinstance(caption, str) and caption.strip() else None
        rc = RuleContext(item, caption, ctx.rng, self.options, self.references)
        out = []
        for rtype in self.types:
            made = rtype.rule(rc)
            if made is None:
                if rtype.after_image_stage and data.get("edit_type") in ("remove", "replace") \
                        and not data.get("edited_file"):
                    ctx.reject("visual_after_image_stage", AFTER_IMAGE_STAGE, stage="rules")
                continue
            if not isinstance(made, rtype.payload):
                raise PluginError(f"rule-derived type {rtype.name!r} ({rtype.dist or 'unknown'}):"
                                  f" its rule returned {type(made).__name__}, not "
                                  f"{rtype.payload.__name__}")
            record = made.payload()
            failed = first_failure(anyedit_view(self._contracts[rtype.name], made.input, record),
                                   rules_for(rtype.name, "answer"))
            if failed is not None:  # AnyEdit's stages would skip it, or rewrite it wrongly
                ctx.reject(failed[0].name, failed[1], stage="stage_rules",
                           data={"edit_type": rtype.name, **record})
                continue
            out.append({"edit_type": rtype.name, **record, **image_of(item)})
        if not out:
            names = ", ".join(t.name for t in self.types)
            ctx.reject("no_rule_applies", f"none of {names} applies "
                       f"(edit_type={data.get('edit_type')!r}, caption={caption!r})",
                       stage="rules")
        return out
