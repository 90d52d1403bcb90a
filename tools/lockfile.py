"""Keep a virtual environment at exactly the versions in the lock (requirements.lock).

Run it with the environment's own interpreter; it needs only the standard library and the ``packaging``
that pip carries, so it works in a venv that has nothing else yet.

    python tools/lockfile.py check requirements.lock      # what differs from the lock; exit 1 if anything
    python tools/lockfile.py sync requirements.lock       # install the pins, remove what the lock lacks
    python tools/lockfile.py moved OLD NEW                # what an upgrade moved: package, old, new
    python tools/lockfile.py environment requirements.lock environment.yml   # write the conda pins
    python tools/lockfile.py resolves requirements.lock --uv .venv/bin/uv --python 3.11 3.12

The lock is uv's hash-pinned requirements format, resolved for every supported Python at once, so a pin
may carry an environment marker; only the pins whose marker holds for this interpreter apply here.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.utils import canonicalize_name
except ImportError:  # a bare venv: pip carries the same library
    from pip._vendor.packaging.markers import Marker
    from pip._vendor.packaging.utils import canonicalize_name

PROJECT = "mmrag-lab"
# Installed by venv itself and never pinned: the installer, and what `make upgrade` must not remove.
UNPINNED = {"pip"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None

    def applies(self) -> bool:
        return self.marker is None or Marker(self.marker).evaluate()


def read_pins(lock: Path) -> list[Pin]:
    """Every ``name==version [; marker]`` line of a requirements lock (hash lines are skipped)."""
    pins = []
    for line in lock.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            name, version, marker = match.groups()
            pins.append(Pin(canonicalize_name(name), version, marker))
    if not pins:
        raise SystemExit(f"{lock} holds no pinned requirement (name==version): is it the lock?")
    return pins


def wanted(lock: Path) -> dict[str, str]:
    """The versions this interpreter must have, by canonical name."""
    return {pin.name: pin.version for pin in read_pins(lock) if pin.applies()}


def installed() -> dict[str, str]:
    """What this environment's own site-packages hold (not every folder on ``sys.path``: setuptools, once
    imported, puts its vendored packages there, and a test may add others)."""
    paths = sysconfig.get_paths()
    found = {}
    for dist in importlib.metadata.distributions(path=sorted({paths["purelib"], paths["platlib"]})):
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = dist.version
    return found


def differences(lock: Path) -> list[str]:
    """One line per difference between this environment and the lock; empty when they agree."""
    want, have = wanted(lock), installed()
    lines = []
    for name, version in sorted(want.items()):
        if name not in have:
            lines.append(f"{name}: the lock wants {version}, none is installed")
        elif have[name] != version:
            lines.append(f"{name}: the lock wants {version}, {have[name]} is installed")
    for name in sorted(set(have) - set(want) - UNPINNED - {PROJECT}):
        lines.append(f"{name}: {have[name]} is installed, the lock has no such package")
    if PROJECT not in have:
        lines.append(f"{PROJECT}: the project itself is not installed")
    return lines


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", *args])
    if done.returncode:
        raise SystemExit(
            f"pip {args[0]} failed (above: the package and version it could not install). The lock is "
            "requirements.lock; if a pinned version is no longer to be had, run `make upgrade`."
        )


def sync(lock: Path, project: Path) -> int:
    """Bring this environment to the lock: install the pins, remove the rest, install the project."""
    before = differences(lock)
    if not before:
        print(f"The environment matches {lock.name} ({len(wanted(lock))} pinned packages).")
        return 0
    if len(before) > 20:
        print(f"Installing the {len(wanted(lock))} packages pinned in {lock.name} ...", flush=True)
    else:
        print(f"Bringing the environment to {lock.name}:\n  " + "\n  ".join(before), flush=True)
    _pip("install", "--quiet", "--require-hashes", "--no-deps", "-r", str(lock))
    extra = sorted(set(installed()) - set(wanted(lock)) - UNPINNED - {PROJECT})
    if extra:
        _pip("uninstall", "--quiet", "--yes", *extra)
    if PROJECT not in installed():
        _pip("install", "--quiet", "--no-deps", "--no-build-isolation", "--editable", str(project))
    after = differences(lock)
    if after:
        print("The environment still differs from the lock:\n  " + "\n  ".join(after), file=sys.stderr)
        return 1
    print(f"The environment matches {lock.name} ({len(wanted(lock))} pinned packages).")
    return 0


def moved(old: Path, new: Path) -> list[tuple[str, str, str]]:
    """(package, old version, new version) for every pin that differs; '-' where one side lacks it."""

    def table(lock: Path) -> dict[str, str]:
        versions: dict[str, set[str]] = {}
        for pin in read_pins(lock):
            versions.setdefault(pin.name, set()).add(pin.version)
        return {name: " / ".join(sorted(vs)) for name, vs in versions.items()}

    before, after = table(old), table(new)
    rows = []
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            rows.append((name, before.get(name, "-"), after.get(name, "-")))
    return rows


def environment_pins(lock: Path) -> list[str]:
    """The lock's pins as conda's pip section takes them: no hashes, markers kept."""
    return [f"{p.name}=={p.version}" + (f" ; {p.marker}" if p.marker else "") for p in read_pins(lock)]


def write_environment(lock: Path, env_file: Path) -> None:
    text = env_file.read_text()
    head, sep, _ = text.partition("  - pip:\n")
    if not sep:
        raise SystemExit(f"{env_file} has no '  - pip:' section to write the pins into")
    lines = [f"      - {json.dumps(pin)}" for pin in environment_pins(lock)]
    lines.append('      - -e ".[dev,ray,server]"')
    env_file.write_text(head + sep + "\n".join(lines) + "\n")


def target_environment(python: str) -> dict[str, str]:
    """Marker values for CPython ``python`` on x86-64 Linux (the machines the project runs on)."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def resolves(lock: Path, uv: str, python: str) -> list[str]:
    """Resolve the lock's own pins for ``python`` on x86-64 Linux, wheels only; what differs from the lock.

    Empty when every pin that applies there has a wheel and together they need nothing the lock lacks.
    """
    env = target_environment(python)
    want = {p.name: p.version for p in read_pins(lock) if p.marker is None or Marker(p.marker).evaluate(env)}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "resolved.txt"
        done = subprocess.run(
            [uv, "pip", "compile", str(lock), "--python-version", python,
             "--python-platform", "x86_64-manylinux_2_28", "--only-binary", ":all:",
             "--no-header", "--no-annotate", "--quiet", "-o", str(out)],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode:
            return [f"does not resolve: {done.stderr.strip()[-1500:]}"]
        got = {pin.name: pin.version for pin in read_pins(out)}
    return [
        f"{name}: the lock has {want.get(name, '-')}, resolving gives {got.get(name, '-')}"
        for name in sorted(set(want) | set(got))
        if want.get(name) != got.get(name)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check").add_argument("lock", type=Path)
    syncing = sub.add_parser("sync")
    syncing.add_argument("lock", type=Path)
    syncing.add_argument("--project", type=Path, default=Path("."))
    moving = sub.add_parser("moved")
    moving.add_argument("old", type=Path)
    moving.add_argument("new", type=Path)
    resolving = sub.add_parser("resolves")
    resolving.add_argument("lock", type=Path)
    resolving.add_argument("--uv", default="uv")
    resolving.add_argument("--python", nargs="+", required=True)
    env = sub.add_parser("environment")
    env.add_argument("lock", type=Path)
    env.add_argument("env_file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "check":
        lines = differences(args.lock)
        for line in lines:
            print(line)
        return 1 if lines else 0
    if args.command == "sync":
        return sync(args.lock, args.project)
    if args.command == "moved":
        rows = moved(args.old, args.new)
        if not rows:
            print("Nothing moved.")
        else:
            width = max(len(r[0]) for r in rows)
            print(f"{'package':<{width}}  old -> new")
            for name, old, new in rows:
                print(f"{name:<{width}}  {old} -> {new}")
        return 0
    if args.command == "resolves":
        failed = 0
        for python in args.python:
            lines = resolves(args.lock, args.uv, python)
            print(
                f"Python {python}, x86-64 Linux: "
                + ("resolves to the lock's pins" if not lines else "differs")
            )
            for line in lines:
                print(f"  {line}")
            failed |= bool(lines)
        return int(failed)
    write_environment(args.lock, args.env_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
