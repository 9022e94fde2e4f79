"""AnyEdit's downstream rules, each a named check: what its filters and image stages skip.

Reading a record without a ``KeyError`` is only AnyEdit's first gate. Its
pre-filter (``filter_tool/pre_filter.py``) and the stage tools under
``adaptive_editing_pipelines/`` then rewrite some records and silently skip
others, so a record instructgen accepted could still be lost, or rewritten so
that its edit and output disagree. Each :class:`StageRule` here states one of
those rules, read from that code and written in our own terms: which types it
concerns, where AnyEdit applies it, and a ``run`` that returns why a record would
be lost, or ``None``.

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

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from attrs import frozen

from .contract import CONTRACTS, canonical_type

Record = Mapping[str, Any]

#: Words the stages treat as a person (``appearance_prefilter``, ``replace_prefilter``
#: and the replace stage's own guard).
PERSON_WORDS: tuple[str, ...] = ("people", "man", "woman", "boy", "girl", "person",
                                 "adult", "child")
#: Word endings AnyEdit's ``is_human_variant`` reads as a person ("teacher", "tourist").
#: It is a suffix test, so "flower", "tower", "door" and "tree" count too.
HUMAN_SUFFIXES: tuple[str, ...] = ("er", "or", "ist", "ian", "ee")
#: Substrings that make ``appearance_prefilter`` drop an appearance edit (size changes).
SIZE_WORDS: tuple[str, ...] = ("size", "bigger", "smaller", "longer", "shorter")
#: Actions ``action_prefilter`` drops.
NO_ACTIONS: tuple[str, ...] = ("be", "being", "have", "having")
#: The token a visual_reference edit and output name the reference object by.
REFERENCE_TOKEN = "[V*]"
#: Types whose record leaves the local stage (inpainting around one object).
LOCAL_OBJECT_TYPES: tuple[str, ...] = ("add", "remove", "replace", "counting")
VISUAL_CONDITIONS: tuple[str, ...] = ("visual_sketch", "visual_scribble", "visual_segment",
                                      "visual_depth", "visual_bbox")
_IRREGULAR = {"people": "person", "men": "man", "women": "woman", "children": "child"}
_END_PUNCT = ".!;:,"


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


def _text(record: Record, key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _to_words_global(text: str) -> list[str]:
    """The input's words as the colour stage splits them (``strip('.')``, then commas)."""
    return text.strip(".").replace(",", "").split(" ")


def _to_words_prefilter(text: str) -> list[str]:
    """The input's words as the pre-filter splits them (commas, then ``strip('.')``)."""
    return text.replace(",", "").strip(".").split(" ")


def _noun_lemmas(word: str) -> set[str]:
    """``word`` and the singulars it may be the plural of ("flowers" -> "flower")."""
    w = word.lower()
    forms = {w}
    if w in _IRREGULAR:
        forms.add(_IRREGULAR[w])
    if w.endswith("ies") and len(w) > 4:
        forms.add(w[:-3] + "y")
    if w.endswith("es") and len(w) > 3:
        forms.add(w[:-2])
    if w.endswith("s") and len(w) > 2:
        forms.add(w[:-1])
    return forms


def _verb_lemmas(word: str) -> set[str]:
    """``word`` and the base forms it may inflect ("running" -> "run", "jumps" -> "jump")."""
    w = word.lower()
    forms = {w}
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            stem = w[: -len(suffix)]
            forms |= {stem, stem + "e"}
            if len(stem) > 2 and stem[-1] == stem[-2]:
                forms.add(stem[:-1])  # running -> run
    if w.endswith("ies") and len(w) > 4:
        forms.add(w[:-3] + "y")
    elif w.endswith("es") and len(w) > 3:
        forms |= {w[:-2], w[:-1]}
    elif w.endswith("s") and len(w) > 2:
        forms.add(w[:-1])
    return forms


# -- the edit's form ---------------------------------------------------------------


