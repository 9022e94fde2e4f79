"""The content checks of one quadruple: fields, lengths, keywords, and the implicit rule."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from instructgen.errors import Reject
from instructgen.plugins.sense import SELF_MODIFIER, fluency_problem, self_modifier
from instructgen.schema import narrow
from instructgen.text import dedup_key, mentions, normalize, word_count, words

from . import prompts

_KEYWORD_SPLIT = re.compile(r"\s*(?:[,;/|\n]|\band\b|&)\s*", re.IGNORECASE)
_ARTICLES = {"a", "an", "the", "some"}

#: Words that open a question.
QUESTION_OPENERS = frozenset({
    "what", "how", "why", "where", "when", "which", "who", "whose", "will", "would",
    "could", "can", "does", "do", "did", "is", "are", "was", "were", "should", "might",
})
#: Words that, anywhere in the instruction, state a cause or a condition.
CAUSE_WORDS = frozenset({
    "if", "when", "after", "once", "because", "since", "until", "suppose", "imagine",
    "following",
})
#: Verbs that say something happens: "A car accident occurs." (a reference seed) is an
#: implicit instruction, where "The glass lies in a puddle." only describes a state.
EVENT_VERBS = frozenset({
    "occurs", "occur", "happens", "happen", "falls", "fall", "breaks", "break", "collapses",
    "explodes", "erupts", "bursts", "crashes", "strikes", "hits", "melts", "freezes",
    "spills", "catches", "floods", "tips", "drops", "shatters", "topples", "ignites",
    "capsizes", "arrives", "starts", "begins", "passes", "reaches", "blows", "grows",
})
#: Imperative edit verbs: an instruction opening with one says what to change, explicitly.
EDIT_VERBS = frozenset({
    "make", "change", "turn", "replace", "add", "remove", "put", "paint", "color", "colour",
    "convert", "transform", "swap", "edit", "give", "let", "draw", "insert", "delete",
    "erase", "move", "place", "alter", "modify", "render", "show", "depict", "apply",
})


def split_keywords(value: str | Sequence[str]) -> list[str]:
    """Keywords as a list: split on commas, semicolons, slashes and "and".

    Leading articles are dropped; a singular/plural repeat is dropped too.
    """
    parts = _KEYWORD_SPLIT.split(value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        ws = [w.lower() for w in words(normalize(part))]
        while ws and ws[0] in _ARTICLES:
            ws = ws[1:]
        keyword = " ".join(ws)
        if keyword and not any(_same_keyword(keyword, k) for k in out):
            out.append(keyword)
    return out


def _same_keyword(a: str, b: str) -> bool:
    """"shoe" and "shoes" are one keyword; "ice" and "ice cream" are two."""
    return len(a.split()) == len(b.split()) and mentions(b, a)


def instruction_style(
    text: str,
) -> Literal["question", "cause", "event", "explicit", "statement"]:
    """Classify an instruction; ``question``, ``cause`` and ``event`` count as implicit.

    The rule: "Let ...?" is a ``question`` (a what-if, as in the reference's
    seeds); an instruction opening with an edit verb is ``explicit``; else one
    ending in "?" or opening with a question word is a ``question``; else one
    holding a cause word (if, when, after, once, because, since, until, suppose,
    imagine, following) is a ``cause``; else one with an event verb ("a car
    accident occurs", "the vase falls") is an ``event``; anything else is a
    ``statement``.
    """
    ws = [w.lower() for w in words(text)]
    if not ws:
        return "statement"
    if ws[0] == "let" and text.rstrip().endswith("?"):
        return "question"  # "Let the bullet reach the apple?": a what-if, as in the seeds
    if ws[0] in EDIT_VERBS:
        return "explicit"
    if text.rstrip().endswith("?") or ws[0] in QUESTION_OPENERS:
        return "question"
    if CAUSE_WORDS.intersection(ws):
        return "cause"
    if EVENT_VERBS.intersection(ws):
        return "event"
    return "statement"


@attrs.frozen
class QuadrupleRules:
    """The content checks of one quadruple; see :func:`check_quadruple`."""

    max_words: int = 20
    max_instruction_words: int = 25
    max_keywords: int = 5
    keyword_max_words: int = 2
    allow_statements: bool = False


def check_quadruple(raw: Mapping[str, Any], rules: QuadrupleRules) -> dict[str, Any]:
    """A clean quadruple, or :class:`Reject` with the first rule it breaks."""
    quad: dict[str, Any] = {}
    for name in ("original_caption", "instruction", "target_caption"):
        value = raw.get(name)
        quad[name] = normalize(value) if isinstance(value, str) else ""
        if not quad[name]:
            raise Reject("empty_field", f"{name} is empty")
    keywords = raw.get("keywords", "")
    if isinstance(keywords, list):
        keywords = [k for k in keywords if isinstance(k, str)]
    quad["keywords"] = split_keywords(keywords) if isinstance(keywords, (str, list)) else []
    if not quad["keywords"]:
        raise Reject("empty_field", "keywords is empty")
    caps = {"original_caption": rules.max_words, "target_caption": rules.max_words,
            "instruction": rules.max_instruction_words, "keywords": 3 * rules.max_keywords}
    for name, limit in caps.items():
        value = raw.get(name)
        if isinstance(value, str) and len(value) >= prompts.char_limit(limit):
            raise Reject("truncated", f"{name} was cut at the schema's length cap")
    for name in ("original_caption", "target_caption"):
        n = word_count(quad[name])
        if n > rules.max_words:
            raise Reject("too_long", f"{name} has {n} words (max_words {rules.max_words})")
    n = word_count(quad["instruction"])
    if n > rules.max_instruction_words:
        raise Reject("too_long", f"instruction has {n} words "
                                 f"(max_instruction_words {rules.max_instruction_words})")
    if dedup_key(quad["target_caption"]) == dedup_key(quad["original_caption"]):
        raise Reject("target_same_as_original", "target_caption repeats original_caption")
    long = [k for k in quad["keywords"] if len(k.split()) > rules.keyword_max_words]
    if long:
        raise Reject("bad_keywords", f"not single words or short nouns: {long!r} "
                                     f"(keyword_max_words {rules.keyword_max_words})")
    if len(quad["keywords"]) > rules.max_keywords:
        raise Reject("bad_keywords", f"{len(quad['keywords'])} keywords "
                                     f"(max_keywords {rules.max_keywords})")
    style = instruction_style(quad["instruction"])
    if style == "explicit":
        raise Reject("explicit_instruction", "instruction opens with an edit verb: "
                                             f"{quad['instruction']!r}")
    if style == "statement" and not rules.allow_statements:
        raise Reject("not_implicit", "instruction is neither a question nor a cause: "
                                     f"{quad['instruction']!r}")
    found = sense_problem(quad)
    if found is not None:
        raise Reject(*found)
    return quad


def sense_problem(quad: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first sense problem of a quadruple's texts, as ``(reason, detail)``, or ``None``.

    Captions get every fluency sign of :mod:`instructgen.plugins.sense` and the
    keyword-modifies-itself check ("a glass glass"); the instruction may hold
    two sentences ("The glass falls. What is left?"), so it gets the others.
    Every field is the model's, so no text vouches for another one's words.
    """
    keywords = list(quad["keywords"])
    for name in ("original_caption", "target_caption", "instruction"):
        skip = ("several_sentences",) if name == "instruction" else ()
        found = fluency_problem(quad[name], skip=skip)
        if found is None and name != "instruction":
            problems = (self_modifier(quad[name], k) for k in keywords)
            found = next(((SELF_MODIFIER, p) for p in problems if p is not None), None)
        if found is not None:
            return found[0], f"{name}: {found[1]}"
    return None


# -- the same rules as JSON-schema patterns (``constrain = true``) ----------------------------

#: One word as :func:`instructgen.text.words` reads it (inner hyphens and apostrophes join).
_W = "[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*"
#: Between two words of a caption: a space, maybe after a comma, or a spaced dash.
_S = "(?:[,;:]? | - )"
#: An instruction may hold two sentences ("The glass falls. What is left?").
_S_INSTRUCTION = "(?:[,;:.?!]? | - )"
#: Words an implicit instruction may open with: a question word or a cause word, so
#: it is never ``explicit`` and never a plain ``statement``.
OPENERS = tuple(sorted(QUESTION_OPENERS | CAUSE_WORDS))


def not_words(banned: Sequence[str]) -> str:
    """A lower-case word ``[a-z]+`` that is none of ``banned`` (no lookaheads needed).

    Built from the banned words' trie: at each node, stop (when the prefix is
    not banned), take a letter no banned word continues with (then anything),
    or follow a branch.
    """
    trie: dict[str, Any] = {}
    for word in banned:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def walk(node: dict[str, Any], prefix: str) -> str:
        alts = []
        free = "".join(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in node)
        if free:
            alts.append(f"[{free}][a-z]*")
        alts += [c + walk(child, prefix + c) for c, child in sorted(node.items()) if c]
        if prefix and "" not in node:
            alts.append("")
        return "(?:" + "|".join(alts) + ")"

    return walk(trie, "")


def _words_upto(n: int, sep: str = _S) -> str:
    return f"{_W}(?:{sep}{_W}){{0,{n - 1}}}" if n > 1 else _W


def field_patterns(rules: QuadrupleRules) -> dict[str, str]:
    """Anchored patterns that every quadruple :func:`check_quadruple` accepts can be held to.

    Captions: 1 to ``max_words`` words, one sentence. Instruction: opens with a
    question or cause word (either case of its first letter), at most
    ``max_instruction_words`` words. Keywords: 1 to ``max_keywords`` lower-case
    keywords of at most ``keyword_max_words`` words, the last no article and
    not "and" (so none splits away to nothing), joined by ", ". Stricter
    than the checks (ASCII words only, no quotes or brackets; instructions
    that only describe an event, "A car accident occurs.", are left out).
    """
    openers = "|".join(f"[{w[0].upper()}{w[0]}]{w[1:]}" for w in OPENERS)
    rest = rules.max_instruction_words - 1
    instruction = f"(?:{openers})" + (f"(?:{_S_INSTRUCTION}{_W}){{0,{rest}}}" if rest else "")
    # The last word is no article and not "and", so no keyword splits away to nothing.
    head = f"(?:[a-z]+ ){{0,{rules.keyword_max_words - 1}}}" if rules.keyword_max_words > 1 else ""
    keyword = head + not_words([*_ARTICLES, "and"])
    keywords = keyword + (f"(?:, {keyword}){{0,{rules.max_keywords - 1}}}"
                          if rules.max_keywords > 1 else "")
    caption = f"^{_words_upto(rules.max_words)}[.!]?$"
    return {"original_caption": caption, "instruction": f"^{instruction}[.?!]?$",
            "target_caption": caption, "keywords": f"^{keywords}$"}


def constrained_schema(schema: Mapping[str, Any], rules: QuadrupleRules) -> dict[str, Any]:
    """The answer schema (an array of quadruples) with :func:`field_patterns` on each field.

    Every length cap drops by one character: a string that reaches the cap is
    rejected as ``truncated``, so a constrained answer must stop short of it.
    """
    item = dict(schema["items"])
    for name, pattern in field_patterns(rules).items():
        cap = item["properties"][name].get("maxLength")
        item = narrow(item, name, pattern=pattern,
                      max_length=cap - 1 if isinstance(cap, int) else None)
    return {**schema, "items": item}
