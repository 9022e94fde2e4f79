"""Consistency checks for LLM-written edits, all on word boundaries.

Each constructor returns a :class:`~instructgen.plugins.edits.types.Check`
whose ``run(caption, result)`` gives the reason it fails, or ``None``.
Object phrases are matched whole first, then by their head noun (the last
word), so "the small red car" counts as present in "a red car parked".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from instructgen.text import contains_any_word, dedup_key, mentions, word_count, words

from .types import Check, Constraint

_ARTICLES = {"a", "an", "the", "some", "its", "their", "his", "her", "this", "that"}
QUOTED = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")


def object_phrase(phrase: str) -> str:
    """``phrase`` without leading articles and possessives ("the red car" → "red car")."""
    ws = words(phrase)
    while ws and ws[0].lower() in _ARTICLES:
        ws = ws[1:]
    return " ".join(ws)


def has_object(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text``: whole, or at least its head noun, as whole words."""
    core = object_phrase(phrase)
    if not core:
        return False
    if mentions(text, core):
        return True
    head = words(core)[-1]
    return mentions(text, head)


def quoted_texts(text: str) -> list[str]:
    """Texts in double quotes (straight or curly)."""
    return [t.strip() for t in QUOTED.findall(text) if t.strip()]


def output_differs() -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if dedup_key(result["output"]) == dedup_key(caption):
            return "the output caption is the input caption"
        return None

    return Check("output_unchanged", run)


def in_input(field: str) -> Check:
    """The edited thing must be in the caption before the edit."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if not has_object(caption, result[field]):
            return f"{field} {result[field]!r} does not occur in the input caption"
        return None

    return Check(f"{field}_not_in_input", run, Constraint(field, "in_input"))


def in_output(field: str) -> Check:
    """The new thing must be in the caption after the edit."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if not has_object(result["output"], result[field]):
            return f"{field} {result[field]!r} does not occur in the output caption"
        return None

    return Check(f"{field}_not_in_output", run)


def gone_from_output(field: str) -> Check:
    """A removed object must not be named in the caption after the edit."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        core = object_phrase(result[field])
        if core and mentions(result["output"], core):
            return f"{field} {result[field]!r} is still in the output caption"
        return None

    return Check(f"{field}_still_in_output", run)


def fields_differ(a: str, b: str) -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if dedup_key(object_phrase(result[a])) == dedup_key(object_phrase(result[b])):
            return f"{a} and {b} are the same ({result[a]!r})"
        return None

    return Check(f"{b}_same_as_{a}", run)


def names_one_of(target: str, vocabulary: Iterable[str], what: str) -> Check:
    """``target`` (a field, ``edit`` or ``output``) must name a word of ``vocabulary``."""
    vocab = tuple(vocabulary)

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if not contains_any_word(result[target], vocab):
            return f"{target} {result[target]!r} names no {what}"
        return None

    return Check(f"no_{what.replace(' ', '_')}_in_{target}", run,
                 Constraint(target, "contains", vocab))


def names_none_of(target: str, vocabulary: Iterable[str], what: str) -> Check:
    """``target`` must not name any word of ``vocabulary``."""
    vocab = tuple(vocabulary)

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        found = contains_any_word(result[target], vocab)
        if found:
            return f"{target} names {what}: {', '.join(found)}"
        return None

    return Check(f"{what.replace(' ', '_')}_in_{target}", run)


def quoted_in_input(field: str) -> Check:
    """The text being changed must be one of the caption's quoted texts."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        wanted = dedup_key(result[field])
        if wanted not in {dedup_key(t) for t in quoted_texts(caption)}:
            return f"{field} {result[field]!r} is not a quoted text of the input caption"
        return None

    return Check(f"{field}_not_quoted_in_input", run, Constraint(field, "quoted_in_input"))


def text_in_output(field: str) -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if not mentions(result["output"], result[field], plural=False):
            return f"{field} {result[field]!r} does not occur in the output caption"
        return None

    return Check(f"{field}_not_in_output", run)


def same_word_count(a: str, b: str) -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        na, nb = word_count(result[a]), word_count(result[b])
        if na != nb:
            return f"{a} has {na} word(s) but {b} has {nb}"
        return None

    return Check("word_count_changed", run, Constraint(b, "same_words_as", (a,)))


def uses_a_verb(verbs: Iterable[str]) -> Check:
    """The instruction uses one of its type's verbs (so it reads as an instruction)."""
    vocab = tuple(verbs)

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if not contains_any_word(result["edit"], vocab):
            return f"the instruction uses none of the verbs {', '.join(vocab)}"
        return None

    return Check("edit_without_type_verb", run)


#: The longest instruction accepted, in characters. AnyEdit-style instructions are
#: one short imperative (the reference's examples run 20 to 80 characters); a longer
#: one is a model rambling on until a constraint lets it stop.
EDIT_MAX_CHARS = 100


def short_instruction(max_chars: int = EDIT_MAX_CHARS) -> Check:
    """The instruction fits ``max_chars`` (the constrained schema's ``maxLength`` too)."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if len(result["edit"]) > max_chars:
            return f"the instruction has {len(result['edit'])} characters (at most {max_chars})"
        return None

    return Check("edit_too_long", run)


def prose_instruction() -> Check:
    """The instruction is prose: words joined by underscores are a model stuck in a loop."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        if "_" in result["edit"]:
            return "the instruction joins words with underscores"
        return None

    return Check("edit_not_prose", run)


_TO_TARGET = re.compile(r"\bto\s+(\S.*)$", re.IGNORECASE)


def target_after_to(what: str, vocabulary: Iterable[str] | None = None) -> Check:
    """The edit says its target after "to " ("... to red", "... to running").

    AnyEdit's pre-filter takes the colour of a colour edit, and the action of an
    action edit, from the text after the last "to " of the instruction, and drops
    an edit without one. With ``vocabulary``, that text must name one of its words.
    """
    vocab = tuple(vocabulary) if vocabulary is not None else None

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        edit = result["edit"]
        cut = edit.lower().rfind("to ")
        while cut > 0 and edit[cut - 1].isalnum():  # "potato ", "into ": not the word "to"
            cut = edit.lower().rfind("to ", 0, cut)
        m = _TO_TARGET.match(edit[cut:]) if cut >= 0 else None
        target = m.group(1).strip(" .!") if m else ""
        if not words(target):
            return (f"the edit has no \"to <{what}>\", where AnyEdit's pre-filter reads the "
                    f"{what}")
        if vocab is not None and not contains_any_word(target, vocab):
            return f"the text after \"to \" ({target!r}) names no {what}"
        return None

    return Check(f"no_{what}_after_to", run, Constraint("edit", "after_to", vocab or ()))
