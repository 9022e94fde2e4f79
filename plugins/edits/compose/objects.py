"""The caption's objects the rules path may edit: known nouns, each with its class and span.

The model chooses the edited object from an enum of these. They are the
caption's noun phrases (as the prefilter's analyzer finds them) whose head is
a known object of :data:`.lexicon.CLASSES`, named once in the caption, so
that "the dog" in an instruction can only mean one thing and a removed
object is gone from the output.
"""

from __future__ import annotations

from attrs import frozen

from ..nouns import is_plural, singular
from ..prefilter import CaptionAnalyzer
from .caption import Words
from .lexicon import CLASSES, COMPOUNDS, SCENERY


@frozen
class Found:
    """One object of a caption: its words as written, its class and word span."""

    phrase: str
    cls: str
    start: int
    end: int

    @property
    def plural(self) -> bool:
        return is_plural(self.phrase.split()[-1])


def class_of(noun: str) -> str | None:
    """The class of a noun (singular or plural), or ``None`` when it is not a known object."""
    low = noun.lower()
    for form in (low, singular(low)):
        for name, members in CLASSES.items():
            if form in members:
                return name
    return None


def known_objects(caption: str, analyzer: CaptionAnalyzer | None) -> list[Found]:
    """The caption's known objects, first seen first, each named once.

    A compound ("fire hydrant") is one object. With an analyzer, an object
    counts only when the analyzer also reads its words as a noun phrase.
    """
    w = Words.of(caption)
    nouns = set(analyzer.objects(caption)) if analyzer is not None else None
    out: list[Found] = []
    for i in range(len(w)):
        head = w.core(i)
        compound = f"{w.core(i - 1)} {head}" if i > 0 and not w.closed(i - 1) else ""
        if compound in COMPOUNDS or singular(compound) in COMPOUNDS:
            found = Found(compound, "food" if compound == "hot dog" else "thing", i - 1, i + 1)
        else:
            cls = class_of(head)
            if cls is None or head in SCENERY:
                continue
            found = Found(head, cls, i, i + 1)
        if nouns is not None and found.phrase not in nouns and head not in nouns:
            continue
        if not _plain(w, found):
            continue
        out.append(found)
    return [f for f in out if _once(w, f)]


def _plain(w: Words, found: Found) -> bool:
    """Whether the object is written as its plain lower-case words (not the capitalised
    first word, not "dog's"): AnyEdit's stages look its last word up among the caption's
    words as written."""
    for i in range(found.start, found.end):
        lead, word, tail = w.parts(i)
        if lead or word != word.lower() or tail.startswith(("'", "’")):
            return False
    return True


def _once(w: Words, found: Found) -> bool:
    """Whether the object's head word (any number) occurs only once in the caption."""
    head = singular(found.phrase.split()[-1])
    return sum(1 for i in range(len(w)) if singular(w.core(i)) == head) == 1
