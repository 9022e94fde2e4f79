"""A GGUF loaded by the transformers backend is converted once and parsed at most once.

The cache logic runs against a stand-in for transformers (a tiny real GGUF,
a "model" that saves one file), so locking, atomic writes and damaged folders
are checked in seconds; the embedded SmolLM2 model checks the real thing.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from pathlib import Path

import pytest

gguf = pytest.importorskip("gguf", reason="gguf is not installed "
                           "(pip install 'instructgen[transformers]')")

from instructgen.backend import file_sha256  # noqa: E402
from instructgen.backends import hf  # noqa: E402
from instructgen.backends.hf import gguf as hf_gguf  # noqa: E402
from instructgen.backends.models import converted_cache_dir, converted_cache_usage  # noqa: E402


def tiny_gguf(path: Path) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q4_1))
    writer.add_tensor("token_embd.weight", __import__("numpy").zeros((2, 4), dtype="float32"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


class _Saved:
    """A stand-in model or tokenizer: remembers where it came from, saves one file."""

    def __init__(self, origin: str, name: str) -> None:
        self.origin, self.name = origin, name

    def save_pretrained(self, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / f"{self.name}.txt").write_text(self.origin)


class StubTransformers:
    """The two transformers entry points the backend uses, logging GGUF conversions."""

    __version__ = "0.test"

    def __init__(self, log: Path, convert_s: float = 0.0) -> None:
        self.log, self.convert_s = log, convert_s
        stub = self

        class Auto:
            def __init__(self, name: str) -> None:
                self.name = name

            def from_pretrained(self, where: str, gguf_file: str | None = None, **_: object):
                if gguf_file is not None:
                    gguf.GGUFReader(str(Path(where) / gguf_file))  # as transformers does
                    if self.name == "model":
                        with stub.log.open("a") as f:
                            f.write("converted\n")
                        time.sleep(stub.convert_s)
                    return _Saved(f"gguf:{gguf_file}", self.name)
                saved = Path(where) / f"{self.name}.txt"
                if not saved.is_file():
                    raise OSError(f"no {saved.name} in {where}")
                return _Saved(f"folder:{saved.read_text()}", self.name)

        self.AutoModelForCausalLM = Auto("model")
        self.AutoTokenizer = Auto("tokenizer")


@pytest.fixture
def parses(monkeypatch):
    """How often a GGUF file is really parsed."""
    count = [0]
    original = gguf.GGUFReader.__init__

    def counting(self, *args, **kwargs):
        count[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(gguf.GGUFReader, "__init__", counting)
    return count


def test_first_load_converts_with_one_parse_later_loads_read_the_folder(tmp_path, parses):
    path = tiny_gguf(tmp_path / "m.gguf")
    stub = StubTransformers(tmp_path / "conversions.log")
    _, model, file_type, folder = hf_gguf.load_gguf(stub, path, "float32", {})
    assert model.origin == "gguf:m.gguf" and file_type == "Q4_1"
    assert parses[0] == 1  # model, tokenizer and file type shared one parse
    assert folder is not None and folder.parent == converted_cache_dir()
    assert "-transformers-0.test-float32" in folder.name
    meta = json.loads((folder / hf_gguf.CONVERTED_META).read_text())
    assert meta["file_type"] == "Q4_1" and meta["sha256"] == file_sha256(path)
    assert not [p for p in folder.parent.iterdir() if p.name.endswith(".tmp")]

    tok2, model2, file_type2, folder2 = hf_gguf.load_gguf(stub, path, "float32", {})
    assert model2.origin == "folder:gguf:m.gguf" and tok2.origin == "folder:gguf:m.gguf"
    assert (file_type2, folder2) == ("Q4_1", folder)
    assert parses[0] == 1  # no parse at all on a later load
    assert (tmp_path / "conversions.log").read_text().split() == ["converted"]
    assert converted_cache_usage()[0] == 1 and converted_cache_usage()[1] > 0


def test_outside_a_conversion_gguf_is_untouched(tmp_path, parses):
    path = tiny_gguf(tmp_path / "m.gguf")
    original = gguf.GGUFReader
    with hf_gguf.parse_once():
        first, second = gguf.GGUFReader(str(path)), gguf.GGUFReader(str(path))
        assert first is second
    assert gguf.GGUFReader is original and parses[0] == 1
    assert gguf.GGUFReader(str(path)) is not first and parses[0] == 2


def test_other_dtype_or_transformers_version_is_another_folder(tmp_path):
    path = tiny_gguf(tmp_path / "m.gguf")
    stub = StubTransformers(tmp_path / "conversions.log")
    a = hf_gguf.load_gguf(stub, path, "float32", {})[3]
    b = hf_gguf.load_gguf(stub, path, "bfloat16", {})[3]
    stub.__version__ = "0.other"
    c = hf_gguf.load_gguf(stub, path, "float32", {})[3]
    assert len({a, b, c}) == 3
    assert (tmp_path / "conversions.log").read_text().split() == ["converted"] * 3


@pytest.mark.reliability(
    failure="a GGUF checkpoint converted by the transformers backend is damaged in the user "
            "cache (a file deleted by hand)",
    user_sees="nothing: the load converts the GGUF again, under the same lock",
    exit_code=0, kept="everything; the cache folder is rewritten whole")
def test_a_damaged_folder_is_converted_again(tmp_path):
    path = tiny_gguf(tmp_path / "m.gguf")
    stub = StubTransformers(tmp_path / "conversions.log")
    folder = hf_gguf.load_gguf(stub, path, "float32", {})[3]
    (folder / "model.txt").unlink()  # a file deleted by hand
    again = hf_gguf.load_gguf(stub, path, "float32", {})
    assert again[1].origin == "gguf:m.gguf" and (folder / "model.txt").is_file()
    assert (tmp_path / "conversions.log").read_text().split() == ["converted"] * 2


@pytest.mark.reliability(
    failure="the user cache cannot be written, so a GGUF cannot be saved converted",
    user_sees="one warning: `cannot use the converted-GGUF cache … converting m.gguf in "
              "memory, again on every load`",
    exit_code=0, kept="the run goes on; only the next load is slower")
def test_a_cache_that_cannot_be_written_still_loads(tmp_path, monkeypatch):
    path = tiny_gguf(tmp_path / "m.gguf")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # mkdir under a file fails
    stub = StubTransformers(tmp_path / "conversions.log")
    with pytest.warns(RuntimeWarning, match=r"cannot use the converted-GGUF cache .*not-a-dir"
                                            r".*converting m\.gguf in memory"):
        _, model, file_type, folder = hf_gguf.load_gguf(stub, path, "float32", {})
    assert model.origin == "gguf:m.gguf" and file_type == "Q4_1" and folder is None


def _load_in_child(path: str, log: str, out: str) -> None:
    folder = hf_gguf.load_gguf(StubTransformers(Path(log), convert_s=1.0), Path(path),
                           "float32", {})[3]
    Path(out).write_text(str(folder))


def test_concurrent_first_loads_convert_once_and_the_others_wait(tmp_path):
    path = tiny_gguf(tmp_path / "m.gguf")
    log = tmp_path / "conversions.log"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_load_in_child, args=(str(path), str(log),
                                                      str(tmp_path / f"out{i}")))
             for i in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert log.read_text().split() == ["converted"]
    folders = {(tmp_path / f"out{i}").read_text() for i in range(3)}
    assert len(folders) == 1 and Path(folders.pop()).is_dir()


def test_models_command_shows_the_cache_size(tmp_path, capsys):
    from instructgen.cli import main

    assert main(["models"]) == 0
    assert "converted GGUF cache (transformers): empty" in capsys.readouterr().out
    path = tiny_gguf(tmp_path / "m.gguf")
    hf_gguf.load_gguf(StubTransformers(tmp_path / "log"), path, "float32", {})
    assert main(["models"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "converted GGUF cache (transformers): 1 model," in out
    assert "delete that folder to free it" in out


# -- the embedded model ----------------------------------------------------------------------


@pytest.mark.model
def test_the_embedded_model_loads_from_its_conversion_with_the_same_answers(parses):
    pytest.importorskip("torch", reason="torch is not installed")
    pytest.importorskip("transformers", reason="transformers is not installed")
    from instructgen.backend import LLMRequest
    from instructgen.backends.models import embedded_model_path

    if embedded_model_path() is None:
        pytest.skip("the embedded model is not installed (pip install 'instructgen[models]')")
    requests = [LLMRequest(messages=[("user", "Name a color.")], max_tokens=8, temperature=0.0),
                LLMRequest(messages=[("user", "Say hi.")], max_tokens=8, temperature=0.8,
                           seed=3)]
    opts = hf.TransformersOptions(n_ctx=256)
    started = time.perf_counter()
    first = hf.TransformersBackend(opts)
    first_s = time.perf_counter() - started
    assert parses[0] == 1 and first.converted is not None
    answers = [c.text for c in first.generate(requests)]
    first.close()
    started = time.perf_counter()
    second = hf.TransformersBackend(opts)
    second_s = time.perf_counter() - started
    assert parses[0] == 1 and second.converted == first.converted
    assert second.identity == first.identity
    assert second.identity.quantization == "Q4_1 dequantized to float32"
    assert [c.text for c in second.generate(requests)] == answers
    second.close()
    print(f"transformers load of the embedded model: first {first_s:.1f} s, "
          f"later {second_s:.1f} s")
