"""Per edit type: what the model chooses (a schema of closed options) and how the edit and
the output are written from its choice.

:func:`plan` returns a :class:`Plan`, or a reason when the caption offers
nothing the type can use. A plan's schema lists only values the writer can
use: objects the rewrite can edit cleanly, and a few values drawn with the
item's random generator from the type's closed list (so records differ, and
the model still picks the one that fits). Where the fitting values depend on
the object (an action fits a person or an animal, a look fits its class), the
schema has one branch per object.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import frozen

from ..checks import quoted_texts
from ..nouns import plural, singular
from ..vocab import COLOURS as ALL_COLOURS
from ..vocab import MATERIALS as ALL_MATERIALS
from ..vocab import TEXTURES as ALL_TEXTURES
from . import rewrite
from .caption import DETERMINERS, Words, with_article
from .lexicon import (
    ACTIONS,
    ADD_NEAR,
    ANIMAL_COLOURS,
    ANIMATE,
    BACKGROUNDS,
    COLOURED_MATERIALS,
    COLOURS,
    INDOORS,
    LOOKS,
    MATERIALS,
    MATERIALS_FOR,
    OUTDOOR,
    PATTERNS,
    SWAPS,
    TEXTS,
    TEXTURES,
    TEXTURES_FOR,
    TONES,
)
from .objects import Found
from .phrasings import BANKS, KIND_WORDS, possessive, render, usable

#: How many values of a closed list one request offers.
OFFERED = 8
#: Where an added object goes, relative to an object of the caption.
RELATIONS = ("next to", "beside", "near", "behind", "in front of")
#: Movements by class, for an action whose caption goes on to say where it goes ("down a
#: street"): only a movement reads well in its place.
MOVING = {"person": ("walking", "running", "jogging", "strolling"),
          "animal": ("walking", "running", "trotting", "wandering")}


@frozen
class Composed:
    """A written edit: the instruction, the output caption and the type's record fields."""

    edit: str
    output: str
    fields: Mapping[str, str]
    #: Phrases a rewording of ``edit`` must keep besides the fields (where an object goes).
    keep: tuple[str, ...] = ()


@frozen
class Plan:
    """What the model is asked to choose, and the writer of the edit from its choice."""

    schema: Mapping[str, Any]
    #: One line per field, shown to the model: the field and its options.
    lines: tuple[str, ...]
    write: Callable[[Mapping[str, str]], Composed | None]


def _draw(rng: random.Random, values: Sequence[str],
          exclude: set[str] | frozenset[str] = frozenset(),
          k: int = OFFERED) -> list[str]:
    pool = [v for v in values if v.lower() not in exclude]
    return rng.sample(pool, min(k, len(pool)))


def _obj(props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "required": list(props),
            "additionalProperties": False}


