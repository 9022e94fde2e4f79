"""Signs that a generated English text is not fluent: what a reader trips over first.

The edit and caption checks only tested form (a field is in the caption, a
word is in a list), so a small model under a grammar wrote text that passed
every check and that no one would keep: "A crazy guy. A crazy guy.",
"pizzaServed", "... cutting it into to a". Each sign here is a pure function
of the text that returns a short problem, or ``None``, under a stable reason
name (:data:`SIGNS`); generators turn a problem into a named rejection.

Words are checked against an English word list: the frequency dictionary
that ships inside the ``pyspellchecker`` package (extra ``sense``, about
160,000 words, read offline from the installed package), plus the project's
own edit vocabularies and whatever words the caller says are known (the
input caption, a concept). Without that package the two dictionary signs
(``glued_word``'s split rule and ``non_word``) find nothing and
:func:`dictionary_available` says so; the other signs need no word list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from functools import lru_cache

from instructgen.text import words


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``, as a set (keeps long lists readable)."""
    return frozenset(text.split())


#: Reason names, stable: rejection reasons and benchmark columns use them.
REPEATED_NGRAM = "repeated_ngram"
REPEATED_PHRASE = "repeated_phrase"
NON_ASCII = "non_ascii"
GLUED_WORD = "glued_word"
NON_WORD = "non_word"
DANGLING_WORD = "dangling_word"
SEVERAL_SENTENCES = "several_sentences"
OUTPUT_TOO_LONG = "output_too_long"
SELF_MODIFIER = "self_modifier"

#: Words that carry no content, and the nouns of place phrases: a repeated n-gram
#: made only of them ("in front of", "on top of") is English, not a loop.
FUNCTION_WORDS = word_set("""
a an the and or but nor of in on at to into onto by for from with without over under
near next beside behind above below between through across along around against up down
off out about as than then while its it his her their them they he she we you i my our
your this that these those there here is are was were be been being has have had do does
some any each every all both no not very so too also just front top side middle
inside outside
""")

#: Words an English sentence does not end on: a text ending on one was cut off
#: ("... cutting it into to a"). Particles that can end a sentence ("turn the
#: lights on", "a dog lying down") are left out.
_NO_ENDING = word_set("""
a an the and or but nor of to into onto with from for at than as its their his her my
our your whose is are was were be being has have had very
""")
#: Abbreviations whose full stop does not end a sentence.
_ABBREVIATIONS = word_set("mr mrs ms dr st jr sr vs etc no mt ave u.s u.k e.g i.e")
_SENTENCE_END = re.compile(r"([A-Za-z.]+)?([.!?;])\s+(?=\S)")
_CAMEL = re.compile(r"[a-z]{2,}[A-Z][a-z]+")
#: Everyday words the packaged list lacks; captions of photos use them.
_EXTRA_WORDS = word_set("""
cafe selfie smartphone countertop skatepark wetsuit tv ok okay bbq jetski kickflip
""")
#: Suffixes tried when a word is not in the list as written ("frisbees" → "frisbee").
_SUFFIXES = ("'s", "’s", "s", "es", "ed", "d", "ing", "ly", "er", "est", "ies", "ied")
#: A word split into two list words is glued only when both halves are common
#: words (pyspellchecker's count) of at least this many letters; rarer halves split
#: real compounds ("countertop" → "counter" + "top" is common, but is in the list).
_GLUE_MIN_COUNT = 1000
_GLUE_MIN_LETTERS = 3


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, int] | None:
    try:
        from spellchecker import SpellChecker
    except ImportError:
        return None
    return dict(SpellChecker(language="en", distance=1).word_frequency.dictionary)


@lru_cache(maxsize=1)
def _project_words() -> frozenset[str]:
    from instructgen.plugins.edits.vocab import (
        COLOURS,
        MATERIALS,
        PEOPLE,
        TEXTURES,
        TONE_STATES,
    )

    found: set[str] = set()
    for entry in (*COLOURS, *MATERIALS, *TEXTURES, *TONE_STATES, *PEOPLE):
        found.update(w.lower() for w in re.split(r"[\s-]+", entry) if w)
    return frozenset(found | _EXTRA_WORDS)


def dictionary_available() -> bool:
    """Whether the English word list (package ``pyspellchecker``) is installed."""
    return _dictionary() is not None


