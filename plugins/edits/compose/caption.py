"""A caption as a row of words that can be edited in place, keeping its punctuation.

The rules path writes the output caption as the input with one change. This
module owns the word-level mechanics every such change shares: finding an
object's words, the start of its noun phrase ("a small red car"), splicing
words in or out while a comma or final period stays where it was, and the
article before a changed word ("a" before "apple" becomes "an").
"""

from __future__ import annotations

import re

from attrs import frozen

from ..prefilter import _ADJECTIVES, word_set
from ..vocab import COLOURS, MATERIALS, NUMBER_WORDS, TEXTURES

_TOKEN = re.compile(r"^([\"“(]*)([A-Za-z0-9][A-Za-z0-9'’-]*?)((?:['’]s)?[^A-Za-z0-9]*)$")
#: Words a noun phrase may start with before its nouns: determiners, numbers, adjectives.
DETERMINERS = word_set("a an the some his her their its this that these those several "
                       "many few two three four five six seven eight nine ten one")
MODIFIERS = (frozenset(COLOURS) | frozenset(MATERIALS) | frozenset(TEXTURES) | _ADJECTIVES
             | frozenset(NUMBER_WORDS) | word_set("grey gray dark light bright pale"))
#: Words before "a"/"an"-initial vowels that still take "a" ("a unicorn", "a one-way sign").
_A_BEFORE_VOWEL = ("uni", "use", "usu", "eu", "one", "ubi", "uti", "ure")
_AN_BEFORE_H = ("hour", "honest", "honor", "honour", "heir")


def indefinite(word: str) -> str:
    """``a`` or ``an`` for the sound ``word`` starts with (spelling rules, with exceptions)."""
    low = word.lower()
    if low.startswith(_AN_BEFORE_H):
        return "an"
    if low[:1] in "aeiou" and not low.startswith(_A_BEFORE_VOWEL):
        return "an"
    return "a"


def with_article(phrase: str) -> str:
    """``phrase`` after its indefinite article ("an old car", "a unicorn")."""
    return f"{indefinite(phrase)} {phrase}"


@frozen
class Words:
    """The whitespace-separated words of a caption; edits return a new :class:`Words`."""

    toks: tuple[str, ...]

    @classmethod
    def of(cls, caption: str) -> Words:
        return cls(tuple(caption.split()))

    def __len__(self) -> int:
        return len(self.toks)

    def parts(self, i: int) -> tuple[str, str, str]:
        """Word ``i`` as (leading marks, the word, what follows it: "'s", commas, a period)."""
        m = _TOKEN.match(self.toks[i])
        return (m.group(1), m.group(2), m.group(3)) if m else ("", self.toks[i], "")

    def core(self, i: int) -> str:
        """Word ``i`` lower-cased, without punctuation or a possessive "'s"."""
        return self.parts(i)[1].lower()

    def closed(self, i: int) -> bool:
        """Whether word ``i`` ends a clause part (a comma, a period, a closing quote after it)."""
        return bool(self.parts(i)[2].replace("'s", "").replace("’s", ""))

    def find(self, phrase: str, start: int = 0) -> tuple[int, int] | None:
        """The word span ``[i, j)`` of ``phrase`` (whole words, any case), or ``None``."""
        target = phrase.lower().split()
        n = len(target)
        for i in range(start, len(self.toks) - n + 1):
            if all(self.core(i + k) == target[k] for k in range(n)) and \
                    not any(self.closed(i + k) for k in range(n - 1)):
                return i, i + n
        return None

    def count(self, word: str) -> int:
        """How many words are ``word`` (any case)."""
        return sum(1 for i in range(len(self.toks)) if self.core(i) == word.lower())

    def phrase_start(self, i: int) -> int:
        """Where the noun phrase ending in the nouns at ``i`` starts (its article or adjectives)."""
        k = i
        while k > 0 and not self.closed(k - 1) and self.core(k - 1) in MODIFIERS | DETERMINERS:
            k -= 1
            if self.core(k) in DETERMINERS and self.core(k) not in NUMBER_WORDS:
                break  # an article or possessive opens the phrase
        return k

    def splice(self, i: int, j: int, new: str) -> Words:
        """Words ``[i, j)`` replaced by ``new`` (possibly empty); the punctuation after word
        ``j - 1`` moves to the last new word, or to word ``i - 1`` when nothing is put in."""
        tail = self.parts(j - 1)[2] if j > i else ""
        lead = self.parts(i)[0] if j > i else ""
        added = new.split()
        toks = list(self.toks)
        if added:
            added[0] = lead + added[0]
            added[-1] = added[-1] + tail
        elif i > 0 and tail.strip("'’s"):
            toks[i - 1] = toks[i - 1] + tail.strip("'’s")
        toks[i:j] = added
        return Words(tuple(toks)).fix_article(i)

    def fix_article(self, i: int) -> Words:
        """``a``/``an`` before word ``i`` agrees with it (its case kept)."""
        if i <= 0 or i >= len(self.toks) or self.core(i - 1) not in ("a", "an"):
            return self
        lead, word, tail = self.parts(i - 1)
        want = indefinite(self.core(i))
        if word[:1].isupper():
            want = want.capitalize()
        toks = list(self.toks)
        toks[i - 1] = lead + want + tail
        return Words(tuple(toks))

    def text(self) -> str:
        """The caption: first letter upper-case, as the input wrote it otherwise."""
        out = " ".join(self.toks)
        return out[:1].upper() + out[1:]
