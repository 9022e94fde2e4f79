"""Early warnings: a recipe the data rejects says so after five items, and in preview."""

from __future__ import annotations

import json

import pytest

from instructgen.cli import main
from instructgen.early import EarlyWarning, same_reason_message
from instructgen.records import Rejection


def _rej(reason, detail=""):
    return Rejection(item_id="1", stage="generate", plugin="", reason=reason, detail=detail)


class _Log:
    def __init__(self):
        self.warnings = []

    def warning(self, event, **kw):
        self.warnings.append((event, kw))


def test_warns_once_when_the_first_five_items_fail_alike():
    log = _Log()
    early = EarlyWarning(log)
    for _ in range(12):
        early.observe(0, [_rej("missing_field", "no {x}")])
    assert len(log.warnings) == 1
    event, kw = log.warnings[0]
    assert event == "early_rejections"
    assert "first 5 items were all rejected as missing_field (no {x})" in kw["message"]


@pytest.mark.parametrize("feed", [
    [(0, "a")] * 4 + [(0, "b")],     # mixed reasons
    [(0, "a")] * 2 + [(1, None)] + [(0, "a")] * 5,  # one good item early on
    [(0, "a")] * 4,                  # fewer than five items
])
def test_no_warning_when_the_first_items_differ_or_one_succeeds(feed):
    log = _Log()
    early = EarlyWarning(log)
    for accepted, reason in feed:
        early.observe(accepted, [] if reason is None else [_rej(reason)])
    assert log.warnings == []
    assert same_reason_message([("a", ""), ("b", "")], 2) is None


def _typo_recipe(tmp_path, template="Shorten: {captoin}"):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"caption": f"a cup {i}", "url": "u"}) + "\n"
                             for i in range(8)))
    recipe = tmp_path / "typo.toml"
    recipe.write_text(f'output_dir = "{tmp_path / "run"}"\n[cache]\nenabled = false\n'
                      f'[source]\nname = "jsonl"\npath = "{items}"\n'
                      f'[generator]\nname = "prompt"\ntemplate = "{template}"\n'
                      f'[backend]\nname = "fake"\n')
    return recipe


@pytest.mark.reliability(failure="a template field the data does not have (a typo such as "
                                 "{captoin})",
                         user_sees="warning early_rejections: the first 5 items were all "
                                   "rejected as missing_field (template field {captoin} is not "
                                   "in the item (fields: ...); did you mean 'caption'?)",
                         exit_code=0, kept="the run directory with every rejection and reason")
def test_a_template_typo_warns_with_did_you_mean_in_run_and_preview(tmp_path, capsys):
    recipe = _typo_recipe(tmp_path)
    assert main(["run", str(recipe), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.count("early_rejections") == 1
    assert "template field {captoin} is not in the item (fields: caption, url)" in err
    assert "did you mean 'caption'?" in err
    reject = json.loads((tmp_path / "run" / "rejects.jsonl").read_text().splitlines()[0])
    assert "did you mean 'caption'?" in reject["detail"]

    assert main(["-qq", "preview", str(recipe)]) == 0  # -qq: only preview's own lines
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("preview: warning: the first 5 items were all rejected as "
                             "missing_field")
    assert "did you mean 'caption'?" in err[0]


def test_preview_warns_before_any_model_call(tmp_path, monkeypatch, capsys):
    from instructgen.cli import run_cmds

    calls = []
    recipe = _typo_recipe(tmp_path)

    class NoRunner:
        def __init__(self, *a, **kw):
            calls.append("runner")
            raise SystemExit(0)

    monkeypatch.setattr(run_cmds, "Runner", NoRunner)
    with pytest.raises(SystemExit):
        main(["-qq", "preview", str(recipe)])
    assert calls == ["runner"]  # the warning came first, with no backend built
    assert "preview: warning:" in capsys.readouterr().err


def test_a_good_template_gives_no_warning(tmp_path, capsys):
    recipe = _typo_recipe(tmp_path, template="Shorten: {caption}")
    assert main(["-qq", "preview", str(recipe), "-n", "1"]) == 0
    assert "warning" not in capsys.readouterr().err
