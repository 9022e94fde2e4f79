"""``instructgen push`` and the ``hub`` sink, against a fake Hub on 127.0.0.1."""

from __future__ import annotations

import io
import json
import socket

import pytest

pytest.importorskip("huggingface_hub", reason="the hub extra is not installed")
pq = pytest.importorskip("pyarrow.parquet", reason="the hub extra is not installed")

from fake_hub import FakeHub  # noqa: E402

from instructgen.cli import main  # noqa: E402
from instructgen.hub import DATA_FILE  # noqa: E402

TOKEN = "hf_TestTokenThatMustNeverBeWritten"


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved login of this machine
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def _recipe(tmp_path, sink=None):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"caption": f"a blue cup {i}", "n": i}) + "\n"
                             for i in range(6)))
    recipe = {
        "source": {"name": "jsonl", "path": str(items)},
        "generator": {"name": "prompt", "template": "Shorten: {caption}"},
        "backend": "fake",
        "output_dir": str(tmp_path / "run"),
        "cache": {"path": str(tmp_path / "cache.sqlite")},
    }
    if sink:
        recipe["sink"] = sink
    return recipe


def _snapshot(run_dir):
    return {p.name: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}


def _no_token_anywhere(*trees):
    for tree in trees:
        for path in tree.rglob("*"):
            if path.is_file():
                assert TOKEN.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_push_uploads_parquet_card_and_report_in_one_commit(tmp_path, hub_env, monkeypatch,
                                                            capsys):
    from instructgen.testing import run_recipe

    result = run_recipe(_recipe(tmp_path), tmp_path)
    before = _snapshot(result.run_dir)
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert main(["push", str(result.run_dir), "me/cups", "--private"]) == 0
    out = capsys.readouterr().out
    assert "pushed" in out and "me/cups" in out and TOKEN not in out
    (repo,) = hub.repos
    assert (repo["name"], repo["organization"], repo["type"]) == ("cups", "me", "dataset")
    assert repo.get("visibility") == "private" or repo.get("private") is True
    commits = [c for c in hub.calls if "/commit/" in c["path"]]
    assert len(commits) == 1 and commits[0]["path"].startswith("/api/datasets/me/cups/commit/")
    # every write carries the token (huggingface_hub may also GET public endpoints without it)
    assert all(c["auth"] == f"Bearer {TOKEN}" for c in hub.calls if c["method"] == "POST")

    assert {DATA_FILE, "README.md", "report/report.md", "report/report.json"} <= set(hub.files)
    table = pq.read_table(io.BytesIO(hub.files[DATA_FILE]))
    assert table.column("text").to_pylist() == [r.data["text"] for r in result.records]
    assert table.column("id").to_pylist() == [r.id for r in result.records]

    card = hub.files["README.md"].decode()
    header = card.split("\n---\n", 1)[0].splitlines()
    assert header[0] == "---"
    assert "- synthetic" in header and "configs:" in header
    assert f"    path: {DATA_FILE}" in header and "  - split: train" in header
    assert "| status | finished |" in card.replace("  ", " ")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        assert any(f.startswith("report/") and f.endswith(".png") for f in hub.files)

    assert _snapshot(result.run_dir) == before  # the run directory is only read
    _no_token_anywhere(tmp_path)


@pytest.mark.reliability(failure="instructgen push with a token the Hub refuses (401)",
                         user_sees="instructgen: error: push: URL answered 401 Unauthorized for "
                                   "OWNER/NAME (the token was refused; a write token is needed)",
                         exit_code=2, kept="the run directory, unchanged")
@pytest.mark.slow
def test_a_refused_token_is_one_line_and_exit_2(tmp_path, hub_env, monkeypatch, capsys):
    from instructgen.testing import run_recipe

    result = run_recipe(_recipe(tmp_path), tmp_path)
    before = _snapshot(result.run_dir)
    with FakeHub(refuse=401) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert main(["push", str(result.run_dir), "me/cups"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("instructgen: error: push: ")
    assert "401 Unauthorized for me/cups (the token was refused" in err[0]
    assert TOKEN not in err[0] and not hub.files
    assert _snapshot(result.run_dir) == before
    _no_token_anywhere(tmp_path)


@pytest.mark.reliability(failure="instructgen push when the Hub cannot be reached",
                         user_sees="instructgen: error: push: cannot reach URL (ConnectError: "
                                   "...); check the network or HF_ENDPOINT",
                         exit_code=2, kept="the run directory, unchanged")
@pytest.mark.slow
def test_an_unreachable_hub_is_one_line_and_exit_2(tmp_path, hub_env, monkeypatch, capsys):
    from instructgen.testing import run_recipe

    result = run_recipe(_recipe(tmp_path), tmp_path)
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert main(["push", str(result.run_dir), "me/cups"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"instructgen: error: push: cannot reach http://127.0.0.1:{port}")


def test_push_refuses_an_unfinished_run_and_a_bad_repo_id(tmp_path, hub_env, capsys):
    from instructgen.testing import run_recipe

    recipe = _recipe(tmp_path)
    recipe["limit"] = 2
    result = run_recipe(recipe, tmp_path)
    manifest = json.loads((result.run_dir / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (result.run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert main(["push", str(result.run_dir), "me/cups"]) == 2
    assert "the run is interrupted" in capsys.readouterr().err
    assert main(["push", str(result.run_dir), "not a repo"]) == 2
    assert "REPO_ID: 'not a repo' is not a Hub repository id" in capsys.readouterr().err


def test_the_hub_sink_pushes_when_the_run_finishes(tmp_path, hub_env, monkeypatch):
    from instructgen.testing import run_recipe

    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        result = run_recipe(_recipe(tmp_path, {"name": "hub", "repo_id": "me/cups",
                                               "charts": False}), tmp_path)
    assert result.summary.status == "finished"
    assert pq.read_table(io.BytesIO(hub.files[DATA_FILE])).num_rows == 6
    card = hub.files["README.md"].decode()
    assert "| status | finished |" in card.replace("  ", " ")
    assert not any(f.endswith(".png") for f in hub.files)


@pytest.mark.slow
def test_the_hub_sink_names_the_retry_command_when_the_push_fails(tmp_path, hub_env,
                                                                  monkeypatch):
    from instructgen.errors import UserError
    from instructgen.testing import run_recipe

    with FakeHub(refuse=401) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        with pytest.raises(UserError, match=r"the run is complete; retry with: instructgen "
                                            r"push .*run me/cups"):
            run_recipe(_recipe(tmp_path, {"name": "hub", "repo_id": "me/cups"}), tmp_path)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "finished"


def test_a_bad_sink_repo_id_is_refused_before_the_run(tmp_path, run_recipe):
    from instructgen.errors import UserError

    with pytest.raises(UserError, match=r"sink.repo_id: 'cups' is not a Hub repository id"):
        run_recipe(_recipe(tmp_path, {"name": "hub", "repo_id": "cups"}))
    assert not (tmp_path / "run" / "manifest.json").exists()
