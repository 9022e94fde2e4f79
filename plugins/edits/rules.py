"""The ``edit_rules`` generator: edit types derived by rules, with no LLM call.

* ``counting``: a number word or digit (2-10) before a plural noun in a caption;
  remove k of the N.
* ``movement``, ``resize``: from ``remove`` records (their object is in the image).
* ``visual_reference``: from ``replace`` records, with a placeholder for the
  reference image.
* ``material_transfer``: from ``replace`` records and a material list.
* ``visual_sketch``, ``visual_scribble``, ``visual_segmentation``,
  ``visual_depth``, ``visual_bbox``: templates over ``replace`` and ``remove``
  records.
* ``style_change``: from a style list (:data:`~.vocab.STYLES`).

Read earlier edit records with the ``records`` source. Every record says in
``derived_from`` what it came from. Caption-based rules read the item's
``caption_field``, or the record's ``input`` when there is none.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from instructgen.context import ItemContext
from instructgen.errors import RecipeError, did_you_mean
from instructgen.plugin import Generator
from instructgen.records import SourceItem
from instructgen.text import normalize

from .checks import object_phrase
from .generator import image_of
from .prefilter import word_set
from .vocab import (
    IRREGULAR_PLURALS,
    MATERIALS,
    NUMBER_NAMES,
    NUMBER_WORDS,
    STYLES,
    TRANSFER_MATERIALS,
)

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_NOT_PLURAL = word_set("is was has its this his us bus gas plus less yes always across "
                       "perhaps grass glass dress class chess press boss moss cross")
CONDITIONS = {"visual_sketch": "sketch", "visual_scribble": "scribble",
              "visual_segmentation": "segmentation mask", "visual_depth": "depth map",
              "visual_bbox": "bounding box"}


@attrs.frozen
class RuleContext:
    """What a rule sees: the item's data, its caption, the item rng and the options."""

    item: SourceItem
    caption: str | None
    rng: random.Random
    options: RulesOptions


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
    #: Materials for material_transfer; empty: the builtin list.
    materials: list[str] = attrs.field(factory=list)
    #: Stands for the reference image in visual_reference and material_transfer edits.
    reference_token: str = "[reference image]"


class RulesGenerator(Generator):
    """Applies each chosen rule to each item; no model calls."""

    def __init__(self, options: RulesOptions) -> None:
        problems = [f"generator.types[{i}]: unknown rule-derived type {name!r}"
                    f"{did_you_mean(name, RULES)} (valid: {', '.join(RULES)})"
                    for i, name in enumerate(options.types) if name not in RULES]
        if problems:
            raise RecipeError("; ".join(problems))
        self.options = options

    async def generate(self, item: SourceItem, ctx: ItemContext) -> Sequence[Mapping[str, Any]]:
        data = item.data
        caption = data.get(self.options.caption_field, data.get("input"))
        caption = normalize(caption) if isinstance(caption, str) and caption.strip() else None
        rc = RuleContext(item, caption, ctx.rng, self.options)
        out = []
        for name in self.options.types:
            made = RULES[name](rc)
            if made is not None:
                out.append({"edit_type": name, **made, **image_of(item)})
        if not out:
            ctx.reject("no_rule_applies", f"none of {', '.join(self.options.types)} applies "
                       f"(edit_type={data.get('edit_type')!r}, caption={caption!r})",
                       stage="rules")
        return out


# -- helpers --------------------------------------------------------------------------------


def _from_record(item: SourceItem, kinds: tuple[str, ...]) -> Mapping[str, Any] | None:
    data = item.data
    if data.get("edit_type") not in kinds:
        return None
    needed = ("input", "output", "edited_object") + (
        ("new_object",) if data["edit_type"] == "replace" else ())
    if not all(isinstance(data.get(k), str) and data[k].strip() for k in needed):
        return None
    return data


def _derived(item: SourceItem, **more: Any) -> dict[str, Any]:
    data = item.data
    out = {"item_id": item.id}
    for key in ("record_id", "record_generator", "edit_type"):
        if key in data:
            out[key.replace("record_generator", "generator")] = data[key]
    return {**out, **more}


def article(phrase: str) -> str:
    """``a``/``an`` before a singular phrase; nothing before a plural-looking one."""
    last = phrase.split()[-1].lower() if phrase.split() else ""
    if last.endswith("s") and not last.endswith("ss"):
        return phrase
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def singular(noun: str) -> str:
    low = noun.lower()
    if low in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[low]
    if low.endswith("ies") and len(low) > 4:
        return noun[:-3] + "y"
    if low.endswith(("ches", "shes", "xes", "sses")):
        return noun[:-2]
    return noun[:-1] if low.endswith("s") else noun


def _is_plural(token: str) -> bool:
    low = token.lower()
    if low in IRREGULAR_PLURALS:
        return True
    return len(low) > 3 and low.endswith("s") and not low.endswith("ss") and low not in _NOT_PLURAL


def _number(token: str) -> int | None:
    low = token.lower()
    if low in NUMBER_WORDS:
        return NUMBER_WORDS[low]
    return int(low) if low.isdigit() and len(low) <= 2 else None


# -- the rules ------------------------------------------------------------------------------


