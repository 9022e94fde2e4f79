"""Noun-phrase normalization for concepts and backgrounds: articles and simple lemmas.

Rule-based on purpose (no spaCy model needed): English noun phrases carry
their number on the head noun, which is nearly always the last word, so
only that word is reduced to its singular for a comparison key.
"""

from __future__ import annotations

import re

from instructgen.text import normalize, words

ARTICLES = ("a", "an", "the")

_IRREGULAR = {
    "children": "child", "people": "person", "men": "man", "women": "woman",
    "mice": "mouse", "geese": "goose", "teeth": "tooth", "feet": "foot", "oxen": "ox",
    "dice": "die", "leaves": "leaf", "wolves": "wolf", "knives": "knife", "wives": "wife",
    "lives": "life", "shelves": "shelf", "halves": "half", "loaves": "loaf",
    "calves": "calf", "scarves": "scarf", "thieves": "thief", "potatoes": "potato",
    "tomatoes": "tomato", "heroes": "hero", "echoes": "echo", "volcanoes": "volcano",
    "cacti": "cactus", "fungi": "fungus", "buses": "bus", "gases": "gas", "lenses": "lens",
    "canvases": "canvas", "octopuses": "octopus", "walruses": "walrus", "atlases": "atlas",
    "irises": "iris", "cactuses": "cactus", "circuses": "circus", "bonuses": "bonus",
}
# Words ending in s that are not plurals.
_SINGULAR_S = re.compile(r"(ss|us|is|ics|ous|as)$")
_VOWEL_SOUND = re.compile(r"^(?:[aeio]|u(?!ni|se|su|ro|te|ku)|hour|honest|heir)", re.I)


def singular(word: str) -> str:
    """A rule-based singular of an English noun, lower-cased."""
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or _SINGULAR_S.search(w):
        return w
    if w.endswith("men") and len(w) > 4:
        return w[:-3] + "man"
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return w[:-2]
    if w.endswith("s"):
        return w[:-1]
    return w


def looks_plural(phrase: str) -> bool:
    """True when the phrase's last word reads as a plural noun."""
    ws = words(phrase)
    return bool(ws) and singular(ws[-1]) != ws[-1].lower()


def strip_article(phrase: str) -> str:
    """The phrase without a leading "a", "an" or "the"."""
    parts = normalize(phrase).split(" ", 1)
    if len(parts) == 1 and parts[0].lower() in ARTICLES:
        return ""
    if len(parts) == 2 and parts[0].lower() in ARTICLES:
        return parts[1]
    return normalize(phrase)


def indefinite(phrase: str) -> str:
    """"a"/"an" + the phrase without its article; plurals get no article."""
    bare = strip_article(phrase)
    if not bare or looks_plural(bare):
        return bare
    return ("an " if _VOWEL_SOUND.match(bare) else "a ") + bare


def lemma_key(phrase: str) -> str:
    """Comparison key: lower case, no article, punctuation dropped, head noun singular."""
    ws = [w.lower() for w in words(strip_article(phrase))]
    if ws:
        ws[-1] = singular(ws[-1])
    return " ".join(ws)


#: Prepositions that open a place phrase ("on the beach").
PLACE_WORDS = (
    "in", "on", "at", "inside", "outside", "under", "beneath", "near", "beside", "along",
    "across", "behind", "through", "among", "by", "over", "against",
)
#: Words a background may start with that make it a place phrase already.
PREPOSITIONS = frozenset({*PLACE_WORDS, "into", "onto", "upon", "within", "around", "above",
                          "below", "underneath", "alongside", "amid", "amidst", "between",
                          "beyond", "atop", "next", "inside", "outside", "from", "off",
                          "toward", "towards", "underwater"})


def starts_with_preposition(background: str) -> bool:
    """"on the shipbuilding area" does; "snowy field" does not."""
    first = words(background.lower())[:1]
    return bool(first) and first[0] in PREPOSITIONS
