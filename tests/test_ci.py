"""CI runs the README's test command, and that command installs every extra.

An extra left out of CI means its tests skip there and nobody sees them
break (the ``hf_dataset`` sink once did, for that reason).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "# --- the README's test command, line for line ---"


def _readme_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running the tests", 1)[1]
    return section.split("```bash\n", 1)[1].split("\n```", 1)[0].strip()


def _ci_lines() -> list[str]:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    return [line for line in script.split(MARK, 1)[1].splitlines() if line.strip()]


def test_ci_runs_the_readmes_test_command_line_for_line():
    assert " && ".join(_ci_lines()) == _readme_command()


def _expand(name: str, extras: dict[str, list[str]], seen: set[str]) -> None:
    if name in seen:
        return
    seen.add(name)
    for requirement in extras.get(name, []):
        nested = re.fullmatch(r"instructgen\[([^\]]+)\]", requirement.replace(" ", ""))
        if nested:
            for inner in nested.group(1).split(","):
                _expand(inner, extras, seen)


def test_the_test_command_installs_every_extra():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    installs = re.findall(r"pip install [^&]*?-e '\.\[([^\]]+)\]'", _readme_command())
    assert len(installs) == 1, installs
    installed: set[str] = set()
    for name in installs[0].split(","):
        assert name in extras, f"the test command names an unknown extra {name!r}"
        _expand(name, extras, installed)
    assert set(extras) - installed == set(), "extras CI does not install (their tests skip)"