def word_forms(word: str) -> Iterable[str]:
    """``word`` and the stems it may be an inflection of ("frisbees" → "frisbee")."""
    yield word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            yield stem
            if suffix in ("ies", "ied"):
                yield stem + "y"
            if suffix in ("ed", "ing", "er", "est"):
                yield stem + "e"
                if len(stem) > 2 and stem[-1] == stem[-2]:  # "running" → "run"
                    yield stem[:-1]
    if "our" in word:  # British spelling: "colour" → "color"
        yield word.replace("our", "or")
    if "ise" in word:  # "recognise" → "recognize"
        yield word.replace("ise", "ize")


def is_word(word: str, known: Collection[str] = ()) -> bool:
    """``word`` (one token, no spaces) is English, or one of ``known``, in some inflection.

    Without the word list every word counts as English.
    """
    lexicon = _dictionary()
    if lexicon is None:
        return True
    w = word.lower()
    if not w.isalpha():
        return True  # digits, apostrophes left over: not for a word list to judge
    project = _project_words()
    return any(f in lexicon or f in known or f in project for f in word_forms(w))


def content_words(text: str) -> list[str]:
    """The lower-case words of ``text`` that are not function words."""
    return [w for w in _tokens(text) if w not in FUNCTION_WORDS]


def _known_set(known: Iterable[str]) -> frozenset[str]:
    return frozenset(w.lower() for text in known for w in re.split(r"[^\w'’]+", text) if w)


def _tokens(text: str) -> list[str]:
    return [w.lower() for w in words(text)]


# -- the signs ------------------------------------------------------------------------


def repeated_ngram(text: str, n: int = 3) -> str | None:
    """An n-gram (3 words by default) that occurs twice and is not only function words."""
    ws = _tokens(text)
    seen: set[tuple[str, ...]] = set()
    for i in range(len(ws) - n + 1):
        gram = tuple(ws[i : i + n])
        if gram in seen and not all(w in FUNCTION_WORDS for w in gram):
            return f"{' '.join(gram)!r} occurs twice"
        seen.add(gram)
    return None


def repeated_phrase(text: str, longest: int = 4) -> str | None:
    """A word or phrase said twice in a row ("wooden wooden", "a cup, a bowl, a cup, a bowl").

    Punctuation is ignored, so a list that comes round again counts too. A
    repeated function word alone ("that that") is left to the other signs.
    """
    ws = _tokens(text)
    for size in range(1, longest + 1):
        for i in range(len(ws) - 2 * size + 1):
            first, second = ws[i : i + size], ws[i + size : i + 2 * size]
            if first == second and not all(w in FUNCTION_WORDS for w in first):
                return f"{' '.join(first)!r} twice in a row"
    return None


def non_ascii(text: str, allowed: str = "") -> str | None:
    """A letter outside ASCII ("уrow" with a Cyrillic у) that ``allowed`` does not have.

    Punctuation (curly quotes, dashes) is not a letter; ``allowed`` is the text
    the output may copy from (an input caption that says "café").
    """
    for ch in text:
        if ch.isalpha() and not ch.isascii() and ch not in allowed:
            return f"non-ASCII letter {ch!r} (U+{ord(ch):04X})"
    return None


def _split_glued(word: str) -> tuple[str, str] | None:
    lexicon = _dictionary()
    if lexicon is None:
        return None
    for cut in range(_GLUE_MIN_LETTERS, len(word) - _GLUE_MIN_LETTERS + 1):
        left, right = word[:cut], word[cut:]
        if (lexicon.get(left, 0) >= _GLUE_MIN_COUNT
                and any(lexicon.get(f, 0) >= _GLUE_MIN_COUNT for f in word_forms(right))):
            return left, right
    return None


def glued_word(text: str, known: Iterable[str] = ()) -> str | None:
    """Two words written as one: a camelCase join ("pizzaServed"), or a word not in the
    list that splits into two common list words ("horsesong" → "horse" + "song").

    ``known``: texts whose words are accepted as written (the input caption, a concept).
    """
    ok = _known_set(known)
    for token in re.findall(r"[^\W\d_]+", text):
        if token.lower() in ok:
            continue
        if _CAMEL.fullmatch(token) or (_CAMEL.search(token) and not token[0].isupper()):
            return f"{token!r} joins words in camelCase"
        low = token.lower()
        if len(low) < 2 * _GLUE_MIN_LETTERS or is_word(low, ok):
            continue
        split = _split_glued(low)
        if split is not None:
            return f"{token!r} looks like {split[0]!r} and {split[1]!r} written as one word"
    return None


