"""The output caption: the input with exactly one change, written by rule.

One function per kind of change. Each takes the caption and what the model
chose, and returns the new caption, or ``None`` when the change cannot be
written cleanly (an object that is the caption's subject cannot be removed,
an object without a verb after it has no action to change). ``None`` makes
the composer refuse the choice instead of writing a broken sentence.
"""

from __future__ import annotations

import re

from ..nouns import plural
from ..prefilter import _ING_NOUNS, _VERBS, word_set
from .caption import DETERMINERS, MODIFIERS, Words
from .lexicon import TONE_WORDS
from .objects import Found

#: Words that join an object to the rest of the caption and go with it when it is removed.
#: Not "on", "atop", "inside" or "against": the object holds something up ("a cat on a
#: chair"), and removing it leaves the rest floating.
CONNECTORS: tuple[tuple[str, ...], ...] = (
    ("in", "front", "of"), ("next", "to"), ("close", "to"), ("with",), ("and",), ("near",),
    ("by",), ("beside",), ("under",), ("behind",), ("above",), ("below",), ("underneath",),
)
#: Words after which a phrase has ended (a preposition, a conjunction, a clause word).
BREAKS = word_set("""with and or on in at near by beside under behind atop above below against
    inside underneath along next to from down up across past through into onto over around as
    while for during beneath toward towards outside""")
#: Nouns of places: a caption's setting, which background_change swaps out.
PLACES = word_set("""street road sidewalk field beach harbor harbour park room kitchen city town
    yard garden forest mountain hill desert shore lake river ocean sea court track highway
    meadow pasture station airport market square alley lot parking bathroom bedroom office
    restaurant store shop classroom stadium farm village countryside traffic""")
#: Participles whose verb ends in a silent "e" that "-ing" dropped.
_SILENT_E = word_set("dancing waving hiding riding sliding skating diving")
_ATTACHING = word_set("cut made filled topped dressed full")
_CLAUSES = word_set("while as and or but")
_PATHS = word_set("down up across past through into onto along toward towards from around over")
_SETTING_PREPS = word_set("in on at by near beside behind under inside along across through "
                          "over against")
_PLACE_PREPS = word_set("in on at near by along down across through over beside under inside "
                        "to")
_TONE_PREPS = word_set("at in during on under")
_TONE_TAILS = word_set("day time light sky weather era times season")


def _end_sentence(caption: str, phrase: str) -> str:
    """``phrase`` put at the end of the caption, before its final period if it has one."""
    body = caption.rstrip()
    stop = body[-1] if body and body[-1] in ".!" else ""
    body = body[:-1].rstrip() if stop else body
    return f"{body} {phrase}{stop}"


def substitute(caption: str, found: Found, new: str) -> str:
    """``found`` replaced by ``new`` (made plural when ``found`` is), its article fixed."""
    w = Words.of(caption)
    return w.splice(found.start, found.end, plural(new) if found.plural else new).text()


def put_before_noun(caption: str, found: Found, word: str, same_kind: frozenset[str],
                    later: frozenset[str] = frozenset()) -> str:
    """``word`` put before ``found`` ("a blue car"), replacing a modifier of the same kind
    already there ("a red car" -> "a blue car"), and before modifiers that English puts
    after it (``later``: a colour goes before a material, "a blue wooden chair")."""
    w = Words.of(caption)
    start = w.phrase_start(found.start)
    for k in range(start, found.start):
        if w.core(k) in same_kind:
            return w.splice(k, k + 1, word).text()
    at = next((k for k in range(start, found.start) if w.core(k) in later), found.start)
    return w.splice(at, at, word).text()


def held(caption: str, found: Found) -> bool:
    """Whether a verb acts on ``found`` ("holding an umbrella", "reading a book"): nothing
    is put beside a thing someone holds or rides."""
    w = Words.of(caption)
    k = w.phrase_start(found.start)
    return k > 0 and not w.closed(k - 1) and (_participle(w.core(k - 1))
                                             or _present(w.core(k - 1)))


