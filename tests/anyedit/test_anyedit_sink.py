"""The ``anyedit`` sink writes AnyEdit's key names (with spaces)."""

from __future__ import annotations

import json

from builtin_types import anyedit_sink

from instructgen.records import OutputRecord


def encode(data, **options):
    options.setdefault("stage_rules", "off")  # these tests are about keys; see the rule tests
    sink = anyedit_sink(**options)
    return json.loads(sink.encode(OutputRecord(id="r", item_id="i", generator="edit",
                                               data=data)))


def test_replace_record_gets_anyedit_keys():
    out = encode({"edit_type": "replace", "edit": "Replace the cat with a dog.",
                  "input": "A cat.", "output": "A dog.", "edited_object": "cat",
                  "new_object": "dog", "image_file": "1.jpg", "judge": "yes"})
    assert out == {"id": "r", "edit": "Replace the cat with a dog.", "edited object": "cat",
                   "new object": "dog", "input": "A cat.", "output": "A dog.",
                   "edit_type": "replace", "image_file": "1.jpg"}


def test_background_tone_textual_and_url():
    assert encode({"edit_type": "background_change", "edit": "e", "input": "i",
                   "output": "o", "new_background": "beach"})["new background"] == "beach"
    assert encode({"edit_type": "tone_transfer", "edit": "e", "input": "i", "output": "o",
                   "new_state": "night"})["new state"] == "night"
    out = encode({"edit_type": "textual", "edit": "e", "input": "i", "output": "o",
                  "text_before": "OPEN", "text_after": "SHUT", "url": "http://x/1.jpg"},
                 edit_type_names={"textual": "textual_change"})
    assert (out["edited object"], out["new object"]) == ("OPEN", "SHUT")
    assert out["edit_type"] == "textual_change"
    # The textual stage joins both files under its root; the url stays as it was.
    assert out["url"] == "http://x/1.jpg"
    assert (out["image_file"], out["edited_file"]) == ("input_img/1.jpg", "edited_img/1.jpg")


def test_multi_turn_keeps_every_turn_and_other_fields_on_request():
    turn = {"edit_type": "add", "edit": "Add a hat.", "input": "A man.",
            "output": "A man in a hat.", "edited_object": "hat", "judge": "yes"}
    out = encode({"edit_type": "multi_turn", "num_turns": 1, "input": "A man.",
                  "output": "A man in a hat.", "turns": [turn]}, keep_other_fields=True)
    assert out["edit_type"] == "multi_turn" and out["num_turns"] == 1
    assert out["turns"] == [{"edit": "Add a hat.", "edited object": "hat", "input": "A man.",
                             "output": "A man in a hat.", "edit_type": "add", "judge": "yes"}]
