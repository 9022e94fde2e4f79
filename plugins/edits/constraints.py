"""The per-item schema of an edit answer: the type's checks, said as JSON-schema constraints.

An :class:`~instructgen.plugins.edits.types.EditType` writes one plain schema
(strings with length bounds). Per request, :func:`item_schema` narrows it with
what only the item can tell (through :func:`instructgen.schema.narrow`):

* a field checked ``in_input`` (the edited object) becomes an ``enum`` of the
  noun phrases the prefilter finds in the caption; a ``quoted_in_input`` field
  an ``enum`` of the caption's quoted texts;
* ``edit`` gets a pattern: it starts with one of the type's verbs, names one of
  the caption's objects (types that edit an existing object), and ends with
  "to <target>" where the type has such a check (colour from the colour list);
* fields checked ``contains`` (the output names a colour, the new state a time,
  weather or season word) get a whole-word pattern over the same word list;
* ``same_words_as`` becomes a word-count pattern when the caption's quoted
  texts all have the same number of words;
* the instruction is at most ``EDIT_MAX_CHARS`` (100) characters, and the
  output at most 100 characters longer than the caption.

A JSON-schema regex cannot tie two fields together, so "the edit names *the*
edited object" and "the output names the new object" stay checks. Every
constraint here is also validated after the answer (``instructgen.schema``),
so backends without constrained decoding reject the same answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from instructgen.schema import NON_WORD, alternation, contains_pattern, narrow, validate
from instructgen.text import word_count

from .checks import EDIT_MAX_CHARS, quoted_texts
from .prefilter import CaptionAnalyzer
from .types import Check, Constraint, EditType

#: How much longer than the caption the output caption may be, in characters.
OUTPUT_SLACK = 100


class NoCandidates(Exception):
    """The caption offers nothing for a field that must come from it."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def item_schema(
    etype: EditType,
    caption: str,
    analyzer: CaptionAnalyzer | None,
    *,
    require_verb: bool = True,
    max_length: int = 200,
) -> dict[str, Any]:
    """``etype``'s answer schema, narrowed for ``caption``; raise :class:`NoCandidates`.

    Without an analyzer (``prefilter = "off"``) no object enum is built.
    """
    schema = etype.schema(max_length)
    cons = [c.constraint for c in etype.checks if c.constraint is not None]
    objects: list[str] = []
    after_to: Constraint | None = None
    for c in cons:
        if c.kind == "in_input" and analyzer is not None:
            objects = analyzer.objects(caption)
            if not objects:
                raise NoCandidates(c.field)
            schema = narrow(schema, c.field, enum=objects)
        elif c.kind == "quoted_in_input":
            quoted = quoted_texts(caption)
            if not quoted:
                raise NoCandidates(c.field)
            schema = narrow(schema, c.field, enum=quoted)
            counts = {word_count(q) for q in quoted}
            same = [d for d in cons if d.kind == "same_words_as" and d.words == (c.field,)]
            if len(counts) == 1 and same:
                n = counts.pop()
                schema = narrow(schema, same[0].field,
                                pattern=f"^[^ ]+(?: [^ ]+){{{n - 1}}}$" if n > 1 else "^[^ ]+$")
        elif c.kind == "contains" and c.field != "edit" and c.words:
            schema = narrow(schema, c.field, pattern=contains_pattern(c.words))
        elif c.kind == "after_to":
            after_to = c
    pattern = edit_pattern(etype.verbs if require_verb else (), objects, after_to)
    if pattern is not None:
        schema = narrow(schema, "edit", pattern=pattern)
    schema = narrow(schema, "edit", max_length=EDIT_MAX_CHARS)
    return narrow(schema, "output", max_length=len(caption) + OUTPUT_SLACK)


def edit_pattern(verbs: tuple[str, ...] | list[str], objects: list[str],
                 after_to: Constraint | None) -> str | None:
    """The instruction's pattern: a leading verb, an object named, a "to <target>" ending."""
    if not verbs and not objects and after_to is None:
        return None
    nw = NON_WORD
    p = "^"
    if verbs:
        p += alternation(verbs, capital=True)
    if objects:
        p += f"{nw}(?:.*{nw})?" if verbs else f"(?:.*{nw})?"
        p += alternation(objects)
    if after_to is not None:
        lead = f"(?:{nw}.*)?" if (verbs or objects) else "(?:.*)?"
        if after_to.words:
            # "... to blue", "... to a shiny silver color", "... to pink and white".
            p += (f"{lead}{nw}to (?:[A-Za-z]+ ){{0,3}}{alternation(after_to.words)}"
                  f"(?:[ ,][A-Za-z ,]*)?[.!]?$")
        else:
            p += f"{lead}{nw}to [A-Za-z][A-Za-z ,'-]*[.!]?$"
    else:
        p += f"(?:{nw}.*)?$"
    return p


def json_object(raw: str | None) -> dict[str, Any] | None:
    """A raw answer as a JSON object, or ``None`` when it is not one (the answer of a
    backend that did not decode under the schema, read back to say why it failed)."""
    try:
        value = json.loads(raw or "")
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def explain(
    caption: str, raw: str | None, schema: Mapping[str, Any], checks: Sequence[Check]
) -> tuple[str, str, str] | None:
    """Why an answer outside the narrowed schema fails: ``(stage, reason, detail)``.

    A backend without constrained decoding can return an answer the narrowed
    schema refuses; the runner then reports ``invalid_output``. This names the
    consistency check the answer fails instead (the same reason a plain-schema
    run gives), or else the schema field (``edit_outside_schema``).
    """
    value = json_object(raw)
    if value is None:
        return None
    result = {k: " ".join(v.split()) for k, v in value.items() if isinstance(v, str)}
    props = (schema.get("anyOf") or [schema])[0].get("properties", {})  # coupled: branches
    if props and all(result.get(k) for k in props):
        for check in checks:
            problem = check(caption, result)
            if problem is not None:
                return "consistency", check.name, problem
    problems = validate(value, schema)
    if not problems:
        return None
    branch = _branch_for(value, schema)
    if branch is not None:  # coupled: name the field of the branch the answer picked
        problems = validate(value, branch) or problems
    path = problems[0].split(":", 1)[0]
    field = path.removeprefix("$.").split(".")[0] if path.startswith("$.") else "answer"
    return "generate", f"{field}_outside_schema", problems[0]


def _branch_for(value: Mapping[str, Any], schema: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The ``anyOf`` branch whose ``const`` fields the answer chose (a coupled schema's
    branch per caption object), so a refusal names a field rather than the whole answer."""
    for branch in schema.get("anyOf", ()):
        consts = {k: sub["const"] for k, sub in branch.get("properties", {}).items()
                  if isinstance(sub, Mapping) and "const" in sub}
        if consts and all(value.get(k) == v for k, v in consts.items()):
            return branch
    return None