def modifiable(caption: str, found: Found) -> bool:
    """Whether a word can go before ``found``: its phrase starts the caption or follows a
    preposition or a verb, so no unseen noun sits before it ("living room sofa")."""
    w = Words.of(caption)
    k = w.phrase_start(found.start)
    if k == 0 or w.closed(k - 1):
        return True
    before = w.core(k - 1)
    return before in BREAKS or before == "of" or _participle(before) or before.endswith("ed")


def describe(caption: str, found: Found, look: str) -> str:
    """``look`` put first after the phrase's article or number ("a dusty brown car")."""
    w = Words.of(caption)
    k = w.phrase_start(found.start)
    while k < found.start and w.core(k) in DETERMINERS:
        k += 1
    if look in {w.core(i) for i in range(k, found.start)}:
        return w.text()  # already so: the composer sees an unchanged output
    return w.splice(k, k, look).text()


def delete(caption: str, found: Found) -> str | None:
    """The caption without ``found``, its article, adjectives and the word that joins it
    ("with a hat", "and a dog", "next to a pillow"); ``None`` when removing it would
    break the sentence (the subject, an object something else describes)."""
    w = Words.of(caption)
    start, end = w.phrase_start(found.start), found.end
    if start == 0:
        return None
    if end < len(w) and not w.closed(end - 1) and w.core(end) not in BREAKS:
        return None  # "a dog sleeping on it", "a vase of flowers": the rest leans on it
    for conn in CONNECTORS:
        k = start - len(conn)
        if k < 1 or any(w.closed(i) for i in range(k, start)):
            continue
        if tuple(w.core(i) for i in range(k, start)) != conn:
            continue
        if conn == ("with",) and end < len(w) and not w.closed(end - 1) and w.core(end) == "and":
            return w.splice(start, end + 1, "").text()  # "with a cup and a plate" -> "with a plate"
        if conn == ("with",) and w.parts(k - 1)[2].startswith(","):
            return _drop_clause(w, k)  # ", with a bird beside the kite": the whole clause
        return w.splice(k, end, "").text()
    return None


def _drop_clause(w: Words, k: int) -> str:
    """The caption without the comma clause that starts at word ``k`` (up to the next
    punctuation or the end); the clause's closing mark goes to the word before it."""
    e = k
    while e < len(w) - 1 and not w.closed(e):
        e += 1
    lead, word, tail = w.parts(k - 1)
    toks = list(w.toks)
    toks[k - 1] = lead + word + tail.replace(",", "", 1) + w.parts(e)[2].lstrip(",")
    del toks[k:e + 1]
    return Words(tuple(toks)).text()


def add_object(caption: str, new: str, relation: str, anchor: Found) -> str:
    """The caption with "with a <new> <relation> the <anchor>" appended."""
    return _end_sentence(caption, f"with {_a(new)} {relation} the {anchor.phrase}").replace(
        f" with {_a(new)}", f", with {_a(new)}", 1)


def _a(noun: str) -> str:
    from .caption import with_article

    return with_article(noun)


def verb_after(caption: str, found: Found) -> tuple[int, int] | None:
    """The span of the action right after ``found`` ("riding a bicycle" up to "down"), or
    ``None`` when no present participle follows it or a clause that leans on it does
    ("holding an umbrella while walking")."""
    w = Words.of(caption)
    if w.closed(found.end - 1):
        return None
    k = found.end
    if k < len(w) and w.core(k) in ("is", "are") and not w.closed(k):
        k += 1
    if k >= len(w) or not (_participle(w.core(k)) or _present(w.core(k))):
        return None
    j = k + 1
    while j < len(w) and not w.closed(j - 1) and w.core(j) not in BREAKS:
        j += 1
    if j < len(w) and not w.closed(j - 1) and w.core(j) in _CLAUSES:
        return None
    return k, j


def moving(caption: str, span: tuple[int, int]) -> bool:
    """Whether the words after an action say where it goes ("down a street"): then only a
    movement reads well in its place."""
    w = Words.of(caption)
    j = span[1]
    return j < len(w) and not w.closed(j - 1) and w.core(j) in _PATHS


def _attached(word: str) -> bool:
    """Whether a preposition after ``word`` belongs to it ("covered in", "cut in half")."""
    return word.endswith("ed") or word in _ATTACHING


