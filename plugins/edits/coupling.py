"""Cross-field constraints of an edit answer: the rules a per-field pattern cannot say.

:func:`~instructgen.plugins.edits.constraints.item_schema` narrows each field
alone. Some checks tie two fields together: remove's output must no longer
name *the* edited object, colour/material/action edits must keep naming it,
replace's and background's output must name the new object, and no output may
be the input caption. Two ways to ask for that (``generator.couple``):

* ``grammar``: one schema, an ``anyOf`` with one branch per caption object
  (:func:`coupled_schema`). Each branch fixes ``edited_object`` (``const``),
  writes it first, and builds the ``edit`` and ``output`` patterns for that
  object. Fields the model invents (``new_object``) cannot be coupled this way.
* ``two_calls``: first the fields alone (:func:`fields_schema`), then the whole
  answer with those fields fixed and every coupled pattern built from them
  (:func:`second_schema`); this also covers the invented fields.
* ``auto`` (the default): ``grammar`` for a type whose edited object comes
  from the caption (one call, the cheaper), ``two_calls`` for one whose
  coupled field the model invents (add, background, tone, text), where one
  grammar cannot tie it (:func:`mode_for`; docs/benchmarks.md, "Coupled fields").

Regexes here have no look-around (constrained decoders lack it): "names no X"
is written as a complement over the words of the text, and "is not the
caption" as a complement of one literal. Both are stricter than the checks
(a word is delimited by any character outside ``[A-Za-z0-9]``), never looser,
so an answer the constraint admits passes the check; the checks still run.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from instructgen.backend import Completion
from instructgen.errors import Reject
from instructgen.schema import literal
from instructgen.text import plural_forms, words

from .checks import object_phrase
from .constraints import edit_pattern, json_object
from .prompts import parse_edit
from .types import Check, Constraint, EditType

#: ``generator.couple``: how the cross-field rules are asked of the model.
Couple = Literal["auto", "grammar", "two_calls", "off"]
#: Fields whose value the coupled rules may use (``text_*`` are matched verbatim, not as objects).
OBJECT_FIELDS = ("edited_object", "new_object", "new_background", "new_state")
#: Characters that end a word for the checks' tokenizer in every case (``contains`` is sound).
_BOUND = "[ ,.;:!?()\"/]"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_RUN = re.compile("[a-z0-9]+")
#: Longest caption whose "not this caption" pattern is built (one nested group per character).
MAX_LITERAL = 200


# -- regex builders ----------------------------------------------------------------------

def _fold(ch: str) -> str:
    """The class body matching ``ch`` in either case (``[...]`` metacharacters escaped)."""
    pair = {ch.lower(), ch.upper()} if ch.isalpha() else {ch}
    return "".join(sorted("\\" + c if c in "[]\\^-" else c for c in pair))


def _ci(text: str) -> str:
    """``text`` as a case-insensitive regex (a class per letter)."""
    return "".join(f"[{_fold(c)}]" if c.isalpha() else literal(c) for c in text)


def forms(phrase: str) -> list[str]:
    """The head word of an object phrase in its singular and plural forms ("cars" → car, cars)."""
    core = words(object_phrase(phrase))
    return sorted(plural_forms(core[-1])) if core else []


def has_word_pattern(alternatives: Iterable[str]) -> str:
    """Anchored: the value names one of ``alternatives`` (any case) as a whole word."""
    alts = sorted({a.lower() for a in alternatives if a}, key=lambda a: (-len(a), a))
    group = "(?:" + "|".join(_ci(a) for a in alts) + ")"
    return f"^(?:.*{_BOUND})?{group}(?:{_BOUND}.*)?$"


def no_word_pattern(banned: Iterable[str]) -> str:
    """Anchored: no run of ``[A-Za-z0-9]`` in the value is one of ``banned`` (any case)."""
    trie: dict[str, Any] = {}
    # A word with a hyphen or apostrophe ("t-shirt") is banned by its last run ("shirt"):
    # every text naming the word has that run, so the ban stays at least as strict.
    runs = {r[-1] for r in (_RUN.findall(b.lower()) for b in banned) if r}
    for word in runs:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def run(node: Mapping[str, Any]) -> str:
        kids = [c for c in node if c]
        alts = [] if "" in node else [""]
        taken = {k for c in kids for k in (c.lower(), c.upper())}
        rest = "".join(c for c in _ALNUM if c not in taken)
        if rest:
            alts.append(f"[{rest}][A-Za-z0-9]*")
        alts.extend(f"[{_fold(c)}]{run(node[c])}" for c in sorted(kids))
        return "(?:" + "|".join(alts) + ")"

    good = run(trie)
    return f"^[^A-Za-z0-9]*(?:{good}[^A-Za-z0-9]+)*{good}$"


def not_literal_pattern(text: str) -> str | None:
    """Anchored: the value is not ``text`` (any case, with or without its final period).

    ``None`` for a text too long to say so (one nested group per character).
    """
    core = text.rstrip(".")
    if not core or len(core) > MAX_LITERAL:
        return None
    tail = "(?:[^.].*|[.].+)"  # past the whole text: anything but nothing or a lone "."
    for ch in reversed(core):
        body = _fold(ch)
        tail = f"(?:|[^{body}].*|[{body}]{tail})"
    return f"^{tail}$"


# -- what the checks ask -------------------------------------------------------------------

def couplings(etype: EditType) -> dict[str, Any]:
    """The cross-field rules of ``etype``, read from its checks.

    ``keep``/``gone``: fields the output must (not) name; ``differs``: the
    output must not be the caption; ``apart``: field pairs that must differ;
    ``source``: the field whose values come from the caption (an enum).
    """
    names = {c.name for c in etype.checks}
    cons: list[Constraint] = [c.constraint for c in etype.checks if c.constraint is not None]
    return {
        "keep": [f for f in OBJECT_FIELDS if f in etype.fields and f"{f}_not_in_output" in names],
        "gone": [f for f in OBJECT_FIELDS
                 if f in etype.fields and f"{f}_still_in_output" in names],
        "differs": "output_unchanged" in names,
        "apart": [tuple(n.split("_same_as_")[::-1]) for n in names if "_same_as_" in n
                  and all(p in OBJECT_FIELDS for p in n.split("_same_as_"))],
        "source": next((c.field for c in cons if c.kind == "in_input"), None),
        "after_to": next((c for c in cons if c.kind == "after_to"), None),
    }


def _string(sub: Mapping[str, Any], *patterns: str | None) -> dict[str, Any]:
    """``sub`` with ``patterns`` added (an ``allOf`` when there is more than one)."""
    out = dict(sub)
    pats = [p for p in (sub.get("pattern"), *patterns) if p]
    out.pop("pattern", None)
    if len(pats) == 1:
        out["pattern"] = pats[0]
    elif pats:
        out["allOf"] = [{"pattern": p} for p in pats]
    return out


def _fields_first(schema: Mapping[str, Any], etype: EditType) -> dict[str, Any]:
    """``schema`` with the type's fields written before ``edit`` (keys, not the record)."""
    out = copy.deepcopy(dict(schema))
    props = out["properties"]
    out["properties"] = {**{f: props[f] for f in etype.fields}, "edit": props["edit"],
                         "output": props["output"]}
    out["required"] = list(out["properties"])
    return out


