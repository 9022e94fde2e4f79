"""The instruction of a rules-path edit: one phrasing per record, drawn from a bank per type.

Many verbs and sentence forms per type, so that records differ in wording as
well as in content (distinct-2). Slots, filled by :func:`render`:

``{o}`` the object as the caption names it, ``{the_o}`` with "the",
``{o_s}`` its possessive ("the dog's", "the giraffes'"), ``{is}``, ``{it}``,
``{its}``, ``{them}``, ``{looks}``, ``{one}`` in the forms that agree with
it (one dog, two dogs), ``{v}`` the new value, ``{a_v}`` the value after its
article, ``{old}`` what changes away (an action, a text), ``{rel}`` and
``{anchor}`` where an added object goes.

Every form keeps AnyEdit's stage rules: no final period; a colour or action
edit ends with "to <value>" and has no other "to " (no "into", "onto"); an
edit that is not a background change never says "background". A test runs
every form through the type's checks.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

BANKS: Mapping[str, tuple[str, ...]] = {
    "add": (
        "Add {a_v} {rel} the {anchor}",
        "Put {a_v} {rel} the {anchor}",
        "Place {a_v} {rel} the {anchor}",
        "Insert {a_v} {rel} the {anchor}",
        "Include {a_v} {rel} the {anchor}",
        "Add {a_v} somewhere {rel} the {anchor}",
        "Put {a_v} in the picture, {rel} the {anchor}",
        "Insert {a_v} into the scene {rel} the {anchor}",
        "Place {a_v} so that it sits {rel} the {anchor}",
        "Add one {v}, {rel} the {anchor}",
        "Have the picture include {a_v} {rel} the {anchor}",
        "Put one more thing in the scene: {a_v} {rel} the {anchor}",
        "Add {a_v} and place it {rel} the {anchor}",
        "Insert {a_v} right {rel} the {anchor}",
        "Add {a_v}, placed {rel} the {anchor}",
        "Include {a_v} in the image {rel} the {anchor}",
        "Place {a_v} in the photo {rel} the {anchor}",
    ),
    "remove": (
        "Remove {the_o}",
        "Remove {the_o} from the picture",
        "Delete {the_o}",
        "Erase {the_o} from the image",
        "Take {the_o} out of the scene",
        "Get rid of {the_o}",
        "Take away {the_o}",
        "Erase {the_o}",
        "Clear {the_o} away",
        "Delete {the_o} from the photo",
        "Remove {the_o} and keep everything else",
        "Erase {the_o} completely",
        "Delete {the_o} and leave the rest unchanged",
        "Take {the_o} out of the photo",
        "Erase {the_o} and fill in the space",
        "Delete {the_o} from this picture",
        "Get rid of {the_o} in the image",
        "Clear {the_o} from the scene",
    ),
    "replace": (
        "Replace {the_o} with {a_v}",
        "Swap {the_o} for {a_v}",
        "Change {the_o} into {a_v}",
        "Turn {the_o} into {a_v}",
        "Exchange {the_o} for {a_v}",
        "Replace {the_o} in the picture with {a_v}",
        "Swap out {the_o} and put {a_v} in {its} place",
        "Change {the_o} so that {a_v} {is} there instead",
        "Replace {the_o} by {a_v}",
        "Swap in {a_v} where {the_o} {is} now",
        "Turn {the_o} in the image into {a_v}",
        "Exchange {the_o} with {a_v}",
        "Replace {the_o} with {a_v} in the same spot",
        "Swap {the_o} out for {a_v}",
        "Change {the_o} in the photo to {a_v}",
    ),
    "color_alter": (
        "Change the color of {the_o} to {v}",
        "Change {o_s} color to {v}",
        "Recolor {the_o} to {v}",
        "Turn the color of {the_o} to {v}",
        "Paint {the_o}, changing {its} color to {v}",
        "Make {o_s} color change to {v}",
        "Recolour {the_o} from {its} current shade to {v}",
        "Change the shade of {the_o} to {v}",
        "Color {the_o} so that {its} color changes to {v}",
        "Switch the color of {the_o} over to {v}",
        "Change the paint on {the_o} to {v}",
        "Turn {o_s} color to {v}",
        "Paint over {the_o} so {its} color goes to {v}",
        "Colour {the_o} with a new shade: change {them} to {v}",
    ),
    "appearance_alter": (
        "Make {the_o} look {v}",
        "Make {the_o} appear {v}",
        "Give {the_o} a {v} look",
        "Change {the_o} so {it} {looks} {v}",
        "Transform {the_o} so that {it} {looks} {v}",
        "Make {the_o} {v}",
        "Change how {the_o} {looks}: make {them} {v}",
        "Give {the_o} a {v} appearance",
        "Transform {the_o} to look {v}",
        "Change the look of {the_o} so {it} {is} {v}",
        "Make {the_o} in the picture look {v}",
        "Change {the_o} into a {v} version",
    ),
    "material_alter": (
        "Make {the_o} out of {v}",
        "Turn {the_o} into {v}",
        "Change {the_o} to {v}",
        "Transform {the_o} into {v}",
        "Convert {the_o} to {v}",
        "Make {the_o} from {v} instead",
        "Change the material of {the_o} to {v}",
        "Turn {the_o} into a version made of {v}",
        "Make {the_o} look like {it} {is} made of {v}",
        "Convert {the_o} into {one} made of {v}",
        "Make {the_o} out of {v} instead",
        "Turn the material of {the_o} into {v}",
        "Change what {the_o} {is} made of to {v}",
    ),
    "texture_alter": (
        "Give {the_o} a {v} {surface}",
        "Make {the_o} {v}",
        "Cover {the_o} with a {v} {surface}",
        "Change {the_o} to a {v} {surface}",
        "Turn {the_o} {v}",
        "Change the surface of {the_o} so {it} {is} {v}",
        "Give the surface of {the_o} a {v} look",
        "Make the {surface} of {the_o} {v}",
        "Add a {v} {surface} to {the_o}",
        "Change the {surface} of {the_o} to {v}",
        "Give {the_o} a {v} finish",
        "Cover {the_o} in a {v} {surface}",
        "Change {the_o} so {it} {looks} {v}",
    ),
    "action_change": (
        "Change {o_s} action to {v}",
        "Change what {the_o} {is} doing to {v}",
        "Make {the_o} switch from {old} to {v}",
        "Have {the_o} switch to {v}",
        "Change {the_o} from {old} to {v}",
        "Switch {o_s} activity to {v}",
        "Let {the_o} go from {old} to {v}",
        "Make {the_o} change {its} pose to {v}",
        "Show {the_o} switching to {v}",
        "Change the pose of {the_o} to {v}",
        "Have {the_o} stop {old} and switch to {v}",
        "Change the activity of {the_o} to {v}",
        "Make {the_o} go from {old} to {v}",
        "Let {the_o} switch over to {v}",
    ),
    "background_change": (
        "Change the background to {a_v}",
        "Replace the background with {a_v}",
        "Put the scene {place}",
        "Move everything to {a_v}",
        "Set the scene {place}",
        "Place the subject {place}",
        "Swap the background for {a_v}",
        "Change the setting to {a_v}",
        "Replace the surroundings with {a_v}",
        "Move the scene so it is {place}",
        "Set the background to {a_v}",
        "Change the backdrop to {a_v}",
        "Put the subject in front of {a_v}",
        "Set everything in {a_v} instead",
        "Change the location to {a_v}",
        "Change where this happens to {a_v}",
        "Put everything in front of {a_v}",
        "Replace the setting with {a_v}",
        "Swap the surroundings for {a_v}",
    ),
    "tone_transfer": (
        "Make the scene happen {place}",
        "Change the scene so it is {place}",
        "Set the scene {place}",
        "Turn the picture into a scene {place}",
        "Make the photo look like it was taken {place}",
        "Change the {kind} to {v}",
        "Set the {kind} to {v}",
        "Turn the {kind} to {v}",
        "Change the mood by setting it {place}",
        "Make the picture look like a scene {place}",
        "Show this same scene {place}",
        "Make everything happen {place}",
        "Change the scene to how it would look {place}",
        "Turn this into a picture taken {place}",
        "Make the picture look as if it were {place}",
        "Change the scene to one {place}",
        "Set the whole picture {place}",
    ),
    "textual_change": (
        'Change the text "{old}" to "{v}"',
        'Replace "{old}" with "{v}"',
        'Rewrite "{old}" as "{v}"',
        'Edit the words "{old}" so they read "{v}"',
        'Update the text from "{old}" to "{v}"',
        'Change the lettering "{old}" so it says "{v}"',
        'Make the text read "{v}" instead of "{old}"',
        'Replace the words "{old}" with "{v}"',
        'Change "{old}" into "{v}"',
        'Rewrite the text "{old}" to say "{v}"',
        'Make the sign say "{v}" instead of "{old}"',
        'Edit "{old}" so it reads "{v}"',
        'Update the words "{old}" to "{v}"',
    ),
}
#: How tone_transfer's ``{kind}`` slot names each kind of tone.
KIND_WORDS = {"time": "time of day", "weather": "weather", "season": "season", "era": "era"}


def possessive(phrase: str, plural: bool) -> str:
    """"the dog's", "the giraffes'" (a plural ending in s takes the bare apostrophe)."""
    return f"{phrase}'" if plural and phrase.endswith("s") else f"{phrase}'s"


def render(etype: str, slots: Mapping[str, str], rng: random.Random,
           forms: tuple[str, ...] | None = None) -> str:
    """One phrasing of ``etype`` drawn with ``rng``, its slots filled.

    ``forms``: the forms to draw from (a subset the choice fits, say only those
    without ``{old}``); the type's whole bank otherwise.
    """
    bank = forms if forms is not None else BANKS[etype]
    text = rng.choice(bank).format(**slots)
    return text[:1].upper() + text[1:]


def usable(etype: str, slots: Mapping[str, str]) -> tuple[str, ...]:
    """The forms of ``etype`` whose slots are all given (a form needing ``{old}`` is left
    out when there is no old value)."""
    import string

    def needs(form: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(form) if f}

    return tuple(f for f in BANKS[etype] if needs(f) <= set(slots))
