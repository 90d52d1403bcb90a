"""Two live notebook kernels and the CLI on one Milvus Lite file, the way JupyterLab users work.

Kernel 1 runs 01_ingest and stays alive; kernel 2 runs 02_search; kernel 1 ingests again with new images
while the CLI ingests another folder into the same file; kernel 2 searches again. Nothing may fail, the
final row count must be exact, and the kernels' own stderr must carry no gRPC noise or traceback.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager

from mmrag_lab.config import Config
from mmrag_lab.store.vector_store import Store
from mmrag_lab.workbench.runtime.notebook_runs import NOTEBOOKS_DIR

NOISE = ("too_many_pings", "GOAWAY", "Traceback", "StatusCode.UNAVAILABLE", "Connection recovery failed")


class LiveKernel:
    """A kernel started with jupyter_client; runs notebook cells like a person pressing Run All."""

    def __init__(self, stderr_path: Path):
        env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(sys.path)}
        self.stderr = open(stderr_path, "wb")
        self.manager = KernelManager(kernel_name="python3")
        self.manager.kernel_cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        self.manager.start_kernel(env=env, stderr=self.stderr, stdout=self.stderr)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 600) -> list[str]:
        """Execute ``code``; returns its text outputs, raises with the traceback when the cell fails."""
        msg_id = self.client.execute(code)
        texts, error = [], None
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"cell did not finish in {timeout} s:\n{code}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                texts.append(content["text"])
            elif kind == "error":
                error = "\n".join(content["traceback"])
            elif kind == "status" and content["execution_state"] == "idle":
                break
        assert error is None, f"cell failed:\n{code}\n{error}"
        return texts

    def run_notebook(self, name: str, parameters: dict) -> list[str]:
        notebook = nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4)
        outputs = []
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            outputs += self.run(cell.source)
            if "parameters" in cell.metadata.get("tags", []):
                outputs += self.run("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
        return outputs

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
        self.stderr.close()


@pytest.fixture
def folders(tmp_path, sample_dir):
    images = sorted(sample_dir.glob("*/*.jpg"))
    first, later, cli = tmp_path / "photos", tmp_path / "later", tmp_path / "cli_photos"
    for folder, chosen in ((first, images[:16]), (later, images[16:24]), (cli, images[24:34])):
        folder.mkdir()
        for path in chosen:
            shutil.copy(path, folder / path.name)
    return first, later, cli


@pytest.mark.slow
def test_two_kernels_and_the_cli_share_one_lite_file(tmp_path, folders):
    first, later, cli_folder = folders
    uri = str(tmp_path / "lab.db")
    params = {"URI": uri, "COLLECTION": "lab", "ENCODER": "tiny", "WEIGHTS": "untrained", "DEVICE": "cpu",
              "DATA_DIR": str(first), "K": 5}  # fmt: skip
    kernels = [LiveKernel(tmp_path / f"kernel{i}.stderr") for i in (1, 2)]
    try:
        ingest, search = kernels
        assert any("16 ingested" in text for text in ingest.run_notebook("01_ingest", params))
        search.run_notebook("02_search", params)
        cli = subprocess.Popen(
            [sys.executable, "-m", "mmrag_lab.cli", "ingest", str(cli_folder), "--uri", uri, "--collection",
             "lab", "--encoder", "tiny", "--weights", "untrained", "--device", "cpu"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for path in later.iterdir():
            shutil.copy(path, first / path.name)
        assert any("8 ingested" in text for text in ingest.run_notebook("01_ingest", params))
        out, err = cli.communicate(timeout=600)
        assert cli.returncode == 0, err
        search.run("results = mmrag_lab.search(image=session.query_image, instruction=INSTRUCTION, k=K, "
                   "config=session.config)\nprint(len(results.hits))")  # fmt: skip
    finally:
        for kernel in kernels:
            kernel.close()
    with Store.open(Config.load(env={}, milvus_uri=uri, collection="lab")) as store:
        assert store.count() == 16 + 8 + 10
    for i in (1, 2):
        log = (tmp_path / f"kernel{i}.stderr").read_text(errors="replace")
        assert not [word for word in NOISE if word in log], log[-3000:]