def _final_period(record: Record) -> str | None:
    edit = _text(record, "edit").rstrip()
    if edit and edit[-1] in _END_PUNCT:
        return (f"the edit ends with {edit[-1]!r}; AnyEdit's instructions have no final "
                "punctuation and its pre-filters read the last words as they stand")
    return None


# -- colour (pre_filter.color_prefilter, global_pipeline_tool, attribute_pipeline_tool) --


def _one_to(record: Record) -> str | None:
    n = _text(record, "edit").count("to ")
    if n != 1:
        return (f"the edit has {n} \"to \" (inside words too); color_prefilter takes the "
                "text after the first as the colour and cuts the edit there, so it needs "
                "exactly one, before the colour")
    return None


def colour_target(edit: str) -> str | None:
    """The old colour as ``color_prefilter`` reads it: the text after the first "to "."""
    parts = edit.split("to ")
    return parts[1] if len(parts) > 1 else None


def _colour_in_output(record: Record) -> str | None:
    colour = colour_target(_text(record, "edit"))
    if not colour or not colour.strip():
        return "the edit names no colour after \"to \""
    output = _text(record, "output")
    hits = [m for m in re.finditer(re.escape(colour), output)]
    whole = [m for m in hits if (m.start() == 0 or not output[m.start() - 1].isalnum())
             and (m.end() == len(output) or not output[m.end()].isalnum())]
    if len(hits) != 1 or len(whole) != 1:
        return (f"the output names the colour {colour!r} {len(whole)} time(s) as a word "
                f"and {len(hits)} as text; color_prefilter replaces it in the output, so it "
                "must occur exactly once, as a word")
    return None


def _object_word_in_input(record: Record) -> str | None:
    obj = _text(record, "edited object")
    last = obj.split(" ")[-1]
    caption = _text(record, "input")
    if not obj or last not in _to_words_global(caption) or \
            last not in _to_words_prefilter(caption):
        return (f"the edited object's last word {last!r} is not a word of the input (split on "
                "spaces, case kept); the colour stage and the pre-filter skip such a record")
    return None


def _object_in_input(record: Record) -> str | None:
    obj = _text(record, "edited object")
    if not obj or obj not in _text(record, "input"):
        return (f"the edited object {obj!r} is not a substring of the input; the attribute "
                "stage skips such a record")
    return None


# -- appearance (pre_filter.pre_filter, appearance_prefilter) --------------------------


def _no_colour_word(record: Record) -> str | None:
    if "color" in _text(record, "edit").strip().split(" "):
        return "the appearance edit has the word \"color\"; the pre-filter skips it"
    return None


def _appearance_person(record: Record) -> str | None:
    edit = _text(record, "edit")
    tails = (edit.split("to ")[-1], edit.split("into ")[-1])
    found = [w for w in PERSON_WORDS[:6] if any(w in t for t in tails)]
    if found:
        return (f"the end of the appearance edit contains {found[0]!r} (as text); "
                "appearance_prefilter drops edits that turn something into a person")
    return None


def _appearance_size(record: Record) -> str | None:
    found = [w for w in SIZE_WORDS if w in _text(record, "edit")]
    if found:
        return (f"the appearance edit contains {found[0]!r} (as text); appearance_prefilter "
                "drops size changes")
    return None


# -- local stage (local_pipeline_tool) ------------------------------------------------


def _object_in_edit(record: Record) -> str | None:
    obj = _text(record, "edited object")
    if not obj or obj not in _text(record, "edit"):
        return (f"the edited object {obj!r} is not a substring of the edit; the local stage "
                "skips such a record")
    return None


def _no_background(record: Record) -> str | None:
    if "background" in _text(record, "edit"):
        return "the edit says \"background\"; the local stage skips such a record"
    return None


def _human_like(word: str) -> bool:
    return any(f in PERSON_WORDS or f.endswith(HUMAN_SUFFIXES) for f in _noun_lemmas(word))


def _replace_person(record: Record) -> str | None:
    old, new = _text(record, "edited object"), _text(record, "new object")
    if old in PERSON_WORDS[:6] or new in PERSON_WORDS[:6]:
        return "the replace stage skips a record whose object or new object is a person word"
    last = new.split(" ")[-1]
    if _human_like(last):
        return (f"the new object's last word {last!r} is a person word or ends like one "
                f"({'/'.join(HUMAN_SUFFIXES)}); replace_prefilter drops it")
    return None


