"""The ``expression_change`` edit type: change how a person or animal looks emotionally.

An :class:`EditType` is data: the prompt parts, at least eight few-shot
examples and the checks the ``edit`` generator runs on every answer. The
builtin checks come from :mod:`instructgen.plugins.edits.checks`.
"""

from __future__ import annotations

from instructgen.plugins.edits import EditExample, EditType
from instructgen.plugins.edits.checks import (
    in_input,
    names_one_of,
    output_differs,
    text_in_output,
)

#: Expressions the new state must name (whole words).
EXPRESSIONS = ("happy", "sad", "angry", "surprised", "scared", "bored", "calm", "smiling",
               "laughing", "frowning", "crying", "sleepy", "worried", "excited", "proud",
               "confused", "grumpy", "cheerful", "shocked", "serious")


def _ex(before: str, edit: str, after: str, who: str, state: str) -> EditExample:
    return EditExample(input=before, edit=edit, output=after,
                       fields={"edited_object": who, "new_state": state})


EXPRESSION_CHANGE = EditType(
    name="expression_change",
    title="facial expression change",
    description="change the facial expression of one person or animal the caption mentions",
    verbs=("make", "give", "change", "turn", "show"),
    fields=("edited_object", "new_state"),
    field_hints={"edited_object": "the person or animal whose expression changes; it must be "
                                  "in the caption",
                 "new_state": "the new expression, one word such as happy, sad or surprised"},
    needs="noun",
    judge_question="Does the instruction change only the facial expression of a person or "
                   "animal? Is this a facial expression change instruction?",
    checks=(output_differs(), in_input("edited_object"), text_in_output("new_state"),
            names_one_of("new_state", EXPRESSIONS, "expression")),
    rules=("Keep the pose, the place and every other object as they are.",),
    examples=(
        _ex("A woman reading a letter at a kitchen table.",
            "Make the woman look surprised.",
            "A surprised woman reading a letter at a kitchen table.", "woman", "surprised"),
        _ex("A dog sitting by the front door.",
            "Give the dog a happy expression.",
            "A happy dog sitting by the front door.", "dog", "happy"),
        _ex("A boy holding an ice cream cone on a sidewalk.",
            "Make the boy look sad.",
            "A sad boy holding an ice cream cone on a sidewalk.", "boy", "sad"),
        _ex("An old man sitting on a bench in a park.",
            "Change the man's expression to cheerful.",
            "A cheerful old man sitting on a bench in a park.", "man", "cheerful"),
        _ex("A cat lying on a sofa cushion.",
            "Make the cat look grumpy.",
            "A grumpy cat lying on a sofa cushion.", "cat", "grumpy"),
        _ex("A girl standing at a bus stop with an umbrella.",
            "Show the girl laughing.",
            "A laughing girl standing at a bus stop with an umbrella.", "girl", "laughing"),
        _ex("A baby in a high chair with a bowl of cereal.",
            "Make the baby look sleepy.",
            "A sleepy baby in a high chair with a bowl of cereal.", "baby", "sleepy"),
        _ex("A horse standing in a stable.",
            "Turn the horse's look into a calm one.",
            "A calm horse standing in a stable.", "horse", "calm"),
        _ex("A man in a suit looking at his phone on a train.",
            "Make the man look worried.",
            "A worried man in a suit looking at his phone on a train.", "man", "worried"),
    ),
)
