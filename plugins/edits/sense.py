"""Checks that an edit makes sense, not only that it has the right form (issue 27).

The consistency checks of :mod:`.checks` test form: the edited object is in
the caption, the colour is after "to". Under a grammar a small model passes
them with records no dataset builder keeps: an output about a bicycle for a
living-room caption, a background_change that moves a seagull, an output
that says the same thing three times. These checks read the record as a
reader would:

* fluency, on the instruction and on the output caption: the signs of
  :mod:`instructgen.plugins.sense` (reasons ``edit_<sign>`` and
  ``output_<sign>``), and an output much longer than its input
  (``output_too_long``); a sign the input caption already shows is not the
  output's fault and is not held against it;
* minimal edit, for local types: the output keeps most of the input's words
  (``output_drops_input``) and its new words come from the instruction or
  the edit's fields (``output_adds_unasked``);
* type fit: a background_change replaces the place and keeps the subject
  (``background_not_changed``, ``background_kept``, ``subject_lost``); a
  tone_transfer changes only time, weather, season or era
  (``tone_changes_more``); an action_change gives the edited object a new
  verb (``action_not_changed``); a colour, material or texture edit names a
  value the input did not have (``colour_not_new``, ...) and drops the old
  colour it replaces (``old_colour_kept``: "a gold red kite").

:func:`sense_checks` gives the list for one edit type; the generator runs it
after the type's own checks on every answer, whatever the backend or path.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from itertools import pairwise
from typing import Any

from instructgen.plugins import sense
from instructgen.text import words

from .checks import has_object, object_phrase
from .prefilter import HeuristicAnalyzer
from .types import Check, EditType
from .vocab import COLOURS, MATERIALS, TEXTURES, TONE_STATES

#: Share of the input caption's content words a local edit's output keeps (the words
#: of the edited object and of the replaced text aside). The issue's sign check
#: flagged outputs sharing under 40% of the input's words; a one-thing edit of a
#: caption keeps far more than that, so 60% leaves room for rewording.
KEEP_SHARE = 0.6
#: A tone_transfer keeps more: it changes the light or weather, not the things.
TONE_KEEP_SHARE = 0.7
#: New content words an output may bring that neither the instruction nor the fields
#: name ("a frozen lake" in a winter edit, "lit shops" at night).
UNASKED_MAX = 2
#: Prepositions that open the place phrase of a caption ("... on a rock by the sea").
_PLACE_WORDS = sense.word_set("""
in on at by near beside behind under inside along across through over against
""")
#: Words a tone_transfer may drop or bring: its states and what they describe ("a clear
#: day" at dawn, "a stormy sky").
_TONE_WORDS = frozenset({w.lower() for entry in TONE_STATES
                         for w in entry.replace("-", " ").split()}
                        | {"day", "sky", "light", "weather", "time", "season", "scene"})


def _stems(text: str) -> set[str]:
    return {f for w in sense.content_words(text) for f in sense.word_forms(w)}


def _covered(word: str, stems: set[str]) -> bool:
    return any(f in stems for f in sense.word_forms(word))


def _field_texts(result: Mapping[str, Any], etype: EditType) -> list[str]:
    return [str(result[f]) for f in etype.fields if isinstance(result.get(f), str)]


# -- fluency ----------------------------------------------------------------------------


def fluent(target: str, reason: str) -> Check:
    """``target`` (``edit`` or ``output``) does not show the sign ``reason``.

    Words and letters of the input caption count as known; for the output, a
    sign the input caption shows as well is left alone.
    """
    sign = sense.SIGNS[reason]

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        problem = sign(result[target], (caption,))
        if problem is None or (target == "output" and sign(caption, ()) is not None):
            return None
        return f"the {'instruction' if target == 'edit' else 'output caption'}: {problem}"

    return Check(f"{target}_{reason}", run)


def output_not_too_long() -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        problem = sense.output_too_long(caption, result["output"])
        return None if problem is None else f"the output caption has {problem}"

    return Check(sense.OUTPUT_TOO_LONG, run)


# -- minimal edit -----------------------------------------------------------------------


def keeps_input(etype: EditType, share: float = KEEP_SHARE) -> Check:
    """The output keeps ``share`` of the input's content words, bar those the edit replaces."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        gone = set()
        if etype.name in ("remove", "replace"):
            gone |= _stems(str(result.get("edited_object", "")))
        if "text_before" in result:
            gone |= _stems(str(result["text_before"]))
        wanted = [w for w in dict.fromkeys(sense.content_words(caption))
                  if not _covered(w, gone)]
        if etype.name == "remove":  # what the removed thing did goes with it ("sleeping")
            wanted = [w for w in wanted if not _analyzer().has(w, "verb")]
        if not wanted:
            return None
        have = _stems(result["output"])
        kept = [w for w in wanted if _covered(w, have)]
        if len(kept) < share * len(wanted):
            lost = [w for w in wanted if w not in kept]
            return (f"the output keeps {len(kept)} of the input's {len(wanted)} content words "
                    f"(at least {share:.0%}); lost: {', '.join(lost[:6])}")
        return None

    return Check("output_drops_input", run)


def only_asked_words(etype: EditType, extra: Collection[str] = (),
                     most: int = UNASKED_MAX) -> Check:
    """The output's new content words come from the input, the instruction or the fields.

    ``extra``: words a type may always bring (a tone_transfer's time and weather words).
    """

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        allowed = _stems(caption) | _stems(result["edit"]) | set(extra)
        for text in _field_texts(result, etype):
            allowed |= _stems(text)
        new = [w for w in dict.fromkeys(sense.content_words(result["output"]))
               if not _covered(w, allowed)]
        if len(new) > most:
            return (f"the output brings {len(new)} words that neither the input, the "
                    f"instruction nor the fields have (at most {most}): {', '.join(new[:6])}")
        return None

    return Check("output_adds_unasked", run)