def _fix(schema: dict[str, Any], etype: EditType, caption: str, values: Mapping[str, str],
         verbs: Sequence[str]) -> dict[str, Any]:
    """One branch: ``values`` fixed (``const``) and every rule that uses them built in."""
    rules = couplings(etype)
    props = schema["properties"]
    for name, value in values.items():
        props[name] = {"const": value}
    for a, b in rules["apart"]:  # e.g. new_object must not be the edited object
        if a in values and b not in values and forms(values[a]):
            props[b] = _string(props[b], no_word_pattern(forms(values[a])))
    named = [values[f] for f in (rules["source"], *rules["keep"]) if f and f in values]
    if named:
        phrases = [object_phrase(named[0]), *forms(named[0])]
        pattern = edit_pattern(list(verbs), [p for p in phrases if p], rules["after_to"])
        if pattern is not None:
            props["edit"] = {k: v for k, v in props["edit"].items() if k != "pattern"}
            props["edit"]["pattern"] = pattern
    out_patterns = [has_word_pattern(forms(values[f])) for f in rules["keep"]
                    if f in values and forms(values[f])]
    out_patterns += [no_word_pattern(forms(values[f])) for f in rules["gone"]
                     if f in values and forms(values[f])]
    # "Not the caption" is implied where a pattern already refuses the caption (remove).
    literal = not_literal_pattern(caption)  # None for a caption too long to refuse
    if rules["differs"] and all(re.match(p, caption) for p in out_patterns) and literal:
        out_patterns.append(literal)
    # An output that already names a word of a closed list (colour, material, texture)
    # keeps that pattern alone: intersected with another, the long alternation makes
    # llguidance's lexer run out of states on a real vocabulary (LexerTooComplex).
    if "pattern" not in props["output"]:
        props["output"] = _string(props["output"], *out_patterns)
    return schema