def _enum(values: Sequence[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _branches(field: str, objs: Sequence[Found], second: str,
              options: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """One branch per object: ``field`` fixed to it, ``second`` from its own options."""
    branches = [_obj({field: {"const": o.phrase}, second: _enum(options[o.phrase])})
                for o in objs if options.get(o.phrase)]
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def _line(field: str, values: Sequence[str]) -> str:
    return f"{field}: one of {', '.join(values)}"


def object_slots(o: Found, caption: str = "", rng: random.Random | None = None,
                 ) -> dict[str, str]:
    """The object's slots, with the pronoun and verb forms that agree with it.

    With ``caption`` and ``rng``, half the time the object is named with the words the
    caption puts before it ("the small brown dog"), as people refer to things.
    """
    the, many = f"the {o.phrase}", o.plural
    if caption and rng is not None and rng.random() < 0.5:
        the = f"the {described(caption, o)}"
    return {"o": o.phrase, "the_o": the, "o_s": possessive(the, many),
            "is": "are" if many else "is", "it": "they" if many else "it",
            "its": "their" if many else "its", "them": "them" if many else "it",
            "looks": "look" if many else "looks", "one": "ones" if many else "one"}


def described(caption: str, o: Found) -> str:
    """``o`` with the adjectives the caption gives it ("small brown dog"), as written."""
    w = Words.of(caption)
    k = w.phrase_start(o.start)
    while k < o.start and w.core(k) in DETERMINERS:
        k += 1
    return " ".join([w.core(i) for i in range(k, o.start)] + [o.phrase])


def _by_phrase(objs: Sequence[Found], phrase: str) -> Found | None:
    return next((o for o in objs if o.phrase == phrase), None)


def _picked(objs: Sequence[Found], options: Mapping[str, Sequence[str]],
            choice: Mapping[str, str], field: str) -> tuple[Found, str] | None:
    """The chosen object and value, when the value is one offered for that object."""
    o = _by_phrase(objs, choice["edited_object"])
    v = choice[field]
    return (o, v) if o is not None and v in options.get(o.phrase, ()) else None


def _person_like(noun: str) -> bool:
    """Whether AnyEdit's replace filter would read ``noun`` as a person: its last word ends
    like "teacher", "tourist" or "employee" (a suffix test, so "tractor" and "tree" too)."""
    return noun.split()[-1].endswith(("er", "or", "ist", "ian", "ee"))


def _in_text(caption: str, values: Sequence[str]) -> set[str]:
    """The values that occur anywhere in the caption's text, even inside a word ("red" in
    "covered"): AnyEdit's colour filter replaces the colour as text, so it must be unique."""
    low = caption.lower()
    low += " gray" if "grey" in low else " grey" if "gray" in low else ""  # one colour
    return {v for v in values if v in low}


def _caption_words(caption: str) -> set[str]:
    w = Words.of(caption)
    return {w.core(i) for i in range(len(w))}


# -- one planner per type -------------------------------------------------------------------

def _add(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    anchors = [o for o in objs if not rewrite.held(caption, o)]
    if not anchors:
        return "no known object to place the new one by"
    anchor, rel = rng.choice(anchors), rng.choice(RELATIONS)
    words = _caption_words(caption)
    near = ADD_NEAR["outdoor" if singular(anchor.phrase.split()[-1]) in OUTDOOR else anchor.cls]
    offered = _draw(rng, [v for v in near if v.split()[-1] not in words], set())

    def write(choice: Mapping[str, str]) -> Composed | None:
        v = choice["edited_object"]
        slots = {"v": v, "a_v": with_article(v), "rel": rel, "anchor": anchor.phrase}
        return Composed(render("add", slots, rng), rewrite.add_object(caption, v, rel, anchor),
                        {"edited_object": v}, (f"{rel} the {anchor.phrase}",))

    return Plan(_obj({"edited_object": _enum(offered)}),
                (_line("edited_object", offered),), write)


def _remove(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    ok = [o for o in objs if rewrite.delete(caption, o) is not None]
    if not ok:
        return "no object that can be removed and leave a sentence"
    names = [o.phrase for o in ok]

    def write(choice: Mapping[str, str]) -> Composed | None:
        o = _by_phrase(ok, choice["edited_object"])
        out = rewrite.delete(caption, o) if o else None
        if o is None or out is None:
            return None
        return Composed(render("remove", object_slots(o, caption, rng), rng), out,
                        {"edited_object": o.phrase})

    return Plan(_obj({"edited_object": _enum(names)}), (_line("edited_object", names),), write)


def _replace(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    words = _caption_words(caption)
    options = {}
    for o in objs:  # people are left out: AnyEdit's replace stage skips them
        if o.cls == "person":
            continue
        head = singular(o.phrase)
        mates = {v for group in SWAPS if head in group for v in group} - {head, o.phrase}
        pool = sorted(v for v in mates if not _person_like(v) and v.split()[-1] not in words)
        if pool:
            options[o.phrase] = _draw(rng, pool, set(), 6)
    ok = [o for o in objs if o.phrase in options]
    if not ok:
        return "no object of the caption has a known stand-in"

    def write(choice: Mapping[str, str]) -> Composed | None:
        picked = _picked(ok, options, choice, "new_object")
        if picked is None:
            return None
        o, v = picked
        slots = {**object_slots(o, caption, rng), "v": v,
                 "a_v": plural(v) if o.plural else with_article(v)}
        return Composed(render("replace", slots, rng), rewrite.substitute(caption, o, v),
                        {"edited_object": o.phrase, "new_object": v})

    offered = sorted({v for vs in options.values() for v in vs})
    return Plan(_branches("edited_object", ok, "new_object", options),
                (_line("edited_object", [o.phrase for o in ok]),
                 _line("new_object", offered)), write)


def _attribute(kind: str) -> Callable[[str, Sequence[Found], random.Random], Plan | str]:
    """Colour, material, texture and look: one object of the caption, a word put before it."""
    field = {"color_alter": "color", "material_alter": "material",
             "texture_alter": "texture", "appearance_alter": "look"}[kind]

    def planner(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
        words = _caption_words(caption)
        options = {}
        for o in objs:
            pool = _fitting(kind, o.cls)
            if pool and rewrite.modifiable(caption, o) and not o.phrase.endswith("to"):
                options[o.phrase] = _draw(rng, pool, words | _in_text(caption, pool), 6)
        ok = [o for o in objs if options.get(o.phrase)]
        if not ok:
            return f"no object whose {field} can be changed"
        schema = _branches("edited_object", ok, field, options)
        offered = sorted({v for vs in options.values() for v in vs})

        def write(choice: Mapping[str, str]) -> Composed | None:
            picked = _picked(ok, options, choice, field)
            if picked is None:
                return None
            o, v = picked
            # An appearance edit must not name a colour or material, as "the brown dog" does.
            slots = {**object_slots(o, caption if kind != "appearance_alter" else "", rng),
                     "v": v}
            if kind == "color_alter":
                out = rewrite.put_before_noun(caption, o, v, frozenset(ALL_COLOURS),
                                              frozenset(ALL_MATERIALS) | frozenset(ALL_TEXTURES))
            elif kind == "material_alter":
                adjective = dict(MATERIALS)[v]
                same = frozenset(ALL_MATERIALS) | (
                    frozenset(ALL_COLOURS) if v in COLOURED_MATERIALS else frozenset())
                out = rewrite.put_before_noun(caption, o, adjective, same)
            elif kind == "texture_alter":
                slots["surface"] = "pattern" if v in PATTERNS else "texture"
                out = rewrite.put_before_noun(caption, o, v, frozenset(ALL_TEXTURES),
                                              frozenset(ALL_MATERIALS))
            else:
                out = rewrite.describe(caption, o, v)
            forms = BANKS[kind]
            if o.cls == "animal":  # a dog's coat is not painted
                forms = tuple(f for f in forms if "aint" not in f)
            return Composed(render(kind, slots, rng, forms), out, {"edited_object": o.phrase})

        return Plan(schema, (_line("edited_object", [o.phrase for o in ok]),
                             _line(field, offered)), write)

    return planner


def _fitting(kind: str, cls: str) -> tuple[str, ...]:
    """The values of an attribute edit that fit an object of class ``cls`` (none: the class
    takes no such edit). People keep their colour and look (AnyEdit's appearance filter
    drops edits naming a person); food keeps its colour; materials and textures fit things."""
    if kind == "color_alter":
        return {"person": (), "food": (), "animal": ANIMAL_COLOURS}.get(cls, COLOURS)
    if kind == "appearance_alter":
        return () if cls == "person" else LOOKS.get(cls, ())
    if kind == "material_alter":
        return tuple(m for m, _ in MATERIALS if m in MATERIALS_FOR.get(cls, ()))
    return tuple(t for t in TEXTURES if t in TEXTURES_FOR.get(cls, ()))


def _action(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    spans = {o.phrase: rewrite.verb_after(caption, o) for o in objs
             if o.cls in ANIMATE and not o.phrase.endswith("to")}
    ok = [o for o in objs if spans.get(o.phrase) is not None]
    if not ok:
        return "no person or animal with an action after it"
    w = Words.of(caption)
    seen = {s for x in _caption_words(caption) for s in _stem(x)}
    options: dict[str, list[str]] = {}
    for o in ok:
        span = spans[o.phrase]
        assert span is not None
        pool = MOVING[o.cls] if rewrite.moving(caption, span) else ACTIONS[o.cls]
        # An action the caption already shows (any form) is one AnyEdit's filter drops.
        options[o.phrase] = [a for a in _draw(rng, pool, set(), 6)
                             if not _stem(a.split()[0]) & seen]
    ok = [o for o in ok if options[o.phrase]]
    if not ok:
        return "every fitting action is one the caption already shows"

    def write(choice: Mapping[str, str]) -> Composed | None:
        picked = _picked(ok, options, choice, "action")
        if picked is None:
            return None
        o, v = picked
        span = spans[o.phrase]
        assert span is not None
        out = rewrite.change_action(caption, o, v)
        if out is None:
            return None
        slots = {**object_slots(o, caption, rng), "v": v}
        if w.core(span[0]).endswith("ing"):  # "from riding to walking"; not "from rides"
            slots["old"] = w.core(span[0])
        return Composed(render("action_change", slots, rng, usable("action_change", slots)),
                        out, {"edited_object": o.phrase})

    offered = sorted({v for vs in options.values() for v in vs})
    return Plan(_branches("edited_object", ok, "action", options),
                (_line("edited_object", [o.phrase for o in ok]), _line("action", offered)),
                write)


def _stem(word: str) -> set[str]:
    """Rough base forms of a verb ("running" -> run, runn; "sits" -> sit)."""
    w = word.lower()
    out = {w}
    if w.endswith("ing") and len(w) > 5:
        out |= {w[:-3], w[:-3] + "e", w[:-4]}
    if w.endswith("s") and len(w) > 3:
        out.add(w[:-1])
    return out


def _background(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    places = dict(BACKGROUNDS)
    words = _caption_words(caption)  # AnyEdit drops a background whose last word is in it
    offered = _draw(rng, [p for p in places if p.split()[-1] not in words], set())

    def write(choice: Mapping[str, str]) -> Composed | None:
        v = choice["new_background"]
        if v not in places:
            return None
        slots = {"v": v, "a_v": with_article(v), "place": places[v]}
        return Composed(render("background_change", slots, rng),
                        rewrite.set_background(caption, places[v]), {"new_background": v})

    return Plan(_obj({"new_background": _enum(offered)}), (_line("new_background", offered),),
                write)


def _tone(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    words = _caption_words(caption)
    # No weather indoors: "a chef in a restaurant kitchen in a blizzard".
    tones = {t[0]: t for t in TONES if t[2] != "weather" or not words & INDOORS}
    offered = _draw(rng, list(tones), words)

    def write(choice: Mapping[str, str]) -> Composed | None:
        t = tones.get(choice["new_state"])
        if t is None:
            return None
        state, phrase, kind = t
        slots = {"v": state, "place": phrase}
        if kind != "era":
            slots["kind"] = KIND_WORDS[kind]
        return Composed(render("tone_transfer", slots, rng, usable("tone_transfer", slots)),
                        rewrite.set_tone(caption, phrase), {"new_state": state})

    return Plan(_obj({"new_state": _enum(offered)}), (_line("new_state", offered),), write)


def _styled(text: str, like: str) -> str:
    """``text`` in the case style of ``like``: upper, title or lower case."""
    if like.isupper():
        return text.upper()
    if all(w[:1].isupper() for w in like.split()):
        return text.title()
    return text.lower()


def _text(caption: str, objs: Sequence[Found], rng: random.Random) -> Plan | str:
    quoted = [q for q in dict.fromkeys(quoted_texts(caption))
              if re.fullmatch(r"[A-Za-z]+(?: [A-Za-z]+){0,3}", q)]
    options = {q: _draw(rng, [_styled(t, q) for t in TEXTS[len(q.split())]], {q.lower()}, 6)
               for q in quoted}
    if not options:
        return "no quoted text of one to four Latin words to change"
    branches = [_obj({"text_before": {"const": q}, "text_after": _enum(v)})
                for q, v in options.items()]

    def write(choice: Mapping[str, str]) -> Composed | None:
        before, after = choice["text_before"], choice["text_after"]
        out = rewrite.change_text(caption, before, after) if before in options else None
        if out is None or after not in options[before]:
            return None
        return Composed(render("textual_change", {"old": before, "v": after}, rng), out,
                        {"text_before": before, "text_after": after})

    return Plan(branches[0] if len(branches) == 1 else {"anyOf": branches},
                (_line("text_before", list(options)),
                 _line("text_after", sorted({v for vs in options.values() for v in vs}))),
                write)


#: The edit types the rules path writes, by name.
PLANNERS: Mapping[str, Callable[[str, Sequence[Found], random.Random], Plan | str]] = {
    "add": _add, "remove": _remove, "replace": _replace,
    "color_alter": _attribute("color_alter"), "appearance_alter": _attribute("appearance_alter"),
    "material_alter": _attribute("material_alter"), "texture_alter": _attribute("texture_alter"),
    "action_change": _action, "background_change": _background, "tone_transfer": _tone,
    "textual_change": _text,
}