# -- type fit ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _analyzer() -> HeuristicAnalyzer:
    return HeuristicAnalyzer()


def _subject(caption: str) -> str | None:
    """The caption's first noun phrase (what a background change must keep)."""
    found = _analyzer().objects(caption)
    return found[0] if found else None


def _place_phrase(caption: str) -> list[str]:
    """The content words after the caption's first place preposition ("rock", "sea")."""
    ws = [w.lower() for w in words(caption)]
    for i, w in enumerate(ws):
        if i > 0 and w in _PLACE_WORDS:
            return [t for t in ws[i + 1:] if t not in sense.FUNCTION_WORDS]
    return []


def background_fits() -> Check:
    """A background_change puts a new place in, drops the old one and keeps the subject."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        new = sense.content_words(object_phrase(result["new_background"]))
        if new and all(_covered(w, _stems(caption)) for w in new):
            return (f"new_background {result['new_background']!r} is already in the input "
                    f"caption")
        return None

    return Check("background_not_changed", run)


def background_replaced() -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        old = _place_phrase(caption)
        new = _stems(result["new_background"])
        old = [w for w in old if not _covered(w, new)]
        if old and all(_covered(w, _stems(result["output"])) for w in old):
            return (f"the output keeps the old place ({' '.join(old)}) besides the new "
                    f"background")
        return None

    return Check("background_kept", run)


def keeps_subject() -> Check:
    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        subject = _subject(caption)
        if subject is not None and not has_object(result["output"], subject):
            return f"the output drops the caption's subject {subject!r}"
        return None

    return Check("subject_lost", run)


def _verbs(text: str) -> list[str]:
    return [w for w in sense.content_words(text) if _analyzer().has(w, "verb")]


def action_changed() -> Check:
    """An action_change gives the output a verb the input does not have."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        before = {f for w in _verbs(caption) for f in sense.word_forms(w)}
        if not any(not _covered(v, before) for v in _verbs(result["output"])):
            return "the output caption has no new verb: the action did not change"
        return None

    return Check("action_not_changed", run)


def tone_only() -> Check:
    """A tone_transfer keeps the things of the input; only tone words come and go."""

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        wanted = [w for w in dict.fromkeys(sense.content_words(caption))
                  if w not in _TONE_WORDS]
        have = _stems(result["output"])
        kept = [w for w in wanted if _covered(w, have)]
        if wanted and len(kept) < TONE_KEEP_SHARE * len(wanted):
            lost = [w for w in wanted if w not in kept]
            return (f"the output keeps {len(kept)} of the input's {len(wanted)} content words "
                    f"(at least {TONE_KEEP_SHARE:.0%}); lost: {', '.join(lost[:6])}")
        return None

    return Check("tone_changes_more", run)


def _vocab_words(text: str, vocab: frozenset[str]) -> list[str]:
    return [w.replace("grey", "gray") for w in (t.lower() for t in words(text)) if w in vocab]


def new_value(vocab: Iterable[str], what: str) -> Check:
    """The output names a ``what`` (colour, material, texture) the input did not have.

    "Paint the cat gray" on "A grey cat" and "make a stone bridge" on "an old
    stone bridge" change nothing; the type's own checks only ask that the
    output names one.
    """
    known = frozenset(w.lower() for w in vocab)

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        before = set(_vocab_words(caption, known))
        after = _vocab_words(result["output"], known)
        if after and all(w in before for w in after):
            return f"the output names no {what} the input caption did not already have"
        return None

    return Check(f"{what}_not_new", run)


def old_value_dropped(vocab: Iterable[str], what: str) -> Check:
    """The new colour replaces the old one: "A gold red kite" keeps the input's "red"."""
    known = frozenset(w.lower() for w in vocab)

    def run(caption: str, result: Mapping[str, Any]) -> str | None:
        before = set(_vocab_words(caption, known))
        ws = [w.lower().replace("grey", "gray") for w in words(result["output"])]
        for a, b in pairwise(ws):
            if a in known and b in known and a != b and (a in before) != (b in before):
                return f"the output keeps the old {what} beside the new one ({a} {b})"
        return None

    return Check(f"old_{what}_kept", run)


# -- per type ---------------------------------------------------------------------------

#: The signs held against the instruction and the output. Several sentences are
#: allowed in neither; a non-word in the instruction is as bad as in the caption.
_SIGNS: tuple[str, ...] = tuple(sense.SIGNS)


def sense_checks(etype: EditType) -> tuple[Check, ...]:
    """Every sense check for ``etype``: fluency, minimal edit (local types), type fit."""
    checks: list[Check] = [fluent("edit", r) for r in _SIGNS]
    checks += [fluent("output", r) for r in _SIGNS]
    checks.append(output_not_too_long())
    if etype.scope == "local":
        checks += [keeps_input(etype), only_asked_words(etype)]
    checks += list(_type_fit(etype))
    return tuple(checks)


def _type_fit(etype: EditType) -> Iterable[Check]:
    if etype.name == "background_change":
        yield from (background_fits(), background_replaced(), keeps_subject())
    elif etype.name == "tone_transfer":
        yield from (tone_only(), only_asked_words(etype, extra=_TONE_WORDS))
    elif etype.name == "action_change":
        yield action_changed()
    elif etype.name == "color_alter":
        yield from (new_value(COLOURS, "colour"), old_value_dropped(COLOURS, "colour"))
    elif etype.name == "material_alter":
        yield from (new_value(MATERIALS, "material"), old_value_dropped(COLOURS, "colour"))
    elif etype.name == "texture_alter":
        yield new_value(TEXTURES, "texture")