def _remove_number(record: Record) -> str | None:
    n = record.get("remove_number")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return f"remove_number {n!r} is not a whole number of at least 1"
    return None


# -- background (pre_filter.background_prefilter) -------------------------------------


def _background_in_input(record: Record) -> str | None:
    last = _text(record, "new background").split(" ")[-1]
    if last and last in _text(record, "input").strip(".").split(" "):
        return (f"the new background's last word {last!r} is already a word of the input; "
                "background_prefilter drops the record")
    return None


# -- action (pre_filter.action_prefilter) ---------------------------------------------


def action_target(edit: str) -> str:
    """The action as ``action_prefilter`` reads it: the first word after the last "to "."""
    return edit.split("to ")[-1].split(" ")[0]


def _action_target(record: Record) -> str | None:
    edit = _text(record, "edit")
    cut = edit.rfind("to ")
    if cut < 0:
        return "the edit has no \"to \" before the action"
    if cut > 0 and not edit[cut - 1].isspace():
        return (f"the last \"to \" of the edit is inside a word ({edit[:cut + 2].split()[-1]!r});"
                " action_prefilter reads the action after it")
    action = action_target(edit)
    if not action.isalpha():
        return (f"the word after the last \"to \" is {action!r}; action_prefilter reads it as "
                "the action, so it must be the action's bare word")
    if action.lower() in NO_ACTIONS:
        return f"the action {action!r} is be/have; action_prefilter drops it"
    return None


def _action_in_input(record: Record) -> str | None:
    action = action_target(_text(record, "edit"))
    lemmas = _verb_lemmas(action)
    found = [w for w in _text(record, "input").lower().strip(".").replace(",", "").split()
             if _verb_lemmas(w) & lemmas]
    if action and found:
        return (f"the input already has the action {found[0]!r}; action_prefilter drops an "
                "edit whose action the input already shows")
    return None


def _action_clauses(record: Record) -> str | None:
    n_in = len(_text(record, "input").split(", "))
    n_out = len(_text(record, "output").split(", "))
    if n_in != n_out:
        return (f"the input has {n_in} comma-separated part(s) and the output {n_out}; "
                "action_prefilter pairs them up and cuts both, losing text")
    return None


# -- rule-made types ------------------------------------------------------------------


def _reference_token(record: Record) -> str | None:
    missing = [k for k in ("edit", "output") if REFERENCE_TOKEN not in _text(record, k)]
    if missing:
        return (f"the {' and '.join(missing)} do(es) not name the reference as "
                f"{REFERENCE_TOKEN}; the reference stage pastes the object shown there")
    return None


def _rotation_wording(record: Record) -> str | None:
    words = set(re.findall(r"[a-z]+", _text(record, "edit").lower()))
    if not words & {"clockwise", "counterclockwise"}:
        return "the rotation edit says neither clockwise nor counterclockwise"
    return None


def _relation_object(record: Record) -> str | None:
    if not _text(record, "edited object"):
        return "the relation stage skips a record without an edited object"
    if record.get("direction") not in ("swap", "left", "right", "down", "upper"):
        return f"direction {record.get('direction')!r} is not one the relation stage moves by"
    return None


# -- records as written (files and names) ---------------------------------------------


def _condition_files(record: Record) -> str | None:
    if not _text(record, "edit object"):
        return "a visual condition record needs \"edit object\" (sic), which the stage reads"
    edited, image = _text(record, "edited_file"), _text(record, "image_file")
    if not edited or not image:
        return ("a visual condition record needs image_file and the edited_file made by "
                "AnyEdit's remove/replace image stage: visual_* records come after that stage")
    if not {"remove", "replace"} & set(edited.split("/")):
        return (f"edited_file {edited!r} is not under a remove/ or replace/ folder; the "
                "condition stage names its output by that folder")
    return None