def coupled_schema(etype: EditType, caption: str, schema: Mapping[str, Any],
                   verbs: Sequence[str]) -> dict[str, Any]:
    """``grammar``: ``schema`` (the item schema) as one branch per caption object.

    Without a caption-given field (add, background, tone) it is one branch: the
    fields first and "not the caption" on the output.
    """
    source = couplings(etype)["source"]
    options = schema["properties"].get(source, {}).get("enum") if source else None
    base = _fields_first(schema, etype)
    if not options:
        return _fix(base, etype, caption, {}, verbs)
    return {"anyOf": [_fix(copy.deepcopy(base), etype, caption, {source: o}, verbs)
                      for o in options]}


def fields_schema(etype: EditType, schema: Mapping[str, Any]) -> dict[str, Any]:
    """``two_calls``, first call: the type's fields alone, as narrowed for the item."""
    props = schema["properties"]
    out: dict[str, Any] = {"type": "object",
                           "properties": {f: dict(props[f]) for f in etype.fields},
           "required": list(etype.fields), "additionalProperties": False}
    rules = couplings(etype)
    source = rules["source"]
    pairs = [(a, b) for a, b in rules["apart"] if a == source]
    if source and pairs and props[source].get("enum"):  # the new object is not the old one
        branches = []
        for o in props[source]["enum"]:
            branch = copy.deepcopy(out)
            branch["properties"][source] = {"const": o}
            for _, b in pairs:
                if forms(o):
                    branch["properties"][b] = _string(branch["properties"][b],
                                                      no_word_pattern(forms(o)))
            branches.append(branch)
        return {"anyOf": branches}
    return out


def second_schema(etype: EditType, caption: str, schema: Mapping[str, Any],
                  values: Mapping[str, str], verbs: Sequence[str]) -> dict[str, Any]:
    """``two_calls``, second call: the whole answer with the first call's fields fixed."""
    return _fix(_fields_first(schema, etype), etype, caption,
                {f: values[f] for f in etype.fields}, verbs)


def coupled_checks(etype: EditType) -> tuple[Check, ...]:
    """The checks a coupled schema says in advance (what ``benchmarks/coupling.py`` counts)."""
    rules = couplings(etype)
    wanted = {f"{f}_not_in_output" for f in rules["keep"]}
    wanted |= {f"{f}_still_in_output" for f in rules["gone"]}
    wanted |= {"output_unchanged"} if rules["differs"] else set()
    return tuple(c for c in etype.checks if c.name in wanted)


def parse_fields(etype: EditType) -> Callable[[Completion], dict[str, str]]:
    """A validator for the first of two calls: the type's fields as stripped strings."""
    return parse_edit(etype, keys=etype.fields)


def _fields_of(raw: str | None, etype: EditType) -> dict[str, str] | None:
    value = json_object(raw)
    if value is None:
        return None
    out = {f: " ".join(value[f].split()) for f in etype.fields
           if isinstance(value.get(f), str) and value[f].strip()}
    return out if len(out) == len(etype.fields) else None


def mode_for(mode: Couple, etype: EditType) -> Couple:
    """``auto`` made concrete for ``etype``; any other mode as it is."""
    if mode != "auto":
        return mode
    return "grammar" if couplings(etype)["source"] is not None else "two_calls"


async def couple(mode: Couple, etype: EditType, caption: str, schema: Mapping[str, Any],
                 verbs: Sequence[str],
                 ask: Callable[[dict[str, Any]], Awaitable[dict[str, str]]]) -> dict[str, Any]:
    """The schema of the edit answer under ``mode``; ``two_calls`` asks for the fields first.

    ``ask(schema)`` sends the edit prompt with ``schema`` and returns the parsed
    fields; its :class:`~instructgen.errors.Reject` propagates.
    """
    mode = mode_for(mode, etype)
    if mode == "grammar":
        return coupled_schema(etype, caption, schema, verbs)
    if mode == "two_calls" and etype.fields:
        values: dict[str, str] | None
        try:
            values = await ask(fields_schema(etype, schema))
        except Reject as rej:
            # A backend that does not decode under the schema may answer the whole edit
            # (or a field outside its enum): take its fields; the checks judge them later.
            values = _fields_of(rej.raw, etype)
            if values is None:
                raise
        return second_schema(etype, caption, schema, values, verbs)
    return dict(schema)
