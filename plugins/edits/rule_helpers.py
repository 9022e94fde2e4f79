"""What the rule-derived edit types share: reading the source record, wording, counting.

``from_record`` picks out an earlier ``remove``/``replace`` record, ``derived``
builds the ``derived_from`` provenance every rule record carries, and the noun
helpers (``article``, ``singular``, ``plural``, ``number_value``) word the edits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from instructgen.records import SourceItem

from .prefilter import word_set
from .vocab import IRREGULAR_PLURALS, NUMBER_WORDS

#: One word of a caption, as the counting rule reads it (digits count as words).
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_NOT_PLURAL = word_set("is was has its this his us bus gas plus less yes always across "
                       "perhaps grass glass dress class chess press boss moss cross")


def from_record(item: SourceItem, kinds: tuple[str, ...]) -> Mapping[str, Any] | None:
    """The item's data if it is an earlier edit record of ``kinds`` with the keys rules read."""
    data = item.data
    if data.get("edit_type") not in kinds:
        return None
    needed = ("input", "output", "edited_object") + (
        ("new_object",) if data["edit_type"] == "replace" else ())
    if not all(isinstance(data.get(k), str) and data[k].strip() for k in needed):
        return None
    return data


def derived(item: SourceItem, **more: Any) -> dict[str, Any]:
    """The ``derived_from`` of a rule record: the item, the source record, and ``more``."""
    data = item.data
    out = {"item_id": item.id}
    for key in ("record_id", "record_generator", "edit_type"):
        if key in data:
            out[key.replace("record_generator", "generator")] = data[key]
    return {**out, **more}


def article(phrase: str) -> str:
    """``a``/``an`` before a singular phrase; nothing before a plural-looking one."""
    last = phrase.split()[-1].lower() if phrase.split() else ""
    if last.endswith("s") and not last.endswith("ss"):
        return phrase
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def singular(noun: str) -> str:
    """The singular of a plural noun, its case kept ("Boats" -> "Boat")."""
    low = noun.lower()
    if low in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[low]
    if low.endswith("ies") and len(low) > 4:
        return noun[:-3] + "y"
    if low.endswith(("ches", "shes", "xes", "sses")):
        return noun[:-2]
    return noun[:-1] if low.endswith("s") else noun


def is_plural(token: str) -> bool:
    """Whether a caption word looks like a plural noun ("boats", "mice"; not "glass")."""
    low = token.lower()
    if low in IRREGULAR_PLURALS:
        return True
    return len(low) > 3 and low.endswith("s") and not low.endswith("ss") and low not in _NOT_PLURAL


def number_value(token: str) -> int | None:
    """The number a word or a one- or two-digit numeral stands for; None if not a number."""
    low = token.lower()
    if low in NUMBER_WORDS:
        return NUMBER_WORDS[low]
    return int(low) if low.isdigit() and len(low) <= 2 else None


def plural(noun: str) -> str:
    """A rule-based plural of a singular noun phrase (its last word)."""
    head, _, last = noun.rpartition(" ")
    low = last.lower()
    irregular = {v: k for k, v in IRREGULAR_PLURALS.items() if k != v}
    if low in irregular:
        out = irregular[low]
    elif low in IRREGULAR_PLURALS.values() and low in IRREGULAR_PLURALS:
        out = last  # sheep, deer, fish
    elif low.endswith(("s", "x", "ch", "sh", "z")):
        out = last + "es"
    elif low.endswith("y") and len(low) > 1 and low[-2] not in "aeiou":
        out = last[:-1] + "ies"
    else:
        out = last + "s"
    return f"{head} {out}" if head else out


def instances(item: SourceItem) -> list[tuple[str, list[float]]]:
    """The item's object instances ``(category, [x, y, w, h])``, crowd regions left out."""
    out = []
    for obj in item.data.get("objects") or ():
        if not isinstance(obj, Mapping) or obj.get("iscrowd"):
            continue
        name, box = obj.get("name"), obj.get("bbox")
        if isinstance(name, str) and isinstance(box, list) and len(box) == 4:
            out.append((name, [float(v) for v in box]))
    return out