def _textual_files(record: Record) -> str | None:
    files = [_text(record, k) for k in ("image_file", "edited_file")]
    if not all(files):
        return "textual_change needs both image_file and edited_file; the stage reads both"
    absolute = [f for f in files if f.startswith("/")]
    if absolute:
        return (f"{absolute[0]!r} is absolute; the textual stage joins image_file and "
                "edited_file under its AnyWord root")
    return None


def _type_name(record: Record) -> str | None:
    etype = _text(record, "edit_type")
    if etype and etype not in CONTRACTS:
        return f"edit_type {etype!r} is not a name AnyEdit's stages dispatch on"
    return None


_COLOUR = "filter_tool/pre_filter.py color_prefilter"
_LOCAL = "adaptive_editing_pipelines/local_pipeline_tool.py __main__"
_ACTION = "filter_tool/pre_filter.py action_prefilter"
_APPEAR = "filter_tool/pre_filter.py appearance_prefilter"
_WITH_EDIT = tuple(n for n in CONTRACTS if n != "implicit_change")

#: Every rule, in the order the docs table lists them.
STAGE_RULES: tuple[StageRule, ...] = (
    StageRule("stage_edit_final_punctuation", _WITH_EDIT, "pre_filter.py (all pre-filters)",
              "the edit has no final period or other punctuation", _final_period),
    StageRule("stage_colour_one_to", ("color_alter",), _COLOUR,
              "exactly one \"to \" in the edit, before the colour", _one_to),
    StageRule("stage_colour_once_in_output", ("color_alter",), _COLOUR,
              "the colour after \"to \" occurs exactly once in the output, as a word",
              _colour_in_output),
    StageRule("stage_object_word_in_input", ("color_alter", "appearance_alter"),
              "global_pipeline_tool.py, pre_filter.py pre_filter",
              "the edited object's last word is a space-split word of the input",
              _object_word_in_input),
    StageRule("stage_object_in_input",
              ("color_alter", "appearance_alter", "visual_material_transfer",
               "visual_reference"),
              "attribute_pipeline_tool.py, material_transfer_tool.py, visual_reference_tool.py",
              "the edited object is a substring of the input", _object_in_input),
    StageRule("stage_appearance_colour_word", ("appearance_alter",),
              "filter_tool/pre_filter.py pre_filter",
              "the appearance edit has no word \"color\"", _no_colour_word),
    StageRule("stage_appearance_person", ("appearance_alter",), _APPEAR,
              "no person word in the text after the last \"to \" / \"into \"",
              _appearance_person),
    StageRule("stage_appearance_size", ("appearance_alter",), _APPEAR,
              "no size/bigger/smaller/longer/shorter in the edit", _appearance_size),
    StageRule("stage_object_in_edit", LOCAL_OBJECT_TYPES, _LOCAL,
              "the edited object (the counted object's surface form too) is a substring "
              "of the edit", _object_in_edit),
    StageRule("stage_background_in_local_edit", LOCAL_OBJECT_TYPES, _LOCAL,
              "the edit does not contain \"background\"", _no_background),
    StageRule("stage_replace_person", ("replace",),
              "pre_filter.py replace_prefilter, local_pipeline_tool.py replace",
              "neither object is a person word; the new object's last word does not end "
              "like one (er/or/ist/ian/ee)", _replace_person),
    StageRule("stage_remove_number", ("counting",), _LOCAL,
              "remove_number is a whole number of at least 1", _remove_number),
    StageRule("stage_background_in_input", ("background_change",),
              "filter_tool/pre_filter.py background_prefilter",
              "the new background's last word is not a word of the input",
              _background_in_input),
    StageRule("stage_action_after_last_to", ("action_change",), _ACTION,
              "the last \"to \" is the word to, and the bare action word follows it "
              "(not be/have)", _action_target),
    StageRule("stage_action_in_input", ("action_change",), _ACTION,
              "the input does not already have the action (any inflection)",
              _action_in_input),
    StageRule("stage_action_clauses", ("action_change",), _ACTION,
              "input and output have as many \", \"-separated parts", _action_clauses),
    StageRule("stage_reference_token", ("visual_reference",),
              "other_instruction_gen.py, visual_reference_tool.py",
              f"edit and output name the reference {REFERENCE_TOKEN}", _reference_token),
    StageRule("stage_rotation_wording", ("rotation_change",), "rotation_change_tool.py",
              "the edit says clockwise or counterclockwise", _rotation_wording),
    StageRule("stage_relation_object", ("relation",), "relation_tool.py __main__",
              "an edited object, and a direction of swap/left/right/down/upper",
              _relation_object),
    StageRule("stage_visual_condition_files", VISUAL_CONDITIONS, "visual_condition_tool.py",
              "edit object (sic), image_file and an edited_file under remove/ or replace/",
              _condition_files, level="record"),
    StageRule("stage_textual_files", ("textual_change",), "textual_change_tool.py",
              "image_file and edited_file, both relative to the AnyWord root",
              _textual_files, level="record"),
    StageRule("stage_type_name", tuple(CONTRACTS), "tools/tool.py return_parameters",
              "edit_type is AnyEdit's name (outpainting, not outpaint)", _type_name,
              level="record"),
)


