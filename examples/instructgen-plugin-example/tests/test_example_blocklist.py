"""The ``word_blocklist`` post-processor: whole words only, reject or mask."""

from __future__ import annotations

import pytest
from instructgen import OutputRecord, Reject

from instructgen_example import plugin
from instructgen_example.blocklist import BlocklistOptions, WordBlocklist


def rec(**data):
    return OutputRecord(id="1", item_id="1", generator="edit", data=data)


def test_rejects_a_blocked_word_but_not_a_longer_word_containing_it():
    pp = WordBlocklist(BlocklistOptions(words=["ass"]))
    kept = rec(edit="Put a glass on the table.", output="A glass on a table.")
    assert pp.process(kept) is kept
    with pytest.raises(Reject) as err:
        pp.process(rec(edit="Add an ass to the field.", output="x"))
    assert err.value.reason == "blocked_word" and "edit uses ass" in err.value.detail


def test_mask_rewrites_only_the_listed_fields():
    pp = WordBlocklist(BlocklistOptions(words=["angry", "very sad"], action="mask",
                                        fields=["edit"]))
    out = pp.process(rec(edit="Make him Angry, very sad too.", output="An angry man."))
    assert out.data == {"edit": "Make him ***, *** too.", "output": "An angry man."}


def test_options_need_words(registry_with):
    spec = registry_with(plugin).get("postprocessor", "word_blocklist")
    with pytest.raises(ValueError, match="at least one"):
        spec.options(words=[])
