"""Rule-derived edits over a caption and the item's COCO instances.

``counting`` (from a number in the caption, or true instance counts),
``style_change``, ``relation``, ``rotation_change`` and ``outpainting``.
"""

from __future__ import annotations

from collections.abc import Mapping

from instructgen.text import mentions

from ..checks import object_phrase
from ..nouns import TOKEN, article, is_plural, number_value, plural, singular
from ..vocab import NUMBER_NAMES, STYLES
from .context import RuleContext
from .helpers import derived, from_record, instances
from .payloads import (
    Counting,
    Outpainting,
    Relation,
    RotationChange,
    RuleEdit,
    StyleChange,
)


def counting(rc: RuleContext) -> RuleEdit | None:
    """"Two dogs on a couch" → remove k of the N dogs → "one dog on a couch"."""
    if rc.caption is None:
        return None
    caption = rc.caption
    if isinstance(rc.item.data.get("objects"), list):
        return _counting_from_instances(rc, caption)
    tokens = list(TOKEN.finditer(caption))
    for i, tok in enumerate(tokens):
        n = number_value(tok.group())
        if n is None or not 2 <= n <= 10:
            continue
        for j in range(i + 1, min(i + 4, len(tokens))):
            if number_value(tokens[j].group()) is not None:
                break
            if not is_plural(tokens[j].group()):
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
            # The edit names the object as the caption does ("men", not "man"): AnyEdit's
            # local stage skips a counting record whose object is not a substring of it.
            edit = rc.rng.choice((
                f"Remove {k_text} of the {noun}",
                f"Reduce the number of {noun} from {tok.group().lower()} to "
                f"{count_text.lower()}",
                f"Take away {k_text} of the {noun} so that {count_text.lower()} "
                f"{'remains' if left == 1 else 'remain'}",
            ))
            match = caption[tok.start():tokens[j].end()]
            return Counting(edit=edit, input=caption, output=output, edited_object=noun,
                            remove_number=k, count_before=n, count_after=left,
                            derived_from=derived(rc.item, rule="number_before_noun",
                                                 match=match))
    return None


def _count_words(n: int, digit: bool) -> str:
    return str(n) if digit else NUMBER_NAMES[n]


def _counting_from_instances(rc: RuleContext, caption: str) -> RuleEdit | None:
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
    edit = rc.rng.choice((f"Remove {NUMBER_NAMES[k]} of the {NUMBER_NAMES[n]} {many}",
                          f"Reduce the number of {many} from {NUMBER_NAMES[n]} to "
                          f"{NUMBER_NAMES[left]}",
                          f"Take away {NUMBER_NAMES[k]} of the {many}"))
    noun = name if left == 1 else many
    output = _recount(caption, name, many, left)
    if output is None:
        output = f"{caption.rstrip('. ')}, with only {NUMBER_NAMES[left]} {noun}."
    return Counting(edit=edit, input=caption, output=output, edited_object=many,
                    remove_number=k, count_before=n, count_after=left,
                    derived_from=derived(rc.item, rule="instance_counts", category=name,
                                         count=n))


def _recount(caption: str, name: str, many: str, left: int) -> str | None:
    """The caption with the number before ``many`` set to ``left``, if it has one."""
    tokens = list(TOKEN.finditer(caption))
    last = many.split()[-1].lower()
    for i, tok in enumerate(tokens[:-1]):
        if number_value(tok.group()) is None:
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


def style_change(rc: RuleContext) -> RuleEdit | None:
    if rc.caption is None:
        return None
    style = rc.rng.choice(rc.options.styles or STYLES)
    edit = rc.rng.choice((f"Turn the picture into {article(style)}",
                          f"Make it look like {article(style)}",
                          f"Render the scene as {article(style)}"))
    body = rc.caption.rstrip(". ")
    first = body.split()[0] if body.split() else ""
    if not (len(first) > 1 and first.isupper()):  # keep acronyms such as "NYC"
        body = body[:1].lower() + body[1:]
    output = f"{article(style)} of {body}."
    return StyleChange(edit=edit, input=rc.caption, output=output[:1].upper() + output[1:],
                       style=style, derived_from=derived(rc.item, rule="style_list", style=style))


_SIDE_PHRASE = {"left": "to the left of", "right": "to the right of", "upper": "above",
                "down": "below"}


def _centre(box: list[float]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def relation(rc: RuleContext) -> RuleEdit | None:
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
    b: str | None  # the other object; none for a move to a side of the image
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
        edit = f"Swap the positions of the {a} and the {b}"
        output = f"{body}, with the {a} and the {b} in each other's places."
    elif kind == "move":
        edit = f"Move the {a} {_SIDE_PHRASE[direction]} the {b}"
        output = f"{body}, with the {a} {_SIDE_PHRASE[direction]} the {b}."
    else:
        edit = f"Move the {a} to the {direction}"
        output = f"{body}, with the {a} on the {direction} side."
    boxes = {name: box for name, box in single if name in (a, b)}
    return Relation(edit=edit, input=rc.caption, output=output, edited_object=a,
                    target_object=b or None, direction=direction, relation_before=before,
                    derived_from=derived(rc.item, rule="coco_instance_boxes", boxes=boxes))


#: AnyEdit's rotation edits say clockwise or counterclockwise ("Rotate the chair clockwise").
_ROTATIONS = (("counterclockwise", "Rotate the {obj} counterclockwise"),
              ("clockwise", "Rotate the {obj} clockwise"),
              ("counterclockwise", "Turn the {obj} 90 degrees counterclockwise"),
              ("clockwise", "Turn the {obj} 90 degrees clockwise"))


def rotation_change(rc: RuleContext) -> RuleEdit | None:
    """Turn one object in place; from a remove record's object or a single COCO instance."""
    data = from_record(rc.item, ("remove",))
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
    return RotationChange(edit=template.format(obj=obj), input=caption, output=caption,
                          edited_object=obj, direction=direction, derived_from=derived(rc.item))


_OUTPAINTS = (("left", "Extend the image to the left"),
              ("right", "Extend the image to the right"),
              ("up", "Extend the picture upwards to show more above"),
              ("down", "Extend the picture downwards to show more below"),
              ("all", "Zoom out to show more of the surroundings"))


def outpainting(rc: RuleContext) -> RuleEdit | None:
    """Grow the canvas around the whole scene of a caption."""
    if rc.caption is None:
        return None
    direction, edit = rc.rng.choice(_OUTPAINTS)
    output = f"{rc.caption.rstrip('. ')}, in a wider view."
    return Outpainting(edit=edit, input=rc.caption, output=output, direction=direction,
                       derived_from=derived(rc.item, rule="whole_scene"))
