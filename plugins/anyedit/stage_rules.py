"""AnyEdit's downstream rules, each a named check: what its filters and image stages skip.

Reading a record without a ``KeyError`` is only AnyEdit's first gate. Its
pre-filter (``filter_tool/pre_filter.py``) and the stage tools under
``adaptive_editing_pipelines/`` then rewrite some records and silently skip
others, so a record instructgen accepted could still be lost, or rewritten so
that its edit and output disagree. Each :class:`StageRule` here states one of
those rules, read from that code and written in our own terms: which types it
concerns, where AnyEdit applies it, and a ``run`` (a predicate of :mod:`.stage_reads`)
that returns why a record would be lost, or ``None``.

Rules read a record in AnyEdit's form (``edited object``, ``new background``, ...),
the form the ``anyedit`` sink writes and the stages read. They run in two places:

* ``answer`` rules while the edit is generated (:func:`answer_checks`: the ``edit``
  generator's check list, and the ``edit_rules`` generator), so a doomed edit is
  rejected with its reason and retried;
* every rule again when the ``anyedit`` sink writes (``stage_rules = "check"``),
  including the ``record`` rules about files and names that only the written
  record shows.

Matching follows the stages: where a stage tests a substring or splits on spaces,
the rule does the same, case and all, since that is what decides the record's fate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from attrs import frozen

from . import stage_reads as r
from .contract import ANYEDIT_TYPES, WITH_EDIT, TypeContract, canonical_type
from .stage_reads import Record


@frozen
class StageRule:
    """One rule an AnyEdit filter or stage applies to a record of some types."""

    #: The check's name, as rejections and the sink's counts report it.
    name: str
    #: Edit types it concerns (AnyEdit's names).
    types: tuple[str, ...]
    #: Where AnyEdit applies it: file and function.
    where: str
    #: What a record must do to pass, one line (the docs table).
    rule: str
    run: Callable[[Record], str | None]
    #: ``answer``: decidable from the caption and the model's answer, so checked while
    #: generating; ``record``: about files and names only the written record has.
    level: Literal["answer", "record"] = "answer"

    def __call__(self, record: Record) -> str | None:
        return self.run(record)


_COLOUR = "filter_tool/pre_filter.py color_prefilter"
_LOCAL = "adaptive_editing_pipelines/local_pipeline_tool.py __main__"
_ACTION = "filter_tool/pre_filter.py action_prefilter"
_APPEAR = "filter_tool/pre_filter.py appearance_prefilter"

#: Every rule, in the order the docs table lists them.
STAGE_RULES: tuple[StageRule, ...] = (
    StageRule("stage_edit_final_punctuation", WITH_EDIT, "pre_filter.py (all pre-filters)",
              "the edit has no final period or other punctuation", r.final_period),
    StageRule("stage_colour_one_to", ("color_alter",), _COLOUR,
              "exactly one \"to \" in the edit, before the colour", r.one_to),
    StageRule("stage_colour_once_in_output", ("color_alter",), _COLOUR,
              "the colour after \"to \" occurs exactly once in the output, as a word",
              r.colour_in_output),
    StageRule("stage_object_word_in_input", ("color_alter", "appearance_alter"),
              "global_pipeline_tool.py, pre_filter.py pre_filter",
              "the edited object's last word is a space-split word of the input",
              r.object_word_in_input),
    StageRule("stage_object_in_input",
              ("color_alter", "appearance_alter", "visual_material_transfer",
               "visual_reference"),
              "attribute_pipeline_tool.py, material_transfer_tool.py, visual_reference_tool.py",
              "the edited object is a substring of the input", r.object_in_input),
    StageRule("stage_appearance_colour_word", ("appearance_alter",),
              "filter_tool/pre_filter.py pre_filter",
              "the appearance edit has no word \"color\"", r.no_colour_word),
    StageRule("stage_appearance_person", ("appearance_alter",), _APPEAR,
              "no person word in the text after the last \"to \" / \"into \"",
              r.appearance_person),
    StageRule("stage_appearance_size", ("appearance_alter",), _APPEAR,
              "no size/bigger/smaller/longer/shorter in the edit", r.appearance_size),
    StageRule("stage_object_in_edit", r.LOCAL_OBJECT_TYPES, _LOCAL,
              "the edited object (the counted object's surface form too) is a substring "
              "of the edit", r.object_in_edit),
    StageRule("stage_background_in_local_edit", r.LOCAL_OBJECT_TYPES, _LOCAL,
              "the edit does not contain \"background\"", r.no_background),
    StageRule("stage_replace_person", ("replace",),
              "pre_filter.py replace_prefilter, local_pipeline_tool.py replace",
              "neither object is a person word; the new object's last word does not end "
              "like one (er/or/ist/ian/ee)", r.replace_person),
    StageRule("stage_remove_number", ("counting",), _LOCAL,
              "remove_number is a whole number of at least 1", r.remove_number),
    StageRule("stage_background_in_input", ("background_change",),
              "filter_tool/pre_filter.py background_prefilter",
              "the new background's last word is not a word of the input",
              r.background_in_input),
    StageRule("stage_action_after_last_to", ("action_change",), _ACTION,
              "the last \"to \" is the word to, and the bare action word follows it "
              "(not be/have)", r.action_after_to),
    StageRule("stage_action_in_input", ("action_change",), _ACTION,
              "the input does not already have the action (any inflection)",
              r.action_in_input),
    StageRule("stage_action_clauses", ("action_change",), _ACTION,
              "input and output have as many \", \"-separated parts", r.action_clauses),
    StageRule("stage_reference_token", ("visual_reference",),
              "other_instruction_gen.py, visual_reference_tool.py",
              f"edit and output name the reference {r.REFERENCE_TOKEN}", r.reference_token),
    StageRule("stage_rotation_wording", ("rotation_change",), "rotation_change_tool.py",
              "the edit says clockwise or counterclockwise", r.rotation_wording),
    StageRule("stage_relation_object", ("relation",), "relation_tool.py __main__",
              "an edited object, and a direction of swap/left/right/down/upper",
              r.relation_object),
    StageRule("stage_visual_condition_files", r.VISUAL_CONDITIONS, "visual_condition_tool.py",
              "edit object (sic), image_file and an edited_file under remove/ or replace/",
              r.condition_files, level="record"),
    StageRule("stage_textual_files", ("textual_change",), "textual_change_tool.py",
              "image_file and edited_file, both relative to the AnyWord root",
              r.textual_files, level="record"),
    StageRule("stage_type_name", ANYEDIT_TYPES, "tools/tool.py return_parameters",
              "edit_type is AnyEdit's name (outpainting, not outpaint)", r.type_name,
              level="record"),
)


def rules_for(etype: str, level: Literal["answer", "record"] | None = None,
              ) -> tuple[StageRule, ...]:
    """The rules that concern ``etype`` (AnyEdit's name or an old alias), of one level."""
    name = canonical_type(etype) if etype not in ANYEDIT_TYPES else etype
    return tuple(r for r in STAGE_RULES
                 if name in r.types and (level is None or r.level == level))


def first_failure(record: Record, rules: Iterable[StageRule] | None = None,
                  ) -> tuple[StageRule, str] | None:
    """The first rule ``record`` (AnyEdit's form) fails, with why; ``None``: it passes."""
    if rules is None:
        rules = rules_for(str(record.get("edit_type") or ""))
    for rule in rules:
        why = rule(record)
        if why is not None:
            return rule, why
    return None


def anyedit_view(contract: TypeContract, caption: str,
                 result: Mapping[str, Any]) -> dict[str, Any]:
    """An answer (our field names) as the record AnyEdit will read: its keys, its type."""
    out: dict[str, Any] = {"edit_type": contract.name, "input": caption, **{
        k: result[k] for k in ("edit", "output") if k in result}}
    for key in contract.keys:
        if key.field in result:
            out[key.anyedit] = result[key.field]
    return out


@frozen
class StageCheck:
    """One answer-level rule as a generator check: ``check(caption, result)`` -> why, or None.

    It has the ``name`` / ``constraint`` / call shape of the ``edit`` generator's checks,
    so it joins their list; there is no schema form of these rules.
    """

    rule: StageRule
    contract: TypeContract
    constraint: None = None

    @property
    def name(self) -> str:
        return self.rule.name

    def __call__(self, caption: str, result: Mapping[str, Any]) -> str | None:
        return self.rule(anyedit_view(self.contract, caption, result))


#: Rules the ``edit`` generator meets by rewriting the answer (it strips a final period
#: with :func:`strip_final_punctuation`), so they are not among its checks.
NORMALISED: tuple[str, ...] = ("stage_edit_final_punctuation",)


def answer_checks(contract: TypeContract) -> tuple[StageCheck, ...]:
    """The answer-level stage rules of ``contract``'s type as the ``edit`` generator's checks."""
    return tuple(StageCheck(r, contract) for r in rules_for(contract.name, "answer")
                 if r.name not in NORMALISED)


def strip_final_punctuation(edit: str) -> str:
    """``edit`` without a final period (AnyEdit's form): "Make the car red." -> "...red"."""
    return edit.rstrip().rstrip(r.END_PUNCT).rstrip()


#: The test that passes and fails each rule (one case per rule).
RULE_TEST = "tests/anyedit/test_stage_rules.py::test_each_rule_passes_and_fails"


def stage_rules_table() -> str:
    """The rules as a Markdown table (rendered into docs/anyedit.md)."""
    lines = ["| check | types | where AnyEdit applies it | a record passes when | test |",
             "|---|---|---|---|---|"]
    for rule in STAGE_RULES:
        types = ("every type" if set(rule.types) >= set(WITH_EDIT)
                 else ", ".join(f"`{t}`" for t in rule.types))
        lines.append(f"| `{rule.name}` | {types} | `{rule.where}` | {rule.rule} | "
                     f"`{RULE_TEST}[{rule.name}]` |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m instructgen.plugins.anyedit.stage_rules > table.md
    print(stage_rules_table())
