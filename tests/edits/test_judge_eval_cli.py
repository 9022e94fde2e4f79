"""`python -m instructgen.plugins.edits.judge_eval`: bad arguments: one line, exit 2."""

from __future__ import annotations

import pytest

from instructgen.plugins.edits.judge_eval import main


@pytest.mark.parametrize(("argv", "said"), [
    (["--modes", "json,logits"], "--modes: logits (known: json, text, score)"),
    (["--modes", ","], "--modes: none given"),
    (["--per-type", "0"], "--per-type: must be at least 1"),
    (["--backend", "openai"], "argument --backend: invalid choice: 'openai'"),
])
def test_bad_arguments_are_refused_before_a_model_loads(argv, said, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
