"""The headline of issue 28: the share of a run's accepted records that pass every stage.

Every type is run on the example captions (COCO, LLaVA-CC3M, AnyWord, COCO instances,
earlier edit records and the image stage's output). Each accepted record is written
as AnyEdit reads it (the sink with its own stage rules off, so nothing is hidden) and
goes through the readers of AnyEdit's filters and stages in test_anyedit_contract.py;
it passes when no reader drops it and, after the rewriting filters, edit and output
still agree. ``python tests/anyedit/test_anyedit_stage_share.py [--backend llamacpp] [--limit N]
[--compose model|rules|auto]``
prints the figure per type.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run by path: test_anyedit_contract imports tests/edits/edit_fakes,
    # a folder tests/conftest.py puts on sys.path under pytest (HELPER_FOLDERS)
    sys.path.append(str(Path(__file__).resolve().parents[1] / "edits"))

from builtin_types import DEFAULT_MIX, RULE_TYPES, anyedit_sink
from test_anyedit_contract import assert_still_agree, through_stages

from instructgen.records import OutputRecord

REPO = Path(__file__).resolve().parents[2]
EX = "examples/edits"
_SINK = {"name": "anyedit"}
#: One run per source of captions, together covering every type we write.
RUNS: dict[str, dict[str, Any]] = {
    "llm_coco": {"source": {"name": "coco", "path": f"{EX}/coco_captions.json",
                            "captions": "all"},
                 "generator": {"name": "edit", "types": DEFAULT_MIX[:-1]}},
    "llm_llava": {"source": {"name": "llava_cc3m", "path": f"{EX}/llava_cc3m.json"},
                  "generator": {"name": "edit", "types": DEFAULT_MIX[:-1]}},
    "llm_anyword": {"source": {"name": "anyword", "path": f"{EX}/anyword_data.json"},
                    "generator": {"name": "edit", "types": ["textual_change"]}},
    "rules_instances": {"source": {"name": "coco", "path": f"{EX}/coco_captions.json",
                                   "instances": f"{EX}/coco_instances.json", "captions": "all"},
                        "generator": {"name": "edit_rules",
                                      "types": ["counting", "relation", "rotation_change",
                                                "outpainting", "style_change"]}},
    "rules_records": {"source": {"name": "records", "path": f"{EX}/edit_records.jsonl"},
                      "generator": {"name": "edit_rules",
                                    "types": ["movement", "resize", "visual_reference",
                                              "visual_material_transfer", "material_change"]}},
    "rules_stage": {"source": {"name": "anyedit_records",
                               "path": f"{EX}/remove_replace_stage.json"},
                    "generator": {"name": "edit_rules",
                                  "types": [t for t in RULE_TYPES if t.startswith("visual_")
                                            and t not in ("visual_reference",
                                                          "visual_material_transfer")]}},
}


def measure(backend: Any, out: Path, *, attempts: int = 3, limit: int | None = None,
            compose: str | None = None) -> dict[str, Counter[str]]:
    """Per edit type: how many accepted records there were and how many pass every stage."""
    import instructgen

    sink = anyedit_sink(stage_rules="off")
    counts: dict[str, Counter[str]] = {}
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        for name, part in RUNS.items():
            recipe = {"seed": 11, "output_dir": str(out / name), "cache": {"enabled": False},
                      "sink": _SINK, **json.loads(json.dumps(part)),
                      **({"limit": limit} if limit else {})}
            if recipe["generator"]["name"] == "edit":
                recipe["generator"].update(attempts=attempts, examples=2, max_tokens=96)
                if compose:  # who writes edit and output: the model, rules, or auto
                    recipe["generator"]["compose"] = compose
            before = sum(c["accepted"] for c in counts.values())
            result = instructgen.run(recipe, backend=backend, autoload=False)
            for line in (out / name / "records.jsonl").read_text().splitlines():
                record = OutputRecord(**{k: v for k, v in json.loads(line).items()
                                         if k in ("id", "item_id", "generator", "data")})
                obj = json.loads(sink.encode(record) or "null")
                c = counts.setdefault(obj["edit_type"], Counter())
                c["accepted"] += 1
                after, dropped = through_stages(obj)
                try:
                    assert_still_agree(obj, after)
                except AssertionError:
                    dropped.append("disagree")
                c["pass" if not dropped else "fail"] += 1
            assert result.accepted == sum(c["accepted"] for c in counts.values()) - before
            for line in (out / name / "rejects.jsonl").read_text().splitlines():
                rej = json.loads(line)
                if rej["reason"].startswith("stage_"):  # what the stage rules cost
                    etype = (rej.get("data") or {}).get("edit_type", "?")
                    counts.setdefault(etype, Counter())["rejected_by_stage_rules"] += 1
    finally:
        os.chdir(cwd)
    return counts


def share(counts: dict[str, Counter[str]]) -> tuple[int, int]:
    return (sum(c["pass"] for c in counts.values()),
            sum(c["accepted"] for c in counts.values()))


def test_at_least_99_percent_of_accepted_records_pass_every_stage(tmp_path):
    from instructgen.backends.fake import FakeBackend

    counts = measure(FakeBackend(), tmp_path)
    passed, accepted = share(counts)
    rule_types = {t for run in RUNS.values() if run["generator"]["name"] == "edit_rules"
                  for t in run["generator"]["types"]}
    assert rule_types <= set(counts), "every rule type should have accepted records"
    assert accepted >= 50
    assert passed / accepted >= 0.99, {t: dict(c) for t, c in counts.items() if c["fail"]}


if __name__ == "__main__":
    args = dict(zip(sys.argv[1::2], sys.argv[2::2], strict=False))
    backend_name = args.get("--backend", "fake")
    if backend_name == "fake":
        from instructgen.backends.fake import FakeBackend

        backend: Any = FakeBackend()
    else:
        from instructgen.backends.llamacpp import LlamaCppBackend, LlamaCppOptions

        backend = LlamaCppBackend(LlamaCppOptions(model="smollm2-135m-instruct", n_ctx=2048))
    with tempfile.TemporaryDirectory() as tmp:
        counts = measure(backend, Path(tmp), limit=int(args.get("--limit", 0)) or None,
                         compose=args.get("--compose"))
    for etype, c in sorted(counts.items()):
        print(f"{etype:26s} accepted {c['accepted']:3d}  pass {c['pass']:3d}  "
              f"rejected by a stage rule {c['rejected_by_stage_rules']:3d}")
    passed, accepted = share(counts)
    print(f"all types: {passed} of {accepted} accepted records pass every stage "
          f"({passed / max(accepted, 1):.1%}) on {backend_name}; answers rejected by a "
          f"stage rule: {sum(c['rejected_by_stage_rules'] for c in counts.values())}")
