"""Malformed ``MMRAG_*`` variables and notebook parameters: one message naming the variable or the
parameter, exit 2, no traceback, nothing stored changed; a papermill run ends with that line."""

from __future__ import annotations

import pytest
from cli_inputs import (
    TRACEBACK,
    assert_refused,
    bad_collection_names,
    bad_devices,
    bad_schemes,
    bad_seconds,
    out_of_range,
    small_collection,
    snapshot,
)

from mmrag_lab.cli import main
from mmrag_lab.errors import ConfigError
from mmrag_lab.workbench.runtime.notebook_runs import run_notebook


@pytest.fixture(scope="module")
def lite(tmp_path_factory, sample_dir, tiny_encoder):
    uri, _ = small_collection(tmp_path_factory.mktemp("env"), sample_dir, tiny_encoder)
    return uri, snapshot(uri)


def _env_cases() -> list[tuple[str, str]]:
    """(variable, bad value), generated from each variable's rule."""
    cases = [("MMRAG_BATCH_SIZE", v) for v in out_of_range(1, 65536) if v]
    cases += [("MMRAG_LLM_MAX_RETRIES", v) for v in out_of_range(0, 20) if v]
    cases += [("MMRAG_MILVUS_ATTEMPTS", v) for v in out_of_range(1, 20) if v]
    for var in ("MMRAG_LLM_TIMEOUT", "MMRAG_LLM_CONNECT_TIMEOUT", "MMRAG_MILVUS_CONNECT_TIMEOUT",
                "MMRAG_MILVUS_TIMEOUT"):  # fmt: skip
        cases += [(var, v) for v in bad_seconds() if v]
    cases += [("MMRAG_LITE_IDLE_TIMEOUT", v) for v in ("-1", "nan", "soon")]
    cases += [("MMRAG_DEVICE", v) for v in bad_devices() if v not in ("cuda", "cuda:7")]
    cases += [("MMRAG_COLLECTION", v) for v in bad_collection_names()]
    cases += [("MMRAG_MILVUS_URI", v) for v in bad_schemes()]
    cases += [("MMRAG_COMPILE", v) for v in ("maybe", "2", "onn")]
    cases += [("MMRAG_COMPILE_MODE", v) for v in ("fast", "reduce_overhead")]
    cases += [("OPENAI_BASE_URL", v) for v in ("localhost:8000", "ftp://x", "http://")]
    return cases


@pytest.mark.parametrize("var,value", _env_cases(), ids=[f"{k}={v[:16]}" for k, v in _env_cases()])
def test_info_names_each_malformed_variable(lite, capsys, monkeypatch, var, value):
    uri, before = lite
    monkeypatch.setenv(var, value)
    argv = ["info", "--collection", "badinput"] + ([] if var == "MMRAG_MILVUS_URI" else ["--uri", uri])
    if var == "MMRAG_COLLECTION":
        argv = ["info", "--uri", uri]
    code = main(argv)
    captured = capsys.readouterr()
    assert_refused(code, captured.out + captured.err, [var])
    assert snapshot(uri) == before


def test_a_malformed_variable_is_named_even_by_a_command_that_does_not_use_it(lite, capsys, monkeypatch):
    """The environment is read whole: MMRAG_BATCH_SIZE is named by `mmrag info`, which batches nothing, so a broken
    shell setting never hides until another command meets it."""
    uri, _ = lite
    monkeypatch.setenv("MMRAG_BATCH_SIZE", "0")
    code = main(["info", "--uri", uri, "--collection", "badinput"])
    assert code == 2 and "MMRAG_BATCH_SIZE" in capsys.readouterr().err


NOTEBOOK_CASES = [
    ("02_search", {"K": -3}, "K"),
    ("02_search", {"K": "nine"}, "K"),
    ("02_search", {"DEVICE": "gpu"}, "DEVICE"),
    ("02_search", {"DATA_DIR": "/no/such/folder"}, "DATA_DIR"),
    ("02_search", {"QUERY_IMAGE": "/no/such.jpg"}, "QUERY_IMAGE"),
    ("02_search", {"COLLECTION": "my images"}, "COLLECTION"),
    ("02_search", {"URI": "ftp://host/x.db"}, "URI"),
    ("02_search", {"ENCODER": "no-such-preset"}, "ENCODER"),
    ("02_search", {"INSTRUCTION": "x" * 50_000}, "INSTRUCTION"),
    ("02_search", {"INSTRUCTION": 7}, "INSTRUCTION"),
    ("01_ingest", {"PRUNE": "yes"}, "PRUNE"),
    ("01_ingest", {"THUMBNAILS": -1}, "THUMBNAILS"),
    ("01_ingest", {"ENGINE": "spark"}, "ENGINE"),
    ("01_ingest", {"RAY_ADDRESS": "localhost:6379"}, "RAY_ADDRESS"),
    ("03_rerank", {"BASE_URL": "localhost:8000"}, "BASE_URL"),
    ("04_inspect", {"MAX_VECTORS": 0}, "MAX_VECTORS"),
    ("05_evaluate", {"K": [1, 0, 5]}, "K"),
    ("05_evaluate", {"TOP_N": 0}, "TOP_N"),
    ("05_evaluate", {"PRICE_IN": -1}, "PRICE_IN"),
]


@pytest.mark.parametrize(
    "notebook,params,name", NOTEBOOK_CASES, ids=[f"{n}:{k}" for n, _, k in NOTEBOOK_CASES]
)
def test_run_notebook_refuses_a_bad_parameter_before_the_kernel_starts(tmp_path, notebook, params, name):
    with pytest.raises(ConfigError, match=f"notebook parameter {name}") as caught:
        run_notebook(notebook, tmp_path, params)
    assert notebook in str(caught.value)
    assert not (tmp_path / f"{notebook}.ipynb").exists(), "no kernel ran"


@pytest.mark.slow
def test_papermill_given_a_bad_parameter_ends_with_one_line_naming_it(tmp_path, monkeypatch):
    """Run directly through papermill (no pre-check): the first cell that uses the value says which it is."""
    import papermill

    from mmrag_lab.workbench.runtime.notebook_runs import NOTEBOOKS_DIR

    monkeypatch.setenv("MMRAG_LITE_IDLE_TIMEOUT", "30")
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(NOTEBOOKS_DIR / "02_search.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(tmp_path),
            parameters={"DATA_DIR": str(tmp_path / "nowhere"), "URI": str(tmp_path / "x.db"), "ENCODER": "tiny"},
            progress_bar=False, kernel_name="python3",
        )  # fmt: skip
    error = caught.value
    assert error.ename == "ConfigError"
    assert "notebook parameter DATA_DIR" in error.evalue and "nowhere" in error.evalue
    frames = [line for line in error.traceback if "File " in line or "Cell In" in line]
    assert len(frames) <= 3, "the error is raised where the parameter is read, not deep inside"
    assert TRACEBACK not in error.evalue
