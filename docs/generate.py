"""Regenerate the reference pages that come from the code.

    python docs/generate.py          # write docs/recipes.md, hooks.md, cli.md, reliability.md
    python docs/generate.py --check  # exit 1 when a page is out of date

tests/test_docs.py runs the check, so the pages cannot drift from the code.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
TESTS = DOCS.parent / "tests"


def pages() -> dict[str, str]:
    from instructgen.cli.reference import render_cli_reference
    from instructgen.introspect import render_hook_reference, render_recipe_reference
    from instructgen.manager import make_registry

    registry = make_registry(autoload=False)
    return {
        "recipes.md": render_recipe_reference(registry),
        "hooks.md": render_hook_reference(registry),
        "cli.md": render_cli_reference(registry),
        "benchmarks.md": render_benchmarks(),
        "reliability.md": render_reliability(),
    }


#: Measured tables kept in the topic pages, gathered into benchmarks.md.
GATHERED = (
    ("Backends", "backends.md", "<!-- benchmark:start -->", "<!-- benchmark:end -->"),
    ("Scale-out", "scaling.md", "<!-- scale-benchmarks:begin -->",
     "<!-- scale-benchmarks:end -->"),
)


def _block(text: str, begin: str, end: str) -> str:
    if begin not in text:
        return ""
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def render_benchmarks() -> str:
    """benchmarks.md: the runner figures it holds, plus the tables of the topic pages."""
    current = (DOCS / "benchmarks.md").read_text()
    head = current.split("\n## Backends\n", 1)[0].rstrip()
    parts = [head]
    for title, page, begin, end in GATHERED:
        table = _block((DOCS / page).read_text(), begin, end)
        parts.append(f"## {title}\n\nCopied from [{page}]({page}) by `python docs/generate.py`, "
                     f"where the benchmark script writes it and the figures are discussed.\n\n"
                     f"{table}")
    return "\n\n".join(parts) + "\n"


#: The keywords of ``@pytest.mark.reliability(...)``, all required, and their types.
RELIABILITY_FIELDS = {"failure": str, "user_sees": str, "exit_code": int, "kept": str}


#: How a run protects its output: the mechanisms the rows below rely on.
RELIABILITY_MECHANISMS = [
    "## How a run protects its output",
    "",
    "- **One run per output directory.** A run holds an exclusive `flock` on "
    "`<output_dir>/.instructgen.lock` for its whole life; with replicas or the Ray engine "
    "the driver process holds it. A second run exits 2 at once, naming the holder's pid "
    "and host (written into the lock file). The kernel drops the lock when its process "
    "ends, however it ends, so a killed run never leaves a stale lock. `validate`, "
    "`preview` and `report` only read and take no lock. On a network file system the "
    "lock is as good as that file system's `flock`.",
    "- **Output problems show before any model loads.** The output directory is created "
    "and its lock file written first; a path that cannot be created or written exits 2.",
    "- **Only whole items reach the disk.** An item's lines are queued in memory and "
    "written at the next commit (every 0.25 s and at the end), at fixed offsets, before "
    "`state.json` is replaced atomically. A signal or a failed write between two lines "
    "of one item never leaves the state describing part of an item; a failed write cuts "
    "the files back to the state's lengths, and a commit cut short is redone in place.",
    "- **SIGTERM and SIGHUP are Ctrl-C.** Where their handlers are at the default (the "
    "command line; `instructgen.run` in the main thread), they save finished work, mark "
    "the manifest `interrupted` and exit 128 + the signal's number. A signal that arrives "
    "while the last state and the manifest are saved is ignored, so the save finishes.",
    "- **The cache is only a cache.** A corrupt or foreign cache file is renamed "
    "`<name>.corrupt-<time>` and a fresh one started; a cache locked by another process "
    "for more than 30 s (`instructgen.cache.LOCK_TIMEOUT_S`), or in a read-only place, is "
    "used read-only; one that cannot be read is skipped. Each case logs one warning and "
    "the run goes on.",
]

#: What each exit code of ``instructgen`` means (the legend lists those the rows use).
EXIT_MEANINGS = {
    0: "the run goes on, or ends normally; a warning may be logged",
    2: "a problem in the recipe, the data, the command or the output directory, "
       "named on one line",
    3: "the run stopped itself: too many items failed",
    4: "the backend's worker process died twice",
    5: "a run file could not be written mid-run (a full disk, an I/O error)",
    129: "SIGHUP (the terminal closed), handled like Ctrl-C",
    130: "Ctrl-C",
    137: "SIGKILL (kill -9, the OOM killer): the process could do nothing; the files "
         "still end at the last commit",
    143: "SIGTERM (a scheduler stopping the job), handled like Ctrl-C",
}


def _is_reliability_mark(node: ast.AST) -> bool:
    """``pytest.mark.reliability(...)`` or ``mark.reliability(...)``."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "reliability" and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "mark")


