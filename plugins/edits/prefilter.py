"""Prefilter: does a caption have what an edit type needs, before the model is asked?

Two analyzers:

* ``spacy``: part-of-speech tags from spaCy's ``en_core_web_sm`` (used when
  both are installed). A noun is a NOUN or PROPN token; a verb is a VERB token.
* ``heuristic``: the documented fallback without spaCy. It skips POS tagging
  entirely (:data:`HEURISTIC_SKIPS`) and uses word lists instead:

  - noun: some content word that is not a known function word, number,
    colour, common adjective or common verb form (permissive: it lets through
    captions a tagger might reject, never the reverse for plain captions);
  - verb: a word from a list of common verbs in caption English, an
    ``-ing`` word that is not a known ``-ing`` noun ("building", "ceiling"),
    or an ``-ed`` participle ("a bird perched on a branch").

Quoted text is found with a regular expression by both (no tagging needed).
Every record says which analyzer was used in its ``prefilter`` field.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any, Protocol

from instructgen.text import words

from .checks import quoted_texts
from .vocab import COLOURS, NUMBER_WORDS


def word_set(text: str) -> frozenset[str]:
    """A set of the whitespace-separated words of ``text`` (keeps long lists readable)."""
    return frozenset(text.split())


#: What the heuristic fallback does not do, as recorded with each rejection.
HEURISTIC_SKIPS = ("pos_tagging",)


class CaptionAnalyzer(Protocol):
    """Answers whether a caption has a noun, a verb or quoted text."""

    method: str

    def has(self, caption: str, need: str) -> bool: ...

    def objects(self, caption: str) -> list[str]:
        """The noun phrases of ``caption`` an edit may name as an existing object."""
        ...


def noun_phrases(tokens: list[str], is_noun: list[bool],
                 is_modifier: list[bool] | None = None) -> list[str]:
    """Runs of nouns, every tail and word of each ("fire hydrant", "hydrant"), and "X of Y".

    With ``is_modifier``, a run also comes with the adjective before it ("old man").

    Lower case, possessive "'s" dropped, first seen first: the candidates the
    ``edited_object`` enum of a request offers the model.
    """
    words_ = [t.lower().removesuffix("'s").removesuffix("’s") for t in tokens]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(words_):
        if is_noun[i]:
            j = i
            possessive = [t.lower().endswith(("'s", "’s")) for t in tokens]
            while j + 1 < len(words_) and is_noun[j + 1] and not possessive[j]:
                j += 1
            runs.append((i, j + 1))
            i = j + 1
        else:
            i += 1
    found: list[str] = []
    for a, b in runs:
        if is_modifier is not None and a > 0 and is_modifier[a - 1]:
            found.append(" ".join(words_[a - 1:b]))
        found.extend(" ".join(words_[k:b]) for k in range(a, b))
        found.extend(words_[a:b - 1])  # "children" of "children building" (a word list guess)
    for (a1, b1), (a2, b2) in itertools.pairwise(runs):
        if a2 == b1 + 1 and words_[b1] == "of":  # "cup of coffee"
            found.append(" ".join(words_[a1:b2]))
    return list(dict.fromkeys(found))


_FUNCTION_WORDS = word_set("""
a an the this that these those some any each every no another other its it it's their
his her our my your them they he she we you i me us him there here of in on at by for
with without from to into onto over under above below behind beside besides between near
next through across along around about against among up down out off inside outside
toward towards upon while during and or but nor so as than then if when where which who
whom whose what why how very too also just only not all both few many much more most less
be is are was were been being am has have had having do does did can could will would
shall should may might must one two three four five six seven eight nine ten several
lot lots kind sort front top bottom side left right back middle part piece pair group
bunch couple full empty
""")

_ADJECTIVES = word_set("""
big small large little tall short long old new young wide narrow high low open closed
bright dark light heavy thin thick round square flat tiny huge giant empty full clean
dirty wet dry hot cold warm cool busy quiet calm sunny cloudy snowy rainy grassy sandy
wooden metal plastic glass stone brick paper leather happy sad cute pretty beautiful
nice good great various different same several other many few close far lush fresh
""")

_VERBS = word_set("""
sit sits sat stand stands stood lie lies lay lay lays walk walks walked run runs ran ride
rides rode hold holds held eat eats ate drink drinks drank play plays played look looks
looked watch watches watched fly flies flew swim swims swam jump jumps jumped carry
carries carried wear wears wore read reads talk talks rest rests pose poses posed lean
leans leaned hang hangs hung park parks parked cross crosses crossed throw throws threw
catch catches caught hit hits kick kicks pull pulls push pushes cut cuts cook cooks
graze grazes grazed sleep sleeps slept smile smiles smiled wait waits waited float
floats floated drive drives drove skate skates ski skis surf surfs climb climbs climbed
dance dances sing sings write writes wave waves waved feed feeds fed chase chases chased
pet pets hug hugs laugh laughs laughed kneel kneels reach reaches point points perch
perches perched bark barks gallop gallops splash splashes stare stares fall falls fell
open opens pour pours serve serves shake shakes stretch stretches
""")

_ED_NOT_VERBS = word_set("""
sled speed steed seed weed reed need bleed breed hundred sacred naked wicked rugged
""")

_ING_NOUNS = word_set("""
building buildings ceiling ceilings clothing painting paintings ring rings thing things
king kings wedding morning evening something nothing everything anything bedding icing
railing railings awning awnings landing parking dining living pudding stuffing wing wings
spring string strings sibling siblings seedling ping duckling earring earrings dumpling
dumplings stocking stockings topping toppings crossing crossings setting lightning
ceiling swing swings sling
""")

_COLOUR_SET = frozenset(COLOURS)


class HeuristicAnalyzer:
    """Word lists and suffix rules; skips part-of-speech tagging (see module docs)."""

    method = "heuristic"
    skips = HEURISTIC_SKIPS

    def has(self, caption: str, need: str) -> bool:
        if need == "quoted_text":
            return bool(quoted_texts(caption))
        ws = [w.lower() for w in words(caption)]
        if need == "noun":
            return any(self._content_noun(w) for w in ws)
        if need == "verb":
            return any(self._verb(w) for w in ws)
        raise ValueError(f"unknown need {need!r}")

    def objects(self, caption: str) -> list[str]:
        ws = words(caption)
        return noun_phrases(ws, [self._content_noun(w.lower().removesuffix("'s")) for w in ws],
                            [w.lower() in _ADJECTIVES or w.lower() in _COLOUR_SET for w in ws])

    @staticmethod
    def _content_noun(w: str) -> bool:
        if len(w) < 2 or w.isdigit() or w in NUMBER_WORDS:
            return False
        if w in _FUNCTION_WORDS or w in _ADJECTIVES or w in _COLOUR_SET or w in _VERBS:
            return False
        return not (w.endswith(("ly", "ed")) or (w.endswith("ing") and w not in _ING_NOUNS))

    @staticmethod
    def _verb(w: str) -> bool:
        if w in _VERBS:
            return True
        if len(w) > 4 and w.endswith("ed"):  # "a bird perched", "a car parked"
            return w not in _ED_NOT_VERBS and w not in _COLOUR_SET
        return len(w) > 4 and w.endswith("ing") and w not in _ING_NOUNS


class SpacyAnalyzer:
    """Part-of-speech tags from spaCy's small English model."""

    method = "spacy"
    skips: tuple[str, ...] = ()

    def __init__(self, nlp: Any) -> None:
        self._nlp = nlp

    def has(self, caption: str, need: str) -> bool:
        if need == "quoted_text":
            return bool(quoted_texts(caption))
        doc = self._tag(caption)
        tags = {"noun": ("NOUN", "PROPN"), "verb": ("VERB",)}[need]
        return any(pos in tags for pos in doc)

    def objects(self, caption: str) -> list[str]:
        doc = self._tokens(caption)
        return noun_phrases([t for t, _ in doc], [pos in ("NOUN", "PROPN") for _, pos in doc],
                            [pos == "ADJ" for _, pos in doc])

    @lru_cache(maxsize=4096)  # noqa: B019 - as _tag
    def _tokens(self, caption: str) -> tuple[tuple[str, str], ...]:
        return tuple((t.text, t.pos_) for t in self._nlp(caption) if not t.is_punct)

    @lru_cache(maxsize=4096)  # noqa: B019 - one analyzer per run; captions repeat across turns
    def _tag(self, caption: str) -> tuple[str, ...]:
        return tuple(t.pos_ for t in self._nlp(caption))


def load_spacy() -> Any | None:
    """spaCy's ``en_core_web_sm`` pipeline, or ``None`` when either is not installed."""
    try:
        import spacy
    except ImportError:
        return None
    try:
        return spacy.load("en_core_web_sm", disable=["parser", "ner", "lemmatizer"])
    except OSError:
        return None


def make_analyzer(mode: str) -> CaptionAnalyzer | None:
    """The analyzer for ``mode`` (auto, spacy, heuristic, off); ``None`` for off.

    ``spacy`` fails when spaCy or its model is missing; ``auto`` falls back.
    """
    if mode == "off":
        return None
    if mode in ("auto", "spacy"):
        nlp = load_spacy()
        if nlp is not None:
            return SpacyAnalyzer(nlp)
        if mode == "spacy":
            from instructgen.errors import RecipeError

            raise RecipeError("generator.prefilter: 'spacy' needs spaCy and its en_core_web_sm "
                              "model (pip install spacy && python -m spacy download "
                              "en_core_web_sm); use 'auto' to fall back to word lists")
    return HeuristicAnalyzer()
