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
  ``visual_depth``, ``visual_bbox``: templates over ``replace`` and ``remove``
  records.
* ``style_change``: from a style list (:data:`~.vocab.STYLES`).
* ``relation``: from COCO instance boxes (``objects``): swap two objects, or
  move one to the left/right of, above or below another, or to one side.
* ``rotation_change``: templates over an object of a ``remove`` record or of
  the item's ``objects``.
* ``outpaint``: templates over the whole scene of a caption.

Old names (``visual_segmentation``, ``material_transfer``) still work, with a
notice.

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
from instructgen.text import mentions, normalize

from .anyedit import slug
from .checks import object_phrase
from .contract import canonical_type
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
              "visual_segment": "segmentation mask", "visual_depth": "depth map",
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
    #: Materials for visual_material_transfer and material_change; empty: the builtin list.
    materials: list[str] = attrs.field(factory=list)
    #: Stands for the reference image in visual_reference and visual_material_transfer
    #: edits; AnyEdit's visual stages look for ``[V*]``.
    reference_token: str = "[V*]"


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
    if isinstance(rc.item.data.get("objects"), list):
        return _counting_from_instances(rc, caption)
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
                    "remove_number": k, "count_before": n, "count_after": left,
                    "derived_from": _derived(rc.item, rule="number_before_noun", match=match)}
    return None


def plural(noun: str) -> str:
    """A rule-based plural of a singular noun phrase (its last word)."""
    head, _, last = noun.rpartition(" ")
    low = last.lower()
    irregular = {v: k for k, v in IRREGULAR_PLURALS.items() if k != v}
    if low in irregular:
        out = irregular[low]
    elif low in IRREGULAR_PLURALS.values() and low in IRREGULAR_PLURALS:
        out = last  # sheep, deer, fish
    elif low.endswith(("s", "x", "ch", "sh", "z")):
        out = last + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        out = last[:-1] + "ies"
    else:
        out = last + "s"
    return f"{head} {out}" if head else out


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


def _count_words(n: int, digit: bool) -> str:
    return str(n) if digit else NUMBER_NAMES[n]


def _counting_from_instances(rc: RuleContext, caption: str) -> dict[str, Any] | None:
    """Counting from COCO instance annotations: N is the true count, not the caption's."""
    objects = rc.item.data.get("objects") or []
    crowds = {o.get("name") for o in objects if isinstance(o, Mapping) and o.get("iscrowd")}
    counts: dict[str, int] = {}
    for name, _box in instances(rc.item):
        counts[name] = counts.get(name, 0) + 1
    found = sorted((name, n) for name, n in counts.items()
                   if 2 <= n <= 10 and name not in crowds)
    if not found:
        return None
    named = [(name, n) for name, n in found if mentions(caption, name)]
    name, n = rc.rng.choice(named or found)
    k = rc.rng.randint(1, n - 1)
    left = n - k
    many = plural(name)
    edit = rc.rng.choice((f"Remove {NUMBER_NAMES[k]} of the {NUMBER_NAMES[n]} {many}.",
                          f"Reduce the number of {many} from {NUMBER_NAMES[n]} to "
                          f"{NUMBER_NAMES[left]}.",
                          f"Take away {NUMBER_NAMES[k]} {name if k == 1 else many}."))
    noun = name if left == 1 else many
    output = _recount(caption, name, many, left)
    if output is None:
        output = f"{caption.rstrip('. ')}, with only {NUMBER_NAMES[left]} {noun}."
    return {"edit": edit, "input": caption, "output": output, "edited_object": name,
            "remove_number": k, "count_before": n, "count_after": left,
            "derived_from": _derived(rc.item, rule="instance_counts", category=name, count=n)}


def _recount(caption: str, name: str, many: str, left: int) -> str | None:
    """The caption with the number before ``many`` set to ``left``, if it has one."""
    tokens = list(_TOKEN.finditer(caption))
    last = many.split()[-1].lower()
    for i, tok in enumerate(tokens[:-1]):
        if _number(tok.group()) is None:
            continue
        for nxt in tokens[i + 1:i + 4]:
            if nxt.group().lower() != last:
                continue
            digit = tok.group().isdigit()
            text = _count_words(left, digit)
            if tok.group()[0].isupper():
                text = text.capitalize()
            noun_last = name.split()[-1] if left == 1 else nxt.group()
            return (caption[:tok.start()] + text + caption[tok.end():nxt.start()] + noun_last
                    + caption[nxt.end():])
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
    """Replace an object with the one shown in a reference image, named ``[V*]``."""
    data = _from_record(rc.item, ("replace",))
    if data is None:
        return None
    obj, new = object_phrase(data["edited_object"]), object_phrase(data["new_object"])
    ref = rc.options.reference_token
    edit = rc.rng.choice((f"Replace the {obj} with {ref}.",
                          f"Swap the {obj} for the {new} shown in {ref}."))
    return {"edit": edit, "input": data["input"], "output": data["output"],
            "edited_object": obj, "new_object": new, "ref_object": new,
            "visual_input": f"{slug(new)}/{slug(rc.item.id)}.jpg", "reference": ref,
            "derived_from": _derived(rc.item)}


def _new_material(rc: RuleContext, from_types: tuple[str, ...],
                  ) -> tuple[dict[str, Any], str, str, str] | None:
    """(record data, object, material, output caption) for the two material rules."""
    data = _from_record(rc.item, from_types)
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
            "reference": ref, "derived_from": _derived(rc.item)}


