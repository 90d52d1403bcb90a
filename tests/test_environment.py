"""The environment files agree with each other and with the lock: pyproject.toml, requirements.in,
requirements.lock, environment.yml, the Makefile and CI; and the environment the tests run in is the lock."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
ENV = yaml.safe_load((ROOT / "environment.yml").read_text())
MAKEFILE = (ROOT / "Makefile").read_text()
LOCK = ROOT / "requirements.lock"
_spec = importlib.util.spec_from_file_location("lockfile", ROOT / "tools" / "lockfile.py")
lockfile = sys.modules.setdefault("lockfile", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(lockfile)


def _env_pip() -> list[str]:
    for dep in ENV["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return dep["pip"]
    raise AssertionError("environment.yml has no pip section")


def _requirements(*groups: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for group in groups:
        reqs += [Requirement(r) for r in project["optional-dependencies"][group]]
    return reqs


def _torch_pair() -> dict[str, str]:
    lines = [line for line in (ROOT / "requirements.in").read_text().splitlines() if line and line[0] != "#"]
    return {Requirement(r).name: str(Requirement(r).specifier).lstrip("=") for r in lines}


def _locked() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for pin in lockfile.read_pins(LOCK):
        out.setdefault(pin.name, set()).add(pin.version)
    return out


def test_the_lock_pins_the_torch_pair_of_requirements_in():
    pair = _torch_pair()
    assert set(pair) == {"torch", "torchvision"}
    locked = _locked()
    for name, version in pair.items():
        assert locked[name] == {version}


def test_every_direct_requirement_is_locked_within_pyproject_range():
    locked = _locked()
    for req in _requirements("dev", "server"):
        name = canonicalize_name(req.name)
        assert name in locked, (
            f"{name} is required by pyproject.toml but missing from the lock: run make lock"
        )
        for version in locked[name]:
            assert version in req.specifier, f"{name} {version} is outside pyproject's {req.specifier}"
        for extra in req.extras:  # pymilvus[milvus-lite]: the extra's packages are locked too
            assert extra.replace("_", "-") in locked or extra in locked, extra


def test_every_pin_has_hashes_so_setup_installs_exactly_the_tested_files():
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
    for block in blocks:
        if "==" in block.splitlines()[0]:
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_environment_yml_installs_the_lock_pins_then_the_project():
    pins = [r for r in _env_pip() if not r.startswith("-e")]
    assert pins == lockfile.environment_pins(LOCK), "environment.yml is stale: run make lock"
    editable = [r for r in _env_pip() if r.startswith("-e")]
    assert len(editable) == 1
    extras = set(re.search(r"\[(.+)\]", editable[0]).group(1).split(","))
    assert extras == set(PYPROJECT["project"]["optional-dependencies"])
    assert re.search(r"--extra dev --extra server --extra ray", MAKEFILE)


def test_pinned_pair_satisfies_pyproject_ranges():
    ranges = {Requirement(r).name: Requirement(r).specifier for r in PYPROJECT["project"]["dependencies"]}
    for name, version in _torch_pair().items():
        assert version in ranges[name], f"{name} {version} is outside pyproject's {ranges[name]}"


def test_environment_python_satisfies_requires_python():
    python = next(d for d in ENV["dependencies"] if isinstance(d, str) and d.startswith("python="))
    version = python.split("=", 1)[1]
    assert version + ".0" in SpecifierSet(PYPROJECT["project"]["requires-python"])


def test_declared_pythons_are_those_the_lock_was_resolved_for():
    declared = [c.rsplit(" ", 1)[1] for c in PYPROJECT["project"]["classifiers"] if "Python :: 3." in c]
    assert declared == ["3.11", "3.12"]
    assert re.search(r"^PYTHONS := (.+)$", MAKEFILE, re.M).group(1).split() == declared
    assert "--universal --python-version $(firstword $(PYTHONS))" in MAKEFILE
    assert all(v + ".0" in SpecifierSet(PYPROJECT["project"]["requires-python"]) for v in declared)


def test_the_openai_range_is_bounded_to_the_majors_tested():
    openai = next(r for r in _requirements() if r.name == "openai")
    assert "3.99" in openai.specifier and "4.0" not in openai.specifier and "1.39" not in openai.specifier


def test_server_extra_pins_the_real_milvus_server():
    assert "milvus==2.3.5" in PYPROJECT["project"]["optional-dependencies"]["server"]


def test_setup_installs_from_the_lock():
    if shutil.which("make") is None:
        return
    shown = subprocess.run(
        ["make", "-n", "setup"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "tools/lockfile.py sync requirements.lock" in shown
    assert "pip install" not in shown  # nothing unpinned: every install goes through the lock


def test_the_environment_running_the_tests_is_the_lock():
    import setuptools  # noqa: F401  (it puts its vendored packages on sys.path: they are not installed ones)

    assert any("_vendor" in entry for entry in sys.path)
    assert lockfile.differences(LOCK) == []


def test_a_drifted_environment_is_named_package_by_package(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text(LOCK.read_text().replace("\nopenai==", "\nopenai==0.0.1+not", 1))
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "lockfile.py"), "check", str(lock)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    import openai

    assert (
        done.stdout.strip()
        == f"openai: the lock wants 0.0.1+not{openai.__version__}, {openai.__version__} is installed"
    )


def test_moved_lists_package_old_and_new(tmp_path):
    old, new = tmp_path / "old.lock", tmp_path / "new.lock"
    old.write_text(
        "# head\n#  cmd\nalpha==1.0 \\\n    --hash=sha256:aa\nbeta==2.0 ; python_version < '3.12'\n"
    )
    new.write_text("# head\n#  cmd\nalpha==1.1 \\\n    --hash=sha256:bb\ngamma==3.0\n")
    assert lockfile.moved(old, new) == [("alpha", "1.0", "1.1"), ("beta", "2.0", "-"), ("gamma", "-", "3.0")]
    assert lockfile.moved(old, old) == []


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make demo" in readme
