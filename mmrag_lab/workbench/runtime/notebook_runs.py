"""Running the notebooks headless with papermill into a timestamped run folder (``make notebooks``).

Each notebook gets its parameters (data folder, URI, collection, encoder, weights, query, ``RUN_DIR``) and
writes its executed copy, its recorded values (JSON) and its figures (PNG) into ``runs/<timestamp>/``.
Secrets never travel as parameters: papermill writes parameters into the executed notebook, so a name that
looks like a key, token or password is refused. The kernel reads secrets from its environment instead.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mmrag_lab.config import Config
from mmrag_lab.errors import ConfigError
from mmrag_lab.workbench.runtime.params import check_values

NOTEBOOKS = ("01_ingest", "02_search", "03_rerank", "04_inspect", "05_evaluate", "06_compare")
NOTEBOOKS_DIR = Path(__file__).resolve().parents[3] / "notebooks"
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


@dataclass
class RunSummary:
    """What one run produced: the run folder, the executed notebooks, and the failures with reasons."""

    run_dir: Path
    executed: list[Path] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def figures(self) -> list[Path]:
        return sorted((self.run_dir / "figures").glob("*.png"))


def new_run_dir(root: str | Path = "runs") -> Path:
    """A fresh ``<root>/<YYYY-mm-dd_HHMMSS>`` folder (a suffix keeps two runs in one second apart)."""
    stamp = datetime.now().strftime("%Y-%m-%d_%H%M%S")
    for suffix in ["", *(f"-{i}" for i in range(1, 100))]:
        path = Path(root) / f"{stamp}{suffix}"
        try:
            path.mkdir(parents=True)
            return path.resolve()
        except FileExistsError:
            continue
    raise ConfigError(f"Cannot make a new run folder under {root}; clean it up with `make clean`.")


def check_parameters(parameters: Mapping[str, Any]) -> None:
    """Refuse parameters whose names look like secrets.

    Raises:
        ConfigError: A parameter is named like a key, token or password.
    """
    bad = sorted(name for name in parameters if _SECRET_NAME.search(name))
    if bad:
        raise ConfigError(
            f"Refusing papermill parameter(s) {bad}: parameters are written into the executed notebook. "
            "Put secrets in the environment (OPENAI_API_KEY, MMRAG_MILVUS_TOKEN) before running."
        )


def default_parameters(run_dir: Path, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``given`` plus what a self-contained run needs: ``RUN_DIR``, and a URI.

    Unless given (or set by ``MMRAG_MILVUS_URI``), the URI is a Milvus Lite file inside the run folder, so
    a run never touches the user's own database. Everything else the notebooks resolve themselves (see
    :func:`mmrag_lab.workbench.runtime.session.setup`): the bundled sample, the environment, weights that can be had now.
    """
    params = dict(given or {})
    if not params.get("URI") and Config.load().milvus_uri == Config().milvus_uri:
        params["URI"] = str(run_dir / "mmrag_lab.db")
    params["RUN_DIR"] = str(run_dir)
    return params


def run_notebook(
    name: str, run_dir: Path, parameters: Mapping[str, Any], *, kernel_name: str | None = None
) -> Path:
    """Execute ``notebooks/<name>.ipynb`` into ``run_dir``; only the parameters it declares are passed.

    Raises:
        ConfigError: A parameter is named like a secret or has a value that cannot work (see
            :mod:`mmrag_lab.workbench.runtime.params`), or the notebook does not exist.
        papermill.PapermillExecutionError: A cell failed; the executed notebook shows where.
    """
    import papermill

    check_parameters(parameters)
    source = NOTEBOOKS_DIR / f"{name}.ipynb"
    if not source.is_file():
        raise ConfigError(f"No notebook {source}; known notebooks: {', '.join(available_notebooks())}")
    declared = papermill.inspect_notebook(str(source))
    wanted = {key: value for key, value in parameters.items() if key in declared}
    check_values(wanted, name)  # a value that cannot work is refused before the kernel starts
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    target = Path(run_dir) / f"{name}.ipynb"
    papermill.execute_notebook(
        str(source), str(target), parameters=wanted, kernel_name=kernel_name, cwd=str(run_dir),
        progress_bar=False, log_output=False,
    )  # fmt: skip
    return target


def available_notebooks() -> list[str]:
    """The numbered notebooks that exist, in order."""
    return [name for name in NOTEBOOKS if (NOTEBOOKS_DIR / f"{name}.ipynb").is_file()]


def run_notebooks(
    names: Sequence[str] | None = None,
    *,
    run_dir: Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    echo: bool = True,
) -> RunSummary:
    """Run notebooks in order into one run folder; a failure is recorded and the others still run."""
    run_dir = run_dir or new_run_dir()
    params = default_parameters(run_dir, parameters)
    check_parameters(params)
    summary = RunSummary(run_dir)
    for name in names or available_notebooks():
        started = time.perf_counter()
        try:
            summary.executed.append(run_notebook(name, run_dir, params, kernel_name=kernel_name))
        except Exception as exc:  # a failed notebook must not hide the others' results
            summary.failed[name] = _reason(exc)
        summary.seconds[name] = round(time.perf_counter() - started, 1)
        if echo:
            state = "FAILED: " + summary.failed[name] if name in summary.failed else "ok"
            print(f"  {name:<12} {summary.seconds[name]:6.1f} s  {state}", flush=True)
    return summary


def _reason(exc: Exception) -> str:
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    return f"{ename}: {evalue}" if ename else f"{type(exc).__name__}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mmrag_lab.workbench.runtime.notebook_runs [NOTEBOOK ...] [-p NAME VALUE ...] [--out runs]``."""
    parser = argparse.ArgumentParser(
        prog="python -m mmrag_lab.workbench.runtime.notebook_runs", description=__doc__.splitlines()[0]
    )
    parser.add_argument("notebooks", nargs="*", help=f"which to run (default: all of {', '.join(NOTEBOOKS)})")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--out", default="runs", help="folder that receives the timestamped run folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # kernels inherit it: no gRPC fork notices in the output
    run_dir = new_run_dir(args.out)
    print(f"Running notebooks into {run_dir}")
    summary = run_notebooks(args.notebooks or None, run_dir=run_dir, parameters=_parse(args.parameter))
    print(f"Executed notebooks, records (*.json) and figures/ are in {run_dir}")
    return 0 if summary.ok else 1


def _parse(pairs: Sequence[Sequence[str]]) -> dict[str, Any]:
    import yaml  # papermill's own dependency; the same parsing as `papermill -y`

    return {name: yaml.safe_load(value) for name, value in pairs}


if __name__ == "__main__":
    sys.exit(main())
