"""``instructgen report`` and ``instructgen card`` through their argparse commands."""

from __future__ import annotations

import argparse

import pytest

from instructgen.cli import report_cmds
from instructgen.errors import UserError


def parse(*argv):
    parser = argparse.ArgumentParser(prog="instructgen")
    report_cmds.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args([str(a) for a in argv])


def run(*argv):
    args = parse(*argv)
    return args.func(args)


def test_every_command_and_option_is_described():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    report_cmds.register(sub)
    for name in ("report", "card"):
        cmd = sub.choices[name]
        assert cmd.description
        for action in cmd._actions:
            assert action.help, f"{name} {action.dest} has no help"


def test_report_and_card_write_into_the_run_directory(edit_run, capsys):
    res = edit_run()
    assert run("report", res.run_dir, "--no-charts", "--top", "3") == 0
    assert f"wrote {res.run_dir / 'report.md'}" in capsys.readouterr().out
    assert (res.run_dir / "report.md").is_file() and (res.run_dir / "report.json").is_file()
    assert run("card", res.run_dir) == 0
    assert (res.run_dir / "README.md").read_text().startswith("---\n")


def test_comparison_writes_to_out(edit_run, tmp_path):
    a, b = edit_run("a"), edit_run("b", seed=9)
    assert run("report", a.run_dir, b.run_dir, "--out", tmp_path / "cmp", "--no-charts") == 0
    assert "| a | b |" in (tmp_path / "cmp" / "report.md").read_text()


def test_text_field_option_is_used(edit_run):
    res = edit_run()
    run("report", res.run_dir, "--no-charts", "--text-field", "output")
    assert "text field measured | `output` |" in (res.run_dir / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (("report", "{missing}"), "{missing}: not a run directory"),
    (("card", "{empty}"), "{empty}: not a run directory (no manifest.json)"),
    (("report", "{empty}", "{missing}"), "needs --out DIR"),
    (("report", "{empty}", "--near-duplicate", "1.5", "--out", "{empty}"), "report options"),
])
def test_bad_input_is_a_user_error_naming_the_path(tmp_path, argv, message):
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "nope", "empty": tmp_path / "empty"}
    with pytest.raises(UserError) as err:
        run(*(a.format(**paths) for a in argv))
    assert message.format(**paths) in str(err.value)
