"""What an edit type is: :class:`EditType`, registered through ``instructgen_edit_types``.

An edit type carries everything the ``edit`` generator needs to ask for one
kind of edit and to check the answer::

    @hookimpl
    def instructgen_edit_types():
        yield EditType(
            name="weather_swap", title="weather change",
            description="change only the weather of the scene",
            verbs=("make", "turn"), fields=("new_state",),
            field_hints={"new_state": "the new weather"},
            needs=None, scope="global",
            examples=(...),            # at least 8 EditExample records
            judge_question="Does the instruction change only the weather?",
            checks=(output_differs(), new_in_output("new_state")),
        )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

from instructgen.catalog import Catalog, name_validator
from instructgen.errors import RecipeError, did_you_mean
from instructgen.plugins.anyedit.contract import GENERIC_KEYS, Key, TypeContract, canonical_type
from instructgen.records import as_tuple

if TYPE_CHECKING:
    from instructgen.manager import PluginRegistry

#: What an edit type needs in the caption before it is worth asking the model.
Need = Literal["noun", "verb", "quoted_text"]
#: Fields an edit type may ask for besides ``edit`` and ``output``.
KNOWN_FIELDS = ("edited_object", "new_object", "new_background", "new_state",
                "text_before", "text_after")
MIN_EXAMPLES = 8
#: The longest field value (an object, a background, a time of day): a noun phrase. A
#: longer bound let the embedded model fill a field with 80 characters of rambling
#: under constraints, leaving too few tokens for the rest of the answer.
FIELD_MAX_CHARS = 40


@frozen(kw_only=True)
class EditExample:
    """One hand-written few-shot example: a caption, the edit, the caption after it."""

    input: str
    edit: str
    output: str
    fields: Mapping[str, str] = field(factory=dict)

    def answer(self, field_names: tuple[str, ...]) -> dict[str, str]:
        """The example as the JSON answer the model is asked to give."""
        return {"edit": self.edit, **{k: self.fields[k] for k in field_names},
                "output": self.output}

    def result(self) -> dict[str, str]:
        """The example as a checked result (what checks see)."""
        return {"edit": self.edit, "output": self.output, **self.fields}


#: How a check can be said as a schema constraint (see ``constraints.py``):
#: ``in_input``: the field is one of the caption's objects (an enum);
#: ``quoted_in_input``: one of the caption's quoted texts (an enum);
#: ``contains``: the field names one of ``words``; ``after_to``: the edit ends
#: with "to <target>", the target naming one of ``words`` (any words if empty);
#: ``same_words_as``: as many words as the field ``words[0]``.
ConstraintKind = Literal["in_input", "quoted_in_input", "contains", "after_to",
                         "same_words_as"]


@frozen
class Constraint:
    """What a check asks of one answer field, in a form a JSON schema can also ask it."""

    field: str
    kind: ConstraintKind
    words: tuple[str, ...] = ()


@frozen
class Check:
    """A consistency check: ``run(caption, result)`` returns why it failed, or ``None``.

    ``result`` holds ``edit``, ``output`` and the type's fields. ``constraint``,
    when set, lets the generator ask the same of the model in the request's
    schema, so constrained decoding cannot produce an answer the check rejects.
    """

    name: str
    run: Callable[[str, Mapping[str, Any]], str | None]
    constraint: Constraint | None = None

    def __call__(self, caption: str, result: Mapping[str, Any]) -> str | None:
        return self.run(caption, result)


@frozen(kw_only=True)
class EditType:
    """One kind of edit instruction the LLM writes from a caption."""

    name: str = field(validator=name_validator("edit type"))
    #: A short human name used in prompts ("colour change").
    title: str
    #: What the edit does, one line; goes into the prompt.
    description: str
    #: Verbs an instruction of this type usually starts with.
    verbs: tuple[str, ...] = field(converter=as_tuple)
    #: Answer fields besides ``edit`` and ``output``, in the order the model writes them.
    fields: tuple[str, ...] = field(converter=as_tuple)
    #: One line per field telling the model what to put there.
    field_hints: Mapping[str, str]
    #: What the caption must have: a noun, a verb, quoted text, or nothing.
    needs: Need | None
    examples: tuple[EditExample, ...] = field(converter=as_tuple)
    #: Asked of the model after generation; only a plain "yes" accepts.
    judge_question: str
    checks: tuple[Check, ...] = field(converter=as_tuple)
    #: ``global`` types change the whole picture (kept to the last turn on request).
    scope: Literal["local", "global"] = "local"
    #: Extra rules for the prompt, one line each.
    rules: tuple[str, ...] = field(default=(), converter=as_tuple)
    #: Keys AnyEdit's stages read for this type besides the common ones (the ``anyedit``
    #: sink writes them from the answer's fields); empty: AnyEdit's generic keys.
    anyedit: tuple[Key, ...] = field(default=(), converter=as_tuple)
    #: One line for the AnyEdit contract table (docs/anyedit.md).
    anyedit_note: str = ""
    #: Drawn when a recipe names no ``generator.types``. Off for a plugin's type unless it
    #: says so, so installing a plugin does not change what existing recipes make.
    default_mix: bool = False
    #: Filled in from the registering distribution.
    dist: str = ""

    def __attrs_post_init__(self) -> None:
        if not self.verbs:
            raise ValueError(f"edit type {self.name!r}: needs at least one verb")
        unknown = [f for f in self.fields if f not in KNOWN_FIELDS]
        if unknown:
            raise ValueError(f"edit type {self.name!r}: unknown field(s) {unknown} "
                             f"(known: {', '.join(KNOWN_FIELDS)})")
        missing = [f for f in self.fields if f not in self.field_hints]
        if missing:
            raise ValueError(f"edit type {self.name!r}: no field_hints for {missing}")
        if len(self.examples) < MIN_EXAMPLES:
            raise ValueError(f"edit type {self.name!r}: needs at least {MIN_EXAMPLES} few-shot "
                             f"examples, has {len(self.examples)}")
        for i, ex in enumerate(self.examples):
            lacking = [f for f in self.fields if not ex.fields.get(f)]
            if lacking:
                raise ValueError(f"edit type {self.name!r}: examples[{i}] lacks {lacking}")

    def contract(self) -> TypeContract:
        """What AnyEdit reads of this type's records: its declared keys, else its answer
        fields under AnyEdit's generic names (``new_state`` as ``new state``)."""
        keys = self.anyedit or tuple(Key(GENERIC_KEYS[f], f) for f in self.fields
                                     if f in GENERIC_KEYS)
        return TypeContract(name=self.name, keys=keys, made_by="edit", note=self.anyedit_note)

    def schema(self, max_length: int = 200) -> dict[str, Any]:
        """The JSON schema of the answer: ``edit``, the fields, ``output``, in that order."""
        text = {"type": "string", "minLength": 1, "maxLength": max_length}
        props = {"edit": text, **{f: {"type": "string", "minLength": 1,
                                      "maxLength": FIELD_MAX_CHARS}
                                  for f in self.fields}, "output": text}
        return {"type": "object", "properties": props, "required": list(props),
                "additionalProperties": False}


