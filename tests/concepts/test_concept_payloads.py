"""Each concept generator's declared keys are read off the class its records are built
from; all are always present (``cc2cap``'s ``background`` is null, never missing)."""

from __future__ import annotations

import instructgen.plugins.concepts as concepts
from instructgen.plugin import PayloadKeys
from instructgen.plugins.concepts.payloads import PairCaptionPayload


def _produces(name: str) -> PayloadKeys:
    """The keys the registered generator ``name`` declares (the same for any options)."""
    spec = next(g for g in concepts.instructgen_generators() if g.name == name)
    assert spec.produces is not None
    return spec.produces(None, None)


def test_every_key_is_always_present() -> None:
    expected = {
        "c2b": {"concept", "backgrounds", "target", "complete", "attempts", "invalid_answers",
                "counts", "dropped", "sources"},
        "c2cap": {"concept", "caption", "sources"},
        "cb2cap": {"concept", "background", "caption", "mentions_background",
                   "background_overlap", "sources"},
        "cc2cap": {"concepts", "sources", "caption", "base_caption", "background",
                   "background_appended", "has_scene"},
    }
    for name, keys in expected.items():
        declared = _produces(name)
        assert declared.always == keys and not declared.may and not declared.open, name


def test_pair_caption_writes_a_null_background_in_declared_order() -> None:
    record = PairCaptionPayload(concepts=["cat", "ladder"], sources={"cat": [], "ladder": []},
                                caption="A cat beside a ladder.",
                                base_caption="A cat beside a ladder.", background=None,
                                background_appended=False, has_scene=False).payload()
    assert list(record) == ["concepts", "sources", "caption", "base_caption", "background",
                            "background_appended", "has_scene"]
    assert record["background"] is None
