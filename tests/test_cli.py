"""The command line: help, listing, and bad input exiting 2 with one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from instructgen import __version__
from instructgen.cli import build_parser, main

GOOD = """
output_dir = "{out}"
[source]
name = "jsonl"
path = "{items}"
[generator]
name = "prompt"
template = "Describe {{caption}}."
[backend]
name = "fake"
[cache]
enabled = false
"""


@pytest.fixture
def recipe(tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"caption": f"a red kite {i}"}) + "\n"
                             for i in range(5)))

    def make(text=GOOD, name="r.toml"):
        p = tmp_path / name
        p.write_text(text.format(out=tmp_path / "out", items=items))
        return p

    return make


def _run(*args):
    return subprocess.run([sys.executable, "-m", "instructgen", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _subparsers(parser):
    # argparse offers no public walk over sub-commands; this reads it, never changes it.
    for action in parser._actions:
        if isinstance(action.choices, dict):
            yield from action.choices.items()


@pytest.mark.slow
def test_version_and_every_command_and_option_has_help():
    assert _run("--version").stdout.strip() == f"instructgen {__version__}"
    parser = build_parser()
    pending = [("instructgen", parser)]
    seen = 0
    while pending:
        name, p = pending.pop()
        for action in p._actions:
            assert action.help, f"{name}: option {action.dest} has no help"
        for sub_name, sub in _subparsers(p):
            assert sub.description, f"{name} {sub_name} has no description"
            pending.append((f"{name} {sub_name}", sub))
            seen += 1
    assert seen >= 5


@pytest.mark.slow
def test_run_then_rerun_says_nothing_to_do(recipe, tmp_path):
    path = recipe()
    first = _run("run", path, "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "5 items, 5 accepted" in first.stderr
    lines = (tmp_path / "out" / "records.jsonl").read_text().splitlines()
    assert len(lines) == 5
    second = _run("run", path)
    assert second.returncode == 0 and "nothing to do" in second.stderr


@pytest.mark.slow
def test_json_logs_carry_the_run_events(recipe):
    out = _run("--log-format", "json", "-v", "run", recipe(), "--no-progress")
    events = [json.loads(line)["event"] for line in out.stderr.splitlines()
              if line.startswith("{")]
    assert events[0] == "run_started" and "batch_done" in events and events[-1] == "run_finished"


def test_validate_and_preview_write_nothing(recipe, tmp_path, capsys):
    path = recipe()
    assert main(["validate", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["preview", str(path), "-n", "2"]) == 0
    printed = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(printed) == 2 and printed[0]["data"]["caption"] == "a red kite 0"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mutate, expected", [
    pytest.param(lambda t: t.replace('name = "prompt"', 'name = "promt"'),
                 "generator.name: unknown generator 'promt'; did you mean 'prompt'?",
                 marks=pytest.mark.reliability(
                     failure="a recipe naming a plugin that is not installed (a typo)",
                     user_sees="one line: `generator.name: unknown generator 'promt'; did you "
                               "mean 'prompt'? (valid: …)`",
                     exit_code=2, kept="nothing is written; no output directory is created")),
    pytest.param(lambda t: "batch_size = 'x'\n" + t, "batch_size: expected an integer, got 'x'",
                 marks=pytest.mark.reliability(
                     failure="a recipe value of the wrong type",
                     user_sees="one line naming the key path: `batch_size: expected an integer, "
                               "got 'x'`",
                     exit_code=2, kept="nothing is written; no output directory is created")),
    pytest.param(lambda t: t.replace('template = "Describe {{caption}}."', ""),
                 "generator.template: missing required option",
                 marks=pytest.mark.reliability(
                     failure="a recipe missing a required plugin option",
                     user_sees="one line: `generator.template: missing required option`",
                     exit_code=2, kept="nothing is written; no output directory is created")),
    pytest.param(lambda t: "seed = \n" + t, "invalid TOML: Invalid value (at line 1, column 8)",
                 marks=pytest.mark.reliability(
                     failure="a recipe that is not valid TOML",
                     user_sees="one line with the file, line and column: `r.toml: invalid TOML: "
                               "Invalid value (at line 1, column 8)`",
                     exit_code=2, kept="nothing is written; no output directory is created")),
    pytest.param(lambda t: t.replace('path = "{items}"', 'path = "/nonexistent/items.jsonl"'),
                 "source.path: file not found: /nonexistent/items.jsonl",
                 marks=pytest.mark.reliability(
                     failure="a data file that does not exist",
                     user_sees="one line: `source.path: file not found: /nonexistent/items.jsonl`",
                     exit_code=2, kept="nothing is written; no output directory is created")),
])
@pytest.mark.slow
def test_bad_input_exits_2_with_one_line_and_leaves_no_output(recipe, tmp_path, mutate,
                                                              expected):
    path = recipe(mutate(GOOD))
    result = _run("run", path)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.reliability(
    failure="a recipe file that does not exist",
    user_sees="one line: `…/nope.toml: recipe file not found`", exit_code=2,
    kept="nothing is written")
@pytest.mark.slow
def test_missing_recipe_file_exits_2(tmp_path):
    result = _run("validate", tmp_path / "nope.toml")
    assert result.returncode == 2 and "nope.toml: recipe file not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_plugins_json_lists_kinds_and_options():
    rows = json.loads(_run("plugins", "--json").stdout)
    kinds = {r["kind"] for r in rows}
    assert {"source", "generator", "backend"} <= kinds
    prompt = next(r for r in rows if r["name"] == "prompt")
    assert prompt["dist"] == "instructgen"
    assert {"name": "max_tokens", "type": "int", "default": 96, "required": False,
            "help": "Most tokens in the answer."} in prompt["options"]


@pytest.mark.slow
def test_progress_bar_on_a_terminal_only(recipe, tmp_path):
    import shutil

    path = recipe()
    plain = _run("-q", "run", path)
    assert plain.returncode == 0 and "━" not in plain.stderr and "/5" not in plain.stderr
    if shutil.which("script") is None:
        pytest.skip("util-linux `script` is needed to give the run a terminal")
    shutil.rmtree(tmp_path / "out")
    tty = subprocess.run(
        ["script", "-qec", f"{sys.executable} -m instructgen -q run {path}", "/dev/null"],
        capture_output=True, text=True, timeout=120,
        env={"COLUMNS": "150", "PATH": "/usr/bin:/bin"},
    )
    screen = tty.stdout.replace("\r", "\n")
    assert tty.returncode == 0, screen
    assert "5/5" in screen and "5 ok" in screen and "0 rejected" in screen and "it/s" in screen