def counting(rc: RuleContext) -> dict[str, Any] | None:
    """"Two dogs on a couch" → remove k of the N dogs → "one dog on a couch"."""
    if rc.caption is None:
        return None
    caption = rc.caption
    tokens = list(_TOKEN.finditer(caption))
    for i, tok in enumerate(tokens):
        n = _number(tok.group())
        if n is None or not 2 <= n <= 10:
            continue
        for j in range(i + 1, min(i + 4, len(tokens))):
            if _number(tokens[j].group()) is not None:
                break
            if not _is_plural(tokens[j].group()):
                continue
            noun = tokens[j].group()
            k = rc.rng.randint(1, n - 1)
            left = n - k
            digit = tok.group().isdigit()
            count_text = str(left) if digit else NUMBER_NAMES[left]
            if tok.group()[0].isupper():
                count_text = count_text.capitalize()
            middle = caption[tok.end():tokens[j].start()]
            new_noun = singular(noun) if left == 1 else noun
            output = (caption[:tok.start()] + count_text + middle + new_noun
                      + caption[tokens[j].end():])
            k_text = str(k) if digit else NUMBER_NAMES[k]
            one = singular(noun)
            edit = rc.rng.choice((
                f"Remove {k_text} of the {noun}.",
                f"Reduce the number of {noun} from {tok.group().lower()} to "
                f"{count_text.lower()}.",
                f"Take away {k_text} {one if k == 1 else noun} so that {count_text.lower()} "
                f"{'remains' if left == 1 else 'remain'}.",
            ))
            match = caption[tok.start():tokens[j].end()]
            return {"edit": edit, "input": caption, "output": output, "edited_object": one,
                    "count_before": n, "count_after": left,
                    "derived_from": _derived(rc.item, rule="number_before_noun", match=match)}
    return None


_POSITIONS = ("to the left side of the image", "to the right side of the image",
              "to the top of the image", "to the bottom of the image",
              "to the center of the image", "closer to the camera",
              "further into the background")


def movement(rc: RuleContext) -> dict[str, Any] | None:
    data = _from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    position = rc.rng.choice(_POSITIONS)
    verb = rc.rng.choice(("Move", "Shift", "Reposition"))
    # Only the object's place changes, which captions rarely say: the caption stays.
    return {"edit": f"{verb} the {obj} {position}.", "input": data["input"],
            "output": data["input"], "edited_object": obj, "position": position,
            "derived_from": _derived(rc.item)}


_SIZES = (("larger", "Make the {obj} larger."), ("larger", "Make the {obj} twice as big."),
          ("smaller", "Make the {obj} smaller."), ("smaller", "Shrink the {obj} to half its size."),
          ("larger", "Enlarge the {obj}."))


def resize(rc: RuleContext) -> dict[str, Any] | None:
    data = _from_record(rc.item, ("remove",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    scale, template = rc.rng.choice(_SIZES)
    return {"edit": template.format(obj=obj), "input": data["input"], "output": data["input"],
            "edited_object": obj, "scale": scale, "derived_from": _derived(rc.item)}


def visual_reference(rc: RuleContext) -> dict[str, Any] | None:
    data = _from_record(rc.item, ("replace",))
    if data is None:
        return None
    obj, new = object_phrase(data["edited_object"]), object_phrase(data["new_object"])
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Replace the {obj} with the object shown in {ref}.",
                          f"Swap the {obj} for the object in {ref}."))
    return {"edit": edit, "input": data["input"], "output": data["output"],
            "edited_object": obj, "new_object": new, "reference": ref,
            "derived_from": _derived(rc.item)}


def material_transfer(rc: RuleContext) -> dict[str, Any] | None:
    data = _from_record(rc.item, ("replace",))
    if data is None:
        return None
    obj = object_phrase(data["edited_object"])
    material = rc.rng.choice(rc.options.materials or TRANSFER_MATERIALS)
    output = with_material(data["input"], obj, material)
    if output is None:
        return None
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Make the {obj} out of the material shown in {ref}.",
                          f"Apply the material in {ref} to the {obj}."))
    return {"edit": edit, "input": data["input"], "output": output, "edited_object": obj,
            "material": material, "reference": ref, "derived_from": _derived(rc.item)}


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


def _condition(name: str) -> Rule:
    cond = CONDITIONS[name]

    def rule(rc: RuleContext) -> dict[str, Any] | None:
        data = _from_record(rc.item, ("replace", "remove"))
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
                "derived_from": _derived(rc.item)}

    return rule


def style_change(rc: RuleContext) -> dict[str, Any] | None:
    if rc.caption is None:
        return None
    style = rc.rng.choice(rc.options.styles or STYLES)
    edit = rc.rng.choice((f"Turn the picture into {article(style)}.",
                          f"Make it look like {article(style)}.",
                          f"Render the scene as {article(style)}."))
    body = rc.caption.rstrip(". ")
    first = body.split()[0] if body.split() else ""
    if not (len(first) > 1 and first.isupper()):  # keep acronyms such as "NYC"
        body = body[:1].lower() + body[1:]
    output = f"{article(style)} of {body}."
    return {"edit": edit, "input": rc.caption, "output": output[:1].upper() + output[1:],
            "style": style, "derived_from": _derived(rc.item, rule="style_list", style=style)}


RULES: dict[str, Rule] = {
    "counting": counting,
    "movement": movement,
    "resize": resize,
    "visual_reference": visual_reference,
    "material_transfer": material_transfer,
    **{name: _condition(name) for name in CONDITIONS},
    "style_change": style_change,
}
