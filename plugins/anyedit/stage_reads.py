"""How AnyEdit's filters and stage tools read a record, as predicates.

Each function takes a record in AnyEdit's form (``edited object``, ``new
background``, ...) and returns why one of AnyEdit's filters or stages would skip
it, or rewrite it so that edit and output disagree; ``None`` when it gets through.
They split, test substrings and compare case the way that code does, since that
decides the record's fate. :mod:`.stage_rules` names them, says where AnyEdit
applies each and to which types, and runs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .contract import ANYEDIT_TYPES

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
END_PUNCT = ".!;:,"


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


def final_period(record: Record) -> str | None:
    edit = _text(record, "edit").rstrip()
    if edit and edit[-1] in END_PUNCT:
        return (f"the edit ends with {edit[-1]!r}; AnyEdit's instructions have no final "
                "punctuation and its pre-filters read the last words as they stand")
    return None


# -- colour (pre_filter.color_prefilter, global_pipeline_tool, attribute_pipeline_tool) --


def one_to(record: Record) -> str | None:
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


def colour_in_output(record: Record) -> str | None:
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


def object_word_in_input(record: Record) -> str | None:
    obj = _text(record, "edited object")
    last = obj.split(" ")[-1]
    caption = _text(record, "input")
    if not obj or last not in _to_words_global(caption) or \
            last not in _to_words_prefilter(caption):
        return (f"the edited object's last word {last!r} is not a word of the input (split on "
                "spaces, case kept); the colour stage and the pre-filter skip such a record")
    return None


def object_in_input(record: Record) -> str | None:
    obj = _text(record, "edited object")
    if not obj or obj not in _text(record, "input"):
        return (f"the edited object {obj!r} is not a substring of the input; the attribute "
                "stage skips such a record")
    return None


# -- appearance (pre_filter.pre_filter, appearance_prefilter) --------------------------


def no_colour_word(record: Record) -> str | None:
    if "color" in _text(record, "edit").strip().split(" "):
        return "the appearance edit has the word \"color\"; the pre-filter skips it"
    return None


def appearance_person(record: Record) -> str | None:
    edit = _text(record, "edit")
    tails = (edit.split("to ")[-1], edit.split("into ")[-1])
    found = [w for w in PERSON_WORDS[:6] if any(w in t for t in tails)]
    if found:
        return (f"the end of the appearance edit contains {found[0]!r} (as text); "
                "appearance_prefilter drops edits that turn something into a person")
    return None


def appearance_size(record: Record) -> str | None:
    found = [w for w in SIZE_WORDS if w in _text(record, "edit")]
    if found:
        return (f"the appearance edit contains {found[0]!r} (as text); appearance_prefilter "
                "drops size changes")
    return None


# -- local stage (local_pipeline_tool) ------------------------------------------------


def object_in_edit(record: Record) -> str | None:
    obj = _text(record, "edited object")
    if not obj or obj not in _text(record, "edit"):
        return (f"the edited object {obj!r} is not a substring of the edit; the local stage "
                "skips such a record")
    return None


def no_background(record: Record) -> str | None:
    if "background" in _text(record, "edit"):
        return "the edit says \"background\"; the local stage skips such a record"
    return None


def _human_like(word: str) -> bool:
    return any(f in PERSON_WORDS or f.endswith(HUMAN_SUFFIXES) for f in _noun_lemmas(word))


def replace_person(record: Record) -> str | None:
    old, new = _text(record, "edited object"), _text(record, "new object")
    if old in PERSON_WORDS[:6] or new in PERSON_WORDS[:6]:
        return "the replace stage skips a record whose object or new object is a person word"
    last = new.split(" ")[-1]
    if _human_like(last):
        return (f"the new object's last word {last!r} is a person word or ends like one "
                f"({'/'.join(HUMAN_SUFFIXES)}); replace_prefilter drops it")
    return None


def remove_number(record: Record) -> str | None:
    n = record.get("remove_number")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return f"remove_number {n!r} is not a whole number of at least 1"
    return None


# -- background (pre_filter.background_prefilter) -------------------------------------


def background_in_input(record: Record) -> str | None:
    last = _text(record, "new background").split(" ")[-1]
    if last and last in _text(record, "input").strip(".").split(" "):
        return (f"the new background's last word {last!r} is already a word of the input; "
                "background_prefilter drops the record")
    return None


# -- action (pre_filter.action_prefilter) ---------------------------------------------


def action_target(edit: str) -> str:
    """The action as ``action_prefilter`` reads it: the first word after the last "to "."""
    return edit.split("to ")[-1].split(" ")[0]


def action_after_to(record: Record) -> str | None:
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


def action_in_input(record: Record) -> str | None:
    action = action_target(_text(record, "edit"))
    lemmas = _verb_lemmas(action)
    found = [w for w in _text(record, "input").lower().strip(".").replace(",", "").split()
             if _verb_lemmas(w) & lemmas]
    if action and found:
        return (f"the input already has the action {found[0]!r}; action_prefilter drops an "
                "edit whose action the input already shows")
    return None


def action_clauses(record: Record) -> str | None:
    n_in = len(_text(record, "input").split(", "))
    n_out = len(_text(record, "output").split(", "))
    if n_in != n_out:
        return (f"the input has {n_in} comma-separated part(s) and the output {n_out}; "
                "action_prefilter pairs them up and cuts both, losing text")
    return None


# -- rule-made types ------------------------------------------------------------------


def reference_token(record: Record) -> str | None:
    missing = [k for k in ("edit", "output") if REFERENCE_TOKEN not in _text(record, k)]
    if missing:
        return (f"the {' and '.join(missing)} do(es) not name the reference as "
                f"{REFERENCE_TOKEN}; the reference stage pastes the object shown there")
    return None


def rotation_wording(record: Record) -> str | None:
    words = set(re.findall(r"[a-z]+", _text(record, "edit").lower()))
    if not words & {"clockwise", "counterclockwise"}:
        return "the rotation edit says neither clockwise nor counterclockwise"
    return None


def relation_object(record: Record) -> str | None:
    if not _text(record, "edited object"):
        return "the relation stage skips a record without an edited object"
    if record.get("direction") not in ("swap", "left", "right", "down", "upper"):
        return f"direction {record.get('direction')!r} is not one the relation stage moves by"
    return None


# -- records as written (files and names) ---------------------------------------------


def condition_files(record: Record) -> str | None:
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


def textual_files(record: Record) -> str | None:
    files = [_text(record, k) for k in ("image_file", "edited_file")]
    if not all(files):
        return "textual_change needs both image_file and edited_file; the stage reads both"
    absolute = [f for f in files if f.startswith("/")]
    if absolute:
        return (f"{absolute[0]!r} is absolute; the textual stage joins image_file and "
                "edited_file under its AnyWord root")
    return None


def type_name(record: Record) -> str | None:
    etype = _text(record, "edit_type")
    if etype and etype not in ANYEDIT_TYPES:
        return f"edit_type {etype!r} is not a name AnyEdit's stages dispatch on"
    return None
