"""What a rule sees (:class:`RuleContext`) and what a rule-derived edit type is
(:class:`RuleType`, registered through ``instructgen_rule_types``).

A rule-derived type is registered the same way as an LLM one (``instructgen_edit_types``),
so a plugin can add either::

    @hookimpl
    def instructgen_rule_types():
        yield RuleType(name="flip", description="mirror the whole picture",
                       rule=flip, payload=Flip, anyedit=(Key("direction", "direction"),))

Everything about the type is on the record: the rule, the class of what it writes (its
payload keys come from there), the keys AnyEdit reads and whether it needs AnyEdit's
image stage first. Nothing else in the package lists the types.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

import attrs
from attrs import field, frozen

from instructgen.catalog import Catalog, name_validator
from instructgen.plugins.anyedit.contract import Key, TypeContract
from instructgen.records import SourceItem, as_tuple

from .payloads import RuleEdit
from .references import ReferencePool


@attrs.frozen
class RulesOptions:
    """Options of the ``edit_rules`` generator."""

    #: Rule-derived types to produce (any registered through ``instructgen_rule_types``);
    #: empty: every registered one. Each item gets one record per type that applies to it.
    types: list[str] = attrs.field(factory=list)
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


@attrs.frozen
class RuleContext:
    """What a rule sees: the item's data, its caption, the item rng and the options."""

    item: SourceItem
    caption: str | None
    rng: random.Random
    options: RulesOptions
    #: visual_reference's pool of reference images, when the options name one.
    references: ReferencePool | None = None


#: A rule: the record it derives from the item, or ``None`` when it does not apply.
Rule = Callable[[RuleContext], "RuleEdit | None"]


def _payload_class(_inst: object, _attr: object, value: type) -> None:
    if not (isinstance(value, type) and issubclass(value, RuleEdit)):
        raise ValueError(f"payload must be a subclass of RuleEdit, got {value!r}")


@frozen(kw_only=True)
class RuleType:
    """One rule-derived edit type: its rule and everything the package must know of it."""

    name: str = field(validator=name_validator("rule-derived edit type"))
    #: One line: what the edit does and what it is derived from.
    description: str
    rule: Rule
    #: The class ``rule`` returns; the plan reads the records' keys from it.
    payload: type[RuleEdit] = field(validator=_payload_class)
    #: Keys AnyEdit's stages read for this type besides the common ones.
    anyedit: tuple[Key, ...] = field(default=(), converter=as_tuple)
    #: One line for the AnyEdit contract table (docs/anyedit.md).
    anyedit_note: str = ""
    #: Made from the output of AnyEdit's remove/replace image stage (its ``edited_file``);
    #: a ``remove``/``replace`` record without it is declined with that reason.
    after_image_stage: bool = False
    #: Filled in from the registering distribution.
    dist: str = ""

    def contract(self) -> TypeContract:
        """What AnyEdit reads of this type's records."""
        return TypeContract(name=self.name, keys=self.anyedit, made_by="edit_rules",
                            note=self.anyedit_note)


#: The rule-derived types every ``instructgen_rule_types`` implementation yields, in
#: registration order (the order one item's records are made in).
RULE_TYPES: Catalog[RuleType] = Catalog("rule-derived edit type", "instructgen_rule_types",
                                        RuleType, sort=False)