#: The edit types every ``instructgen_edit_types`` implementation yields, in registration
#: order (the builtins first, in AnyEdit's order: the default mix is drawn in that order).
EDIT_TYPES: Catalog[EditType] = Catalog("edit type", "instructgen_edit_types", EditType,
                                        sort=False)


def get_edit_types(registry: PluginRegistry) -> dict[str, EditType]:
    """Every edit type registered through ``instructgen_edit_types``, by name.

    A name registered twice raises :class:`DuplicatePluginError` naming both
    providers; never renamed silently.
    """
    return registry.catalog(EDIT_TYPES)


def select_edit_types(known: Mapping[str, EditType], names: list[str],
                      where: str) -> list[EditType]:
    """Look ``names`` up; every unknown one is reported as ``where[i]: ...`` in one error.

    An old name (``textual``) resolves to AnyEdit's (``textual_change``) with a notice.
    """
    problems = []
    resolved = []
    for i, name in enumerate(names):
        if name not in known:
            name = canonical_type(name, f"{where}[{i}]")
        if name not in known:
            problems.append(f"{where}[{i}]: unknown edit type {name!r}"
                            f"{did_you_mean(name, known)} (valid: {', '.join(known)})")
        resolved.append(name)
    if problems:
        raise RecipeError("; ".join(problems))
    return [known[n] for n in resolved]
