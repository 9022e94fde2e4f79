"""Caption templates: the sentence around a concept, written by rules from chosen fields.

Under ``compose = "template"`` the model only picks a few fields (a colour, a
size, a pose, a state; :mod:`.fields`), and this module writes the caption:

- the concept is the head noun of its noun phrase, adjectives before it in
  the usual English order (size or state, then colour): "a small red teapot";
- "a"/"an" by the sound of the next word, no article before a plural
  ("red scissors"), and verbs that agree ("there are red scissors");
- every form is short, factual, and free of digits and opinion words; a form
  that would pass the word limit is skipped, and adjectives are dropped
  before the caption gives up.

Which form a caption takes is drawn with the item's random generator, so a
run is reproducible and a pool gets varied sentences.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import attrs

from instructgen.text import word_count, words

from .lexicon import (
    AT_SETTINGS,
    BY_SETTINGS,
    COLOURS,
    MASS_SETTINGS,
    ON_SETTINGS,
    STUDIO_VIEWS,
    THE_SETTINGS,
    VIEWS,
    is_large,
)
from .phrases import (
    PREPOSITIONS,
    indefinite,
    looks_plural,
    singular,
    starts_with_preposition,
    strip_article,
)


@attrs.frozen(kw_only=True)
class Look:
    """What the model chose for one concept; ``None`` leaves a field out."""

    colour: str | None = None
    #: A size or age ("small", "old"), or a food's state ("sliced").
    size: str | None = None
    #: A participle phrase for a creature ("grazing", "perched on a branch").
    pose: str | None = None


class NoCaption(ValueError):
    """No template fits the word limit, even with every adjective dropped."""


def is_plural(concept: str) -> bool:
    """"scissors" and "apples" are plural; "glass" and "bus" are not."""
    return looks_plural(concept)


def noun_phrase(concept: str, adjectives: Sequence[str], *, article: bool = True) -> str:
    """``"a small red teapot"``: the adjectives, then the concept as head noun."""
    phrase = " ".join([*adjectives, concept])
    return indefinite(phrase) if article else phrase


def adjectives(look: Look, keep: int, concept: str = "") -> list[str]:
    """At most ``keep`` of the chosen adjectives, in English order: size, then colour.

    A colour is left out when the concept already names one ("red bus" never
    becomes "a blue red bus" or "a red red bus"), any adjective when the concept
    holds its words.
    """
    own = {w.lower() for w in words(concept)}
    chosen = [a for a in (look.size, look.colour)
              if a and not own & {w.lower() for w in words(a)}
              and not (a == look.colour and own & set(COLOURS))]
    return chosen[:keep] if keep else []


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def setting_head(place: str) -> tuple[str, bool]:
    """The head noun of a place, as written (the last word before any preposition:
    "lake at sunset" → "lake"), and whether a phrase with "of" follows it."""
    head = ""
    for word in words(place.lower()):
        if word in PREPOSITIONS or word == "of":
            return head, word == "of"
        head = word
    return head, False


def place_head(background: str) -> str:
    """The head noun of a background, singular, past a leading preposition and article
    ("on the shipbuilding area" → "area", "lake at sunset" → "lake")."""
    ws = words(background.lower())
    while ws and (ws[0] in PREPOSITIONS or ws[0] in ("to", "of", "front", "a", "an", "the")):
        ws = ws[1:]
    head, _ = setting_head(" ".join(ws))
    return singular(head) if head else ""


def setting_phrase(background: str) -> str:
    """A place phrase for a background: "on a city street", "at a bus stop", "in snow".

    A background that already starts with a preposition is kept as written.
    """
    place = " ".join(background.split()).rstrip(".")
    if starts_with_preposition(place):
        return place[:1].lower() + place[1:]
    bare = strip_article(place)
    written, of_phrase = setting_head(bare)
    head = singular(written) if written else ""
    prep = ("on" if head in ON_SETTINGS else "at" if head in AT_SETTINGS
            else "by" if head in BY_SETTINGS else "in")
    if of_phrase or bare.lower() in THE_SETTINGS:  # "the top of a hill", "the countryside"
        return f"{prep} the {bare}"
    if (word_count(bare) == 1 and head in MASS_SETTINGS) or (written and head != written):
        return f"{prep} {bare}"
    return f"{prep} {indefinite(bare)}"


def _pose(pose: str, plural: bool) -> str:
    return pose.replace(" its ", " their ") if plural else pose


def _be(plural: bool) -> str:
    return "are" if plural else "is"


def single_forms(concept: str, look: Look, keep: int, view: str) -> list[str]:
    """Every c2cap form for ``concept`` with ``keep`` adjectives (no other object named)."""
    plural = is_plural(concept)
    np = noun_phrase(concept, adjectives(look, keep, concept))
    forms = []
    if look.pose:
        pose = _pose(look.pose, plural)
        forms += [f"{np} {pose}", f"a photo of {np} {pose}", f"{np} {pose}, {view}",
                  f"a close-up of {np} {pose}"]
    else:
        forms += [f"{np} {view}", f"a photo of {np} {view}"]
        forms.append(f"a close-up of {np}")
    return forms


def setting_forms(concept: str, look: Look, keep: int, setting: str, view: str) -> list[str]:
    """Every cb2cap form: the concept placed in ``setting`` (already a place phrase)."""
    plural = is_plural(concept)
    np = noun_phrase(concept, adjectives(look, keep, concept))
    forms = [f"{np} {setting}", f"a photo of {np} {setting}",
             f"there {_be(plural)} {np} {setting}"]
    if look.pose:
        pose = _pose(look.pose, plural)
        forms += [f"{np} {pose} {setting}", f"a photo of {np} {pose} {setting}"]
    elif view.startswith("seen"):
        forms.append(f"{np} {setting}, {view}")
    return forms


def pair_forms(first: str, first_look: Look, second: str, second_look: Look, keep: int,
               relation: str) -> list[str]:
    """Every cc2cap form: the first concept placed by ``relation`` to the second."""
    a = noun_phrase(first, adjectives(first_look, keep, first))
    b = noun_phrase(second, adjectives(second_look, keep, second))
    forms = [f"{a} {relation} {b}", f"a photo of {a} {relation} {b}",
             f"there {_be(is_plural(first))} {a} {relation} {b}"]
    if first_look.pose:
        forms.append(f"{a} {_pose(first_look.pose, is_plural(first))} {relation} {b}")
    if relation in ("next to", "beside") and is_large(first) == is_large(second):
        forms.append(f"{a} and {b} side by side")  # not an alarm clock and a windmill
    return forms


def pick(build: Callable[[int], list[str]], max_words: int, rng: random.Random,
         max_adjectives: int = 2) -> str:
    """One form from ``build(keep)``, drawn with ``rng``, within ``max_words`` words.

    ``build`` returns the forms for ``keep`` adjectives; the most adjectives
    that leave some form inside the limit win.
    """
    for keep in range(max_adjectives, -1, -1):
        fits = [f for f in build(keep) if word_count(f) <= max_words]
        if fits:
            return capitalized(rng.choice(fits)) + "."
    raise NoCaption(f"no template fits {max_words} words")


def concept_caption(concept: str, look: Look, max_words: int, rng: random.Random) -> str:
    """A c2cap caption: the concept alone, with the chosen look.

    Under a tight word limit the bare noun phrase ("A red teapot.") is the last resort.
    """
    view = rng.choice(VIEWS if look.pose else (*VIEWS, *STUDIO_VIEWS))
    try:
        return pick(lambda keep: single_forms(concept, look, keep, view), max_words, rng)
    except NoCaption:
        return pick(lambda keep: [noun_phrase(concept, adjectives(look, keep, concept))],
                    max_words, rng)


def background_caption(concept: str, look: Look, background: str, max_words: int,
                       rng: random.Random) -> str:
    """A cb2cap caption: the concept in ``background``."""
    setting = setting_phrase(background)
    view = rng.choice(VIEWS)
    return pick(lambda keep: setting_forms(concept, look, keep, setting, view), max_words, rng)


def pair_caption(concepts: tuple[str, str], looks: tuple[Look, Look], relation: str,
                 max_words: int, rng: random.Random) -> str:
    """A cc2cap caption naming both concepts, joined by ``relation``; one adjective each."""
    (first, second), (la, lb) = concepts, looks
    return pick(lambda keep: pair_forms(first, la, second, lb, keep, relation), max_words,
                rng, max_adjectives=1)
