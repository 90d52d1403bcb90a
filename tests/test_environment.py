"""The environment files agree with each other: pyproject.toml, environment.yml, the Makefile and CI."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENV = yaml.safe_load((ROOT / "environment.yml").read_text())
MAKEFILE = (ROOT / "Makefile").read_text()


def _env_pip() -> list[str]:
    for dep in ENV["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    raise AssertionError("environment.yml has no pip section")


def _makefile_torch_pair() -> dict[str, str]:
    line = re.search(r"^TORCH_PAIR := (.+)$", MAKEFILE, re.M).group(1)
    return {Requirement(r).name: str(Requirement(r).specifier) for r in line.split()}


def test_torch_pair_is_pinned_identically_in_makefile_and_environment():
    env_pins = {
        Requirement(r).name: str(Requirement(r).specifier) for r in _env_pip() if not r.startswith("-e")
    }
    assert env_pins == _makefile_torch_pair()
    assert set(env_pins) == {"torch", "torchvision"}


def test_pinned_pair_satisfies_pyproject_ranges():
    ranges = {Requirement(r).name: Requirement(r).specifier for r in PYPROJECT["project"]["dependencies"]}
    for name, pin in _makefile_torch_pair().items():
        version = pin.lstrip("=")
        assert version in ranges[name], f"{name} {version} is outside pyproject's {ranges[name]}"


def test_environment_installs_the_project_with_the_extras_that_exist():
    editable = [r for r in _env_pip() if r.startswith("-e")]
    assert len(editable) == 1
    extras = set(re.search(r"\[(.+)\]", editable[0]).group(1).split(","))
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    assert extras == set(re.search(r'-e "\.\[(.+)\]"', MAKEFILE).group(1).split(","))


def test_environment_python_satisfies_requires_python():
    python = next(d for d in ENV["dependencies"] if isinstance(d, str) and d.startswith("python="))
    version = python.split("=", 1)[1]
    assert version + ".0" in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_server_extra_pins_the_real_milvus_server():
    assert "milvus==2.3.5" in PYPROJECT["project"]["optional-dependencies"]["server"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