def _participle(word: str) -> bool:
    return len(word) > 4 and word.endswith("ing") and word not in _ING_NOUNS


def _present(word: str) -> bool:
    """A verb in the present tense after its subject ("a cyclist rides past ...")."""
    return word in _VERBS and word.endswith("s") and not word.endswith("ss")


def present_tense(action: str) -> str:
    """"walking" -> "walks", "lying down" -> "lies down": an action after a subject that
    takes the present tense."""
    verb, _, rest = action.partition(" ")
    stem = verb[:-3]
    if verb == "lying":
        stem = "lie"
    elif len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "ls":
        stem = stem[:-1]  # running -> run, clapping -> clap
    elif stem.endswith(("c", "v", "z")) or verb in _SILENT_E:
        stem += "e"  # dancing -> dance, waving -> wave
    ending = "es" if stem.endswith(("ch", "sh", "s", "x")) else "s"
    return " ".join(p for p in (stem + ending, rest) if p)


def change_action(caption: str, found: Found, action: str) -> str | None:
    """The caption with the action after ``found`` replaced by ``action``."""
    span = verb_after(caption, found)
    if span is None:
        return None
    w = Words.of(caption)
    if _present(w.core(span[0])):
        action = present_tense(action)
    return w.splice(span[0], span[1], action).text()


def set_background(caption: str, phrase: str) -> str:
    """The caption's last place phrase ("in a grassy field") replaced by ``phrase``; without
    one, everything from the first preposition on ("on a couch next to a pillow"), so that
    no old place stays beside the new one; without a preposition, ``phrase`` appended."""
    w = Words.of(caption)
    best: tuple[int, int, bool] | None = None
    for p in range(1, len(w) - 1):
        prep = w.core(p) in _PLACE_PREPS
        if not (prep or _participle(w.core(p))) or w.closed(p):
            continue
        q = p + 1
        while q < len(w) - 1 and not w.closed(q) and w.core(q + 1) not in BREAKS:
            q += 1
        if w.core(q) in PLACES or w.core(q).rstrip("s") in PLACES:
            best = (p, q + 1, prep)
    if best is None:  # no known place: the setting is what follows the first preposition
        first = next((p for p in range(1, len(w) - 1)  # not "covered in", "cut in half"
                      if w.core(p) in _SETTING_PREPS and not w.closed(p)
                      and not _attached(w.core(p - 1))), None)
        if first is None:
            return _end_sentence(caption, phrase)
        best = (first, len(w), True)
    p, end, prep = best
    if w.core(p) == "to" and w.core(p - 1) == "next":  # "next to a road": both words go
        p -= 1
    if prep:
        return w.splice(p, end, phrase).text()
    return w.splice(p + 1, end, phrase.split(" ", 1)[1]).text()  # "crossing a sandy beach"


def set_tone(caption: str, phrase: str) -> str:
    """The caption's own time/weather/season phrase ("at sunset") dropped, ``phrase`` appended."""
    w = Words.of(caption)
    for p in range(1, len(w) - 1):
        if w.core(p) not in _TONE_PREPS or w.closed(p):
            continue
        q = p + 1
        while q < len(w) - 1 and not w.closed(q) and w.core(q) in MODIFIERS | DETERMINERS:
            q += 1
        if w.core(q) not in TONE_WORDS:
            continue
        end = q + 1
        if end < len(w) and not w.closed(q) and w.core(end) in _TONE_TAILS:
            end += 1
        if end == len(w):  # only the closing phrase: "covered in snow next to a road" stays
            w = w.splice(p, end, "")
        break
    return _end_sentence(w.text(), phrase)


_QUOTED = '["“]{}["”]'


def change_text(caption: str, before: str, after: str) -> str | None:
    """The caption with the quoted ``before`` now reading ``after`` (its quote marks kept)."""
    pattern = re.compile(_QUOTED.format(re.escape(before)))
    m = pattern.search(caption)
    if m is None:
        return None
    quoted = m.group(0)
    return caption[:m.start()] + quoted[0] + after + quoted[-1] + caption[m.end():]
