"""The per-item schema of a concept caption: the caption rules, said as a JSON-schema pattern.

:func:`~instructgen.plugins.concepts.prompts.caption_schema` is one plain
schema (a string of bounded length). Per request, :func:`caption_pattern`
builds what only the item can tell, and :func:`item_schema` adds it with
:func:`instructgen.schema.narrow`:

* the caption names each concept as whole words, its first letter in either
  case, the last word singular or plural (a subset of what
  :func:`instructgen.text.mentions` accepts);
* it has at most ``max_words`` words, counted as :func:`instructgen.text.words`
  counts them (inner hyphens and apostrophes join a word);
* it is one sentence: no ``. ! ? ;`` before the end, which may be ``.`` or ``!``;
* no digits unless the rules allow them.

Constrained decoders (llguidance) have no lookaheads and no ``\\b``, so the
pattern is built from a word token ``W`` and a separator ``S`` whose runs
split text into the same words as :func:`~instructgen.text.words`, and the
word limit is a count of ``W``s around the concepts. The pattern is a little
stricter than the checks (no quotes or brackets inside a caption, ASCII
letters only, at most three words before the first of two concepts); opinion
words are left to the checks. Every rule is still checked after the answer
(:func:`~instructgen.plugins.concepts.captions.check_caption`), so backends
without constrained decoding reject the same answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from instructgen.backend import Completion
from instructgen.errors import InvalidOutput, Reject
from instructgen.schema import literal, narrow
from instructgen.text import plural_forms, words

#: Between two words inside a caption: a space, optionally after a comma, or a
#: spaced dash. Never ``. ! ? ;`` (one sentence), never a lone hyphen or
#: apostrophe (that joins two words into one).
SEPARATOR = "(?:,? | - )"
#: How a caption may end.
END = "[.!]?"


def word_token(allow_digits: bool) -> str:
    """One word as :func:`instructgen.text.words` reads it (digits only if allowed)."""
    ch = "[A-Za-z0-9]" if allow_digits else "[A-Za-z]"
    return f"{ch}+(?:['-]{ch}+)*"


def concept_regex(concept: str) -> tuple[str, int]:
    """The concept's words (the first letter in either case), the last one singular or
    plural; and its word count."""
    ws = [w.lower() for w in words(concept)]
    if not ws:
        raise ValueError(f"concept {concept!r} has no words")
    forms = sorted(plural_forms(ws[-1]))
    stem = forms[0]
    while not all(f.startswith(stem) for f in forms):
        stem = stem[:-1]
    ends = sorted({f[len(stem):] for f in forms}, key=lambda e: (-len(e), e))
    tail = literal(stem) + ("(?:" + "|".join(literal(e) for e in ends) + ")"
                            if ends != [""] else "")
    text = " ".join([*map(literal, ws[:-1]), tail])
    head = text[0]
    if head.isalpha():
        text = f"[{head.upper()}{head}]{text[1:]}"
    return text, len(ws)


#: Most words before the first of two concepts ("A small brown dog ...").
LEAD_WORDS = 3


def caption_pattern(concepts: Sequence[str], max_words: int, *,
                    allow_digits: bool = False) -> str | None:
    """An anchored pattern for a caption naming every concept within ``max_words`` words.

    One concept: ``a`` words, the concept, at most ``spare - a`` words, one
    alternative per ``a``, so the count is exact. Two concepts (either order):
    at most :data:`LEAD_WORDS` words before the first, and the rest of the
    spare words split between the gap and the end (the gap gets the larger
    half): every caption the pattern admits has at most ``max_words`` words,
    and an exact count over three gaps would take a pattern quadratic in the
    limit. ``None`` when the concepts alone need more than ``max_words`` words:
    no caption can pass, and the checks say why.
    """
    parts = [concept_regex(c) for c in concepts]
    spare = max_words - sum(n for _, n in parts)
    if spare < 0 or not parts or len(parts) > 2:
        return None
    w, s = word_token(allow_digits), SEPARATOR

    def lead(n: int) -> str:
        return f"(?:{w}{s}){{{n}}}" if n else ""

    def upto(n: int) -> str:
        return f"(?:{s}{w}){{0,{n}}}" if n else ""

    if len(parts) == 1:
        (c, _), = parts
        alts = [f"{lead(a)}{c}{upto(spare - a)}" for a in range(spare + 1)]
    else:
        alts = []
        for (c1, _), (c2, _) in (parts, parts[::-1]):
            for a in range(min(LEAD_WORDS, spare) + 1):
                tail = (spare - a) // 2
                gap = spare - a - tail
                alts.append(f"{lead(a)}{c1}{upto(gap)}{s}{c2}{upto(tail)}")
    return "^(?:" + "|".join(alts) + f"){END}$"


def item_schema(schema: dict[str, Any], concepts: Sequence[str], max_words: int, *,
                allow_digits: bool = False) -> dict[str, Any]:
    """``schema`` (a caption schema) with the caption pattern for ``concepts``."""
    pattern = caption_pattern(concepts, max_words, allow_digits=allow_digits)
    if pattern is None:
        return schema
    return narrow(schema, "caption", pattern=pattern)


_ATTEMPTS = re.compile(r" \(after \d+ attempts\)$")


def explain(rej: Reject, check: Callable[[Completion], str]) -> Reject:
    """The same rejection, named by the caption rule the last answer breaks.

    A backend without constrained decoding can return a caption the narrowed
    schema refuses; the runner's detail then quotes the pattern. ``check``
    (a caption validator) names the rule instead, as a plain-schema run would;
    an answer that passes every check but not the pattern says so.
    """
    if rej.reason != "invalid_output" or rej.raw is None:
        return rej
    try:
        value = json.loads(rej.raw)
    except json.JSONDecodeError:
        return rej
    if not isinstance(value, dict) or not isinstance(value.get("caption"), str):
        return rej
    tail = m.group(0) if (m := _ATTEMPTS.search(rej.detail)) else ""
    try:
        check(Completion(text=rej.raw, parsed=value))
    except InvalidOutput as exc:
        return Reject(rej.reason, f"{exc}{tail}", stage=rej.stage, raw=rej.raw)
    if "does not match" in rej.detail:
        return Reject(rej.reason, "caption outside the schema pattern (quotes, brackets, other "
                      "symbols, capitals inside a concept, or over 3 words before the first "
                      f"of two concepts){tail}", stage=rej.stage, raw=rej.raw)
    return rej
