"""Noun wording shared by the rules and the composer: articles, singulars, plurals,
number words. Rule-based and English-only, enough for COCO-style object names."""

from __future__ import annotations

import re

from .prefilter import word_set
from .vocab import IRREGULAR_PLURALS, NUMBER_WORDS

#: One word of a caption, as the counting rule reads it (digits count as words).
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_NOT_PLURAL = word_set("is was has its this his us bus gas plus less yes always across "
                       "perhaps grass glass dress class chess press boss moss cross")



def article(phrase: str) -> str:
    """``a``/``an`` before a singular phrase; nothing before a plural-looking one."""
    last = phrase.split()[-1].lower() if phrase.split() else ""
    if last.endswith("s") and not last.endswith("ss"):
        return phrase
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def singular(noun: str) -> str:
    """The singular of a plural noun, its case kept ("Boats" -> "Boat")."""
    low = noun.lower()
    if low in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[low]
    if low.endswith("ies") and len(low) > 4:
        return noun[:-3] + "y"
    if low.endswith(("ches", "shes", "xes", "sses")):
        return noun[:-2]
    return noun[:-1] if low.endswith("s") else noun


def is_plural(token: str) -> bool:
    """Whether a caption word looks like a plural noun ("boats", "mice"; not "glass")."""
    low = token.lower()
    if low in IRREGULAR_PLURALS:
        return True
    return len(low) > 3 and low.endswith("s") and not low.endswith("ss") and low not in _NOT_PLURAL


def number_value(token: str) -> int | None:
    """The number a word or a one- or two-digit numeral stands for; None if not a number."""
    low = token.lower()
    if low in NUMBER_WORDS:
        return NUMBER_WORDS[low]
    return int(low) if low.isdigit() and len(low) <= 2 else None


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