def collect_reliability(tests: Path = TESTS) -> list[dict[str, Any]]:
    """Every ``@pytest.mark.reliability`` in the tests, read from the source (no test run).

    A mark sits on a test function, on a class, or in ``pytest.param(..., marks=...)`` of a
    test's parametrize; each gives one row, attributed to the test it decorates.
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    for path in sorted(tests.rglob("*.py")):
        rel = path.relative_to(tests.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for owner in ast.walk(tree):
            if not isinstance(owner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            marks = [n for d in owner.decorator_list for n in ast.walk(d)
                     if _is_reliability_mark(n)]
            for mark in marks:
                where = f"{rel}:{mark.lineno}"
                try:
                    fields = {kw.arg: ast.literal_eval(kw.value) for kw in mark.keywords}
                except ValueError:
                    problems.append(f"{where}: reliability mark values must be literals")
                    continue
                bad = [k for k, t in RELIABILITY_FIELDS.items()
                       if not isinstance(fields.get(k), t) or fields.get(k) in ("", None)]
                extra = sorted(set(fields) - set(RELIABILITY_FIELDS))
                if mark.args or bad or extra:
                    problems.append(f"{where}: reliability mark needs keywords "
                                    f"{', '.join(RELIABILITY_FIELDS)} (bad: {bad + extra})")
                    continue
                rows.append({**fields, "test": f"{rel}::{owner.name}", "line": mark.lineno})
    if problems:
        raise SystemExit("\n".join(problems))
    return sorted(rows, key=lambda r: (r["test"].split("::")[0], r["line"]))


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def render_reliability() -> str:
    """reliability.md: one row per handled failure, from the tests that prove it."""
    rows = collect_reliability()
    codes = sorted({r["exit_code"] for r in rows})
    lines = [
        "# Reliability: the failures instructgen handles",
        "",
        "<!-- Generated by docs/generate.py from the @pytest.mark.reliability marks in tests/;"
        " do not edit. -->",
        "",
        "Every row is a failure that a test provokes, and the test asserts what the row",
        "says: the message the user sees, the exit code and what is kept. The table is",
        "generated from those tests (`python docs/generate.py`), so it cannot drift from",
        "them. Messages are shortened; `…` stands for the specific path, key or value.",
        "",
        *RELIABILITY_MECHANISMS,
        "",
        "Exit codes:",
        "",
        *(f"- `{c}`: {EXIT_MEANINGS.get(c, 'see the rows')}" for c in codes),
        "",
        "After 3, 4, 5 and the signals, rerunning the same command resumes where the files "
        "end; after 2, fix what the message names first.",
        "",
        f"{len(rows)} handled failures:",
        "",
        "| # | Failure | What the user sees | Exit | What is kept | Test |",
        "|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rows, 1):
        lines.append(f"| {n} | {_cell(r['failure'])} | {_cell(r['user_sees'])} | "
                     f"{r['exit_code']} | {_cell(r['kept'])} | `{r['test']}` |")
    lines += [
        "",
        "To add a row, put the mark on the test that provokes the failure and asserts "
        "its outcome:",
        "",
        "```python",
        "@pytest.mark.reliability(failure=\"…\", user_sees=\"…\", exit_code=2, kept=\"…\")",
        "def test_…(…):",
        "```",
        "",
        "then run `python docs/generate.py`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report stale pages")
    args = ap.parse_args()
    stale = []
    for name, text in pages().items():
        path = DOCS / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print("out of date: " + ", ".join(stale) + " (run python docs/generate.py)")
        return 1
    print("written: " + ", ".join(stale) if stale else "all pages up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