def material_change(rc: RuleContext) -> dict[str, Any] | None:
    """Change an object's material by name, from a category list (no reference image)."""
    found = _new_material(rc, ("remove",))
    if found is None:
        return None
    data, obj, material, output = found
    edit = rc.rng.choice((f"Change the material of the {obj} to {material}.",
                          f"Make the {obj} {material}."))
    return {"edit": edit, "input": data["input"], "output": output, "edited_object": obj,
            "material": material, "derived_from": _derived(rc.item, rule="material_list")}


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


_SIDE_PHRASE = {"left": "to the left of", "right": "to the right of", "upper": "above",
                "down": "below"}


def _centre(box: list[float]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def relation(rc: RuleContext) -> dict[str, Any] | None:
    """Change where one object is relative to another, from true COCO boxes.

    Only objects that occur once in the image take part, so "the cup" names one
    thing. Where A is left of B, the edit moves A to the right of B (and so on for
    above and below), or swaps the two, or moves A to the far side of the image.
    """
    if rc.caption is None:
        return None
    found = instances(rc.item)
    counts: dict[str, int] = {}
    for name, _box in found:
        counts[name] = counts.get(name, 0) + 1
    single = sorted((name, box) for name, box in found if counts[name] == 1)
    choices: list[tuple[str, str, str | None, str, str]] = []  # kind, a, b, direction, before
    for a, box_a in single:
        for b, box_b in single:
            if a == b:
                continue
            (ax, ay), (bx, by) = _centre(box_a), _centre(box_b)
            if abs(bx - ax) >= abs(by - ay):
                before, direction = ("left", "right") if ax < bx else ("right", "left")
            else:  # image y grows downwards
                before, direction = ("upper", "down") if ay < by else ("down", "upper")
            choices.append(("move", a, b, direction, _SIDE_PHRASE[before]))
            if a < b:
                choices.append(("swap", a, b, "swap", _SIDE_PHRASE[before]))
    size = rc.item.data.get("image_size")
    if isinstance(size, list) and len(size) == 2 and size[0]:
        for a, box_a in single:
            side, now = (("right", "left") if _centre(box_a)[0] < size[0] / 2
                         else ("left", "right"))
            choices.append(("plain", a, None, side, f"on the {now} side of the image"))
    if not choices:
        return None
    kind, a, b, direction, before = rc.rng.choice(choices)
    body = rc.caption.rstrip(". ")
    if kind == "swap":
        edit = f"Swap the positions of the {a} and the {b}."
        output = f"{body}, with the {a} and the {b} in each other's places."
    elif kind == "move":
        edit = f"Move the {a} {_SIDE_PHRASE[direction]} the {b}."
        output = f"{body}, with the {a} {_SIDE_PHRASE[direction]} the {b}."
    else:
        edit = f"Move the {a} to the {direction}."
        output = f"{body}, with the {a} on the {direction} side."
    boxes = {name: box for name, box in single if name in (a, b)}
    return {"edit": edit, "input": rc.caption, "output": output, "edited_object": a,
            **({"target_object": b} if b else {}), "direction": direction,
            "relation_before": before,
            "derived_from": _derived(rc.item, rule="coco_instance_boxes", boxes=boxes)}


_ROTATIONS = (("left", "Rotate the {obj} to face left."),
              ("right", "Rotate the {obj} to face right."),
              ("left", "Turn the {obj} 90 degrees to the left."),
              ("right", "Turn the {obj} 90 degrees to the right."))


def rotation_change(rc: RuleContext) -> dict[str, Any] | None:
    """Turn one object in place; from a remove record's object or a single COCO instance."""
    data = _from_record(rc.item, ("remove",))
    if data is not None:
        obj, caption = object_phrase(data["edited_object"]), data["input"]
    else:
        found = instances(rc.item)
        names = [n for n, _ in found]
        single = sorted({n for n in names if names.count(n) == 1})
        if rc.caption is None or not single:
            return None
        obj, caption = rc.rng.choice(single), rc.caption
    direction, template = rc.rng.choice(_ROTATIONS)
    # The caption rarely says which way an object faces: it stays.
    return {"edit": template.format(obj=obj), "input": caption, "output": caption,
            "edited_object": obj, "direction": direction, "derived_from": _derived(rc.item)}


_OUTPAINTS = (("left", "Extend the image to the left."),
              ("right", "Extend the image to the right."),
              ("up", "Extend the picture upwards to show more above."),
              ("down", "Extend the picture downwards to show more below."),
              ("all", "Zoom out to show more of the surroundings."))


def outpaint(rc: RuleContext) -> dict[str, Any] | None:
    """Grow the canvas around the whole scene of a caption."""
    if rc.caption is None:
        return None
    direction, edit = rc.rng.choice(_OUTPAINTS)
    output = f"{rc.caption.rstrip('. ')}, in a wider view."
    return {"edit": edit, "input": rc.caption, "output": output, "direction": direction,
            "derived_from": _derived(rc.item, rule="whole_scene")}


RULES: dict[str, Rule] = {
    "counting": counting,
    "movement": movement,
    "resize": resize,
    "visual_reference": visual_reference,
    "visual_material_transfer": material_transfer,
    "material_change": material_change,
    **{name: _condition(name) for name in CONDITIONS},
    "style_change": style_change,
    "relation": relation,
    "rotation_change": rotation_change,
    "outpaint": outpaint,
}