def rules_for(etype: str, level: Literal["answer", "record"] | None = None,
              ) -> tuple[StageRule, ...]:
    """The rules that concern ``etype`` (AnyEdit's name or an old alias), of one level."""
    name = canonical_type(etype) if etype not in CONTRACTS else etype
    return tuple(r for r in STAGE_RULES
                 if name in r.types and (level is None or r.level == level))


def first_failure(record: Record, rules: Iterable[StageRule] | None = None,
                  ) -> tuple[StageRule, str] | None:
    """The first rule ``record`` (AnyEdit's form) fails, with why; ``None``: it passes."""
    if rules is None:
        rules = rules_for(_text(record, "edit_type"))
    for rule in rules:
        why = rule(record)
        if why is not None:
            return rule, why
    return None


def anyedit_view(etype: str, caption: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """An answer (our field names) as the record AnyEdit will read: its keys, its type."""
    contract = CONTRACTS.get(etype)
    out: dict[str, Any] = {"edit_type": etype, "input": caption, **{
        k: result[k] for k in ("edit", "output") if k in result}}
    for key in contract.keys if contract else ():
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
    etype: str
    constraint: None = None

    @property
    def name(self) -> str:
        return self.rule.name

    def __call__(self, caption: str, result: Mapping[str, Any]) -> str | None:
        return self.rule(anyedit_view(self.etype, caption, result))


#: Rules the ``edit`` generator meets by rewriting the answer (it strips a final period
#: with :func:`strip_final_punctuation`), so they are not among its checks.
NORMALISED: tuple[str, ...] = ("stage_edit_final_punctuation",)


def answer_checks(etype: str) -> tuple[StageCheck, ...]:
    """The answer-level stage rules of ``etype`` as the ``edit`` generator's checks."""
    return tuple(StageCheck(r, etype) for r in rules_for(etype, "answer")
                 if r.name not in NORMALISED)


def strip_final_punctuation(edit: str) -> str:
    """``edit`` without a final period (AnyEdit's form): "Make the car red." -> "...red"."""
    return edit.rstrip().rstrip(_END_PUNCT).rstrip()


#: The test that passes and fails each rule (one case per rule).
RULE_TEST = "tests/anyedit/test_stage_rules.py::test_each_rule_passes_and_fails"


def stage_rules_table() -> str:
    """The rules as a Markdown table (rendered into docs/anyedit.md)."""
    lines = ["| check | types | where AnyEdit applies it | a record passes when | test |",
             "|---|---|---|---|---|"]
    for r in STAGE_RULES:
        types = ("every type" if set(r.types) >= set(_WITH_EDIT)
                 else ", ".join(f"`{t}`" for t in r.types))
        lines.append(f"| `{r.name}` | {types} | `{r.where}` | {r.rule} | "
                     f"`{RULE_TEST}[{r.name}]` |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m instructgen.plugins.anyedit.stage_rules > table.md
    print(stage_rules_table())