def non_word(text: str, known: Iterable[str] = ()) -> str | None:
    """A lower-case word that is not English in any inflection ("rrow", "moonwalked").

    Capitalised words after the first are taken as names and not judged.
    Words of ``known`` texts are accepted.
    """
    ok = _known_set(known)
    for i, token in enumerate(words(text)):
        for part in token.split("-"):
            if not part or (i > 0 and part[0].isupper()) or not part.isalpha():
                continue
            if len(part) > 1 and not is_word(part, ok):
                return f"{part!r} is not an English word"
    return None


def dangling_word(text: str) -> str | None:
    """The text ends on a word no sentence ends on ("... into to a"): it was cut off."""
    ws = _tokens(text)
    if ws and ws[-1] in _NO_ENDING:
        return f"ends on {ws[-1]!r}"
    return None


def several_sentences(text: str) -> str | None:
    """More than one sentence (a full stop, ! ? or ; followed by more text, or a line break).

    Abbreviations ("Mr.", "St.") and initials ("U.S.") do not end a sentence.
    """
    if "\n" in text.strip():
        return "more than one line"
    for m in _SENTENCE_END.finditer(text):
        before = (m.group(1) or "").lower().rstrip(".")
        if m.group(2) == "." and (before in _ABBREVIATIONS or len(before) == 1
                                  or "." in before):
            continue
        return "more than one sentence"
    return None


def output_too_long(source: str, output: str, ratio: float = 1.5, slack: int = 6) -> str | None:
    """``output`` has more than ``ratio`` times the words of ``source`` plus ``slack``.

    An edit changes one thing, so the caption after it is about as long as the
    one before: an add brings a short phrase, never a second description.
    """
    n_in, n_out = len(words(source)), len(words(output))
    bound = int(n_in * ratio) + slack
    if n_out > bound:
        return f"{n_out} words from {n_in} (at most {bound})"
    return None


def _modifier_forms(head: str) -> set[str]:
    """Adjectives made from a noun ("wood" → "wooden", "woody", "wood-like")."""
    forms = {head, head + "y", head + "en", head + "ish", head + "-like", head + "-shaped",
             head + "like", head + "-style"}
    if head.endswith("e"):
        forms |= {head[:-1] + "y", head[:-1] + "en"}
    return forms


def self_modifier(text: str, concept: str) -> str | None:
    """The concept describes itself: "a hipflask hipflask", "a wooden wood", "a pie-shaped pie".

    The word just before an occurrence of the concept's head noun is a form of
    that head noun (the noun, or an adjective made from it).
    """
    cws = _tokens(concept)
    if not cws:
        return None
    head = cws[-1]
    heads = {head, head + "s", head + "es"}
    forms = _modifier_forms(head)
    ws = [t.lower() for t in re.findall(r"[\w'’-]+", text)]
    for i in range(1, len(ws)):
        if ws[i] in heads and ws[i - 1] in forms:
            return f"{concept!r} modifies itself ({ws[i - 1]} {ws[i]})"
    return None


#: The signs of one text, by reason name, as ``f(text, known) -> problem | None``.
#: ``output_too_long`` and ``self_modifier`` compare with a second text and are not here.
SIGNS: dict[str, Callable[[str, Iterable[str]], str | None]] = {
    REPEATED_NGRAM: lambda text, known: repeated_ngram(text),
    REPEATED_PHRASE: lambda text, known: repeated_phrase(text),
    NON_ASCII: lambda text, known: non_ascii(text, "".join(known)),
    GLUED_WORD: glued_word,
    NON_WORD: non_word,
    DANGLING_WORD: lambda text, known: dangling_word(text),
    SEVERAL_SENTENCES: lambda text, known: several_sentences(text),
}
#: Every reason name this module can give.
REASONS: tuple[str, ...] = (*SIGNS, OUTPUT_TOO_LONG, SELF_MODIFIER)


def fluency_problem(text: str, known: Iterable[str] = (),
                    skip: Collection[str] = ()) -> tuple[str, str] | None:
    """The first sign ``text`` shows, as ``(reason, problem)``, or ``None``.

    ``known``: texts whose words (and letters) the text may reuse as written;
    ``skip``: reason names not to test.
    """
    known = tuple(known)
    for reason, sign in SIGNS.items():
        if reason in skip:
            continue
        problem = sign(text, known)
        if problem is not None:
            return reason, problem
    return None
