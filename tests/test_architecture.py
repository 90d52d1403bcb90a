"""The package's shape: layers only import downwards, no import cycles, short functions, one name per
module, one Milvus door."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mmrag_lab"
# Lower number = lower layer. A module may import its own layer or lower ones, never higher.
LAYERS = {
    "errors": 0,
    "config": 0,
    "images": 0,
    "checks": 0,
    "argtypes": 0,
    "deprecation": 0,
    "bugs": 0,
    "redaction": 0,
    "terminal": 0,
    "preset_names": 0,
    "setting_values": 0,
    "encoders": 1,
    "plots": 1,
    "store": 2,
    "ingestion": 3,
    "retrieval": 3,
    "reranking": 3,
    "inspection": 4,
    "evaluation": 4,
    "workbench": 5,
    "cli": 6,
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """mmrag_lab modules that ``path`` imports (``from pkg import submodule`` counts as the submodule)."""
    modules = _modules()
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # imports under `if TYPE_CHECKING:` are for annotations only
        nodes = [n for n in nodes if not isinstance(n, ast.If)]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {name for name in found if name.startswith("mmrag_lab")}


def _layer(module: str) -> tuple[str, int]:
    parts = module.split(".")
    if len(parts) == 1:
        return "mmrag_lab", -1
    return parts[1], LAYERS[parts[1]]


def test_every_stage_has_a_layer_and_a_docstring():
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    stages |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert stages == set(LAYERS), "give each new top-level module or subpackage a layer here"
    for stage in stages:
        init = PACKAGE / stage / "__init__.py"
        if init.exists():
            assert ast.get_docstring(ast.parse(init.read_text())), (
                f"{stage}/__init__.py must say what it is for"
            )


def test_lower_layers_never_import_higher_ones():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if name == "mmrag_lab":
            continue
        stage, level = _layer(name)
        for target in _imports(path, top_level_only=False):
            if target not in modules:
                continue
            other, other_level = _layer(target)
            if other_level > level:
                wrong.append(
                    f"{name} ({stage}, layer {level}) imports {target} ({other}, layer {other_level})"
                )
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    modules = _modules()
    graph = {
        name: {t for t in _imports(path, True) if t in modules and t != name}
        for name, path in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


# --- size and names: a function is short, a module holds one concept and has a name no other module has ---

# ruff's PLR0915 (too-many-statements) caps a function, configured in pyproject.toml [tool.ruff.lint].
LENGTH_RULE = "PLR0915"
MAX_STATEMENTS = 50


def _ruff_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]


def _too_long(*extra: str) -> list[str]:
    """``file:line`` of each function in the package over the statement cap, by ruff with the project's
    configuration plus ``extra`` settings."""
    command = [sys.executable, "-m", "ruff", "check", "--select", LENGTH_RULE, "--output-format", "json"]
    command += [arg for setting in extra for arg in ("--config", setting)]
    done = subprocess.run([*command, str(PACKAGE)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode in (0, 1), done.stderr
    return [
        f"{Path(v['filename']).relative_to(ROOT)}:{v['location']['row']}: {v['message']}"
        for v in json.loads(done.stdout)
    ]


def test_the_function_length_rule_is_on():
    config = _ruff_config()
    assert LENGTH_RULE in config["select"] and config["pylint"]["max-statements"] == MAX_STATEMENTS


def test_functions_stay_short():
    too_long = _too_long()
    assert not too_long, "split these functions along their seams:\n" + "\n".join(too_long)


def test_every_function_length_exemption_is_still_needed():
    """pyproject.toml's per-file exemptions from the cap name exactly the files still over it."""
    exempt = {
        path for path, rules in _ruff_config().get("per-file-ignores", {}).items() if LENGTH_RULE in rules
    }
    over = {line.split(":")[0] for line in _too_long("lint.per-file-ignores={}")}
    assert over == exempt, (
        f"remove from pyproject.toml's per-file-ignores what is short now: {sorted(exempt - over)}; "
        f"split what is over the cap (no new exemptions): {sorted(over - exempt)}"
    )


# Pairs of modules that share a file name today, each with why they differ; the list may only shrink: a new
# pair fails, and a pair that is renamed away must be taken off. cli/ is left out (its files are named after
# subcommands), and so are __init__.py and base.py (test_base_modules_hold_only_an_interface).
KNOWN_DUPLICATES: dict[str, set[str]] = {}
EXEMPT_NAMES = {"__init__.py", "base.py"}


def duplicate_names(paths: list[str]) -> dict[str, set[str]]:
    """File names that two or more modules share (paths relative to the package; cli/ and the exempt names
    left out), with the modules that have each."""
    by_name = defaultdict(set)
    for path in paths:
        name = Path(path).name
        if not path.startswith("cli/") and name not in EXEMPT_NAMES:
            by_name[name].add(path)
    return {name: found for name, found in by_name.items() if len(found) > 1}


def test_the_name_check_finds_a_planted_duplicate():
    planted = ["a/x.py", "b/x.py", "cli/x.py", "cli/y.py", "y.py", "a/__init__.py", "a/base.py", "b/base.py"]
    assert duplicate_names(planted) == {"x.py": {"a/x.py", "b/x.py"}}
    assert duplicate_names(["cli/x.py", "x.py", "cli/base.py"]) == {}


def test_no_two_modules_share_a_name_but_the_known_pairs():
    paths = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")]
    found = duplicate_names(paths)
    new = {name: sorted(mods) for name, mods in found.items() if mods != KNOWN_DUPLICATES.get(name)}
    gone = sorted(name for name in KNOWN_DUPLICATES if name not in found)
    assert not new, f"give each module a name of its own (one concept, one name): {new}"
    assert not gone, f"renamed away: take these off KNOWN_DUPLICATES in {Path(__file__).name}: {gone}"


INTERFACE_BASES = {"ABC", "Protocol"}


def not_interface(source: str) -> set[str]:
    """What in a ``base.py`` is not an interface: anything at the top level but the docstring, imports,
    constants and classes that are abstract (``ABC``, ``Protocol``) or dataclasses (the values the
    interface passes)."""
    found = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ClassDef):
            bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
            decorators = {ast.unparse(d).split("(")[0].split(".")[-1] for d in node.decorator_list}
            if bases & INTERFACE_BASES or "dataclass" in decorators:
                continue
        found.add(getattr(node, "name", f"line {node.lineno}"))
    return found


def test_the_interface_check_finds_planted_helpers():
    interface = (
        '"""Doc."""\nfrom abc import ABC\nKINDS = (1,)\n@dataclass(frozen=True)\nclass Info:\n x: int\n'
        "class Thing(ABC):\n def f(self): ...\n"
    )
    assert not_interface(interface) == set()
    assert not_interface("class Mixin:\n pass\ndef helper():\n pass\nprint(1)\n") == {
        "Mixin",
        "helper",
        "line 5",
    }


# What base.py modules hold today beyond their package's interface; the list may only shrink.
KNOWN_NOT_INTERFACE: dict[str, set[str]] = {}


def test_base_modules_hold_only_an_interface():
    found = {str(p.relative_to(PACKAGE)): not_interface(p.read_text()) for p in PACKAGE.rglob("base.py")}
    new = {path: sorted(what - KNOWN_NOT_INTERFACE.get(path, set())) for path, what in found.items()}
    gone = {path: sorted(what - found.get(path, set())) for path, what in KNOWN_NOT_INTERFACE.items()}
    new, gone = {p: w for p, w in new.items() if w}, {p: w for p, w in gone.items() if w}
    assert not new, f"a base.py holds its package's interface and nothing else; put these elsewhere: {new}"
    assert not gone, f"moved out: take these off KNOWN_NOT_INTERFACE in {Path(__file__).name}: {gone}"


def test_only_the_store_talks_to_milvus():
    leaks = []
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "store"):
            continue
        text = path.read_text()
        if re.search(r"\.client\.", text) or re.search(r"^\s*(from|import) pymilvus", text, re.M):
            leaks.append(str(path.relative_to(PACKAGE)))
    assert not leaks, f"only mmrag_lab/store/ may use pymilvus or a Store's client: {leaks}"


def test_public_api_is_plain_functions():
    import inspect

    import mmrag_lab

    for name in ("ingest", "search", "rerank", "evaluate", "load_encoder"):
        assert inspect.isfunction(getattr(mmrag_lab, name)), name
    assert inspect.isclass(mmrag_lab.Config) and inspect.isclass(mmrag_lab.Store)


# --- the store's seams: one retry layer, backends behind one interface, an explicit encoder contract ---

STORE_CALL_OWNERS = re.compile(r"(^|_)store$")  # `store`, `self.store`, `own_store`, `self._store`


def _store_error_names() -> set[str]:
    from mmrag_lab import errors

    return {n for n, c in vars(errors).items() if isinstance(c, type) and issubclass(c, errors.StoreError)}


def _catches_store_error(handler: ast.ExceptHandler, names: set[str]) -> bool:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(t, ast.Name) and t.id in names) or (isinstance(t, ast.Attribute) and t.attr in names)
        for t in caught
    )


def _calls_the_store(nodes: list[ast.AST]) -> bool:
    for node in (n for top in nodes for n in ast.walk(top)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if STORE_CALL_OWNERS.search(name):
                return True
    return False


def store_retries(source: str) -> list[int]:
    """Lines of handlers that catch a StoreError (or subclass) to call the store again: the handler calls
    the store, or its ``try`` sits in a loop and calls the store (the next turn sends the call again)."""
    names, found = _store_error_names(), []

    def visit(node: ast.AST, loops: int) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, 0)
                continue
            if isinstance(child, ast.Try):
                for handler in child.handlers:
                    if _catches_store_error(handler, names) and (
                        _calls_the_store(handler.body) or (loops and _calls_the_store(child.body))
                    ):
                        found.append(handler.lineno)
            visit(child, loops + isinstance(child, (ast.For, ast.While, ast.AsyncFor)))

    visit(ast.parse(source), 0)
    return found


PLANTED_RETRIES = {
    "handler calls again": "def f(store, v):\n try:\n  return store.search(v)\n except StoreError:\n"
    "  store.refresh()\n  return store.search(v)\n",
    "loop goes round": "def f(self, v):\n for _ in range(3):\n  try:\n   return self.store.search(v)\n"
    "  except (ValueError, errors.CollectionMismatchError):\n   continue\n",
}
NOT_A_RETRY = (
    "def f(store, v):\n try:\n  return store.search(v)\n except StoreError as exc:\n  raise Q(exc)\n"
)


@pytest.mark.parametrize("name", sorted(PLANTED_RETRIES))
def test_the_retry_check_finds_a_planted_retry(name):
    assert store_retries(PLANTED_RETRIES[name]) and not store_retries(NOT_A_RETRY)


def test_nothing_above_the_store_retries_a_store_call():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(PACKAGE / "store")
        for line in store_retries(path.read_text())
    ]
    assert not found, f"only mmrag_lab/store/retry.py retries store calls: {found}"


ENCODER_NAMES = re.compile(r"^_?(enc|encoder)(_\w+)?$")


def getattr_on_encoder(source: str) -> list[int]:
    """Lines that call ``getattr`` on something named like an encoder (``encoder``, ``self.encoder``, ``enc``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and node.args:
            target = node.args[0]
            name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
            if ENCODER_NAMES.match(name):
                found.append(node.lineno)
    return found


def test_the_encoder_check_finds_a_planted_getattr():
    planted = (
        "def f(self, enc):\n a = getattr(enc, 'device', 'cpu')\n return getattr(self.encoder, 'dtype')\n"
    )
    assert getattr_on_encoder(planted) == [2, 3] and not getattr_on_encoder("x = getattr(model, 'a')\n")


def test_no_getattr_on_an_encoder():
    found = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for path in PACKAGE.rglob("*.py")
        for line in getattr_on_encoder(path.read_text())
    ]
    assert not found, f"use the encoder contract (encoders/base.py), not getattr: {found}"


BACKENDS = PACKAGE / "store" / "backends"


def backend_implementations_imported(source: str) -> set[str]:
    """Backend implementation modules (``store/backends/*.py`` but the interface) that ``source`` imports."""
    implementations = {f"mmrag_lab.store.backends.{p.stem}" for p in BACKENDS.glob("*.py")} - {
        "mmrag_lab.store.backends.__init__",
        "mmrag_lab.store.backends.base",
    }
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found & implementations


def test_the_backend_import_check_finds_a_planted_import():
    assert backend_implementations_imported("from mmrag_lab.store.backends import lite\n")
    assert backend_implementations_imported("from mmrag_lab.store.backends.server import ServerBackend\n")
    assert not backend_implementations_imported("from mmrag_lab.store.backends import backend_for\n")


def test_nothing_above_the_store_imports_a_backend_implementation():
    found = {
        str(path.relative_to(PACKAGE)): sorted(backend_implementations_imported(path.read_text()))
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(PACKAGE / "store")
    }
    found = {path: names for path, names in found.items() if names}
    assert not found, f"ask the Store (store.backend, store.dialect()), not an implementation: {found}"


# --- ingest's data flows one way: phases return values, and the report is made from them in report.py ---

REPORT_MODULE = PACKAGE / "ingestion" / "report.py"
REPORT_WRITES_ALLOWED = 4  # the cap: fewer than 5 places outside ingestion/report.py write to a report
MUTATORS = {"append", "extend", "update", "insert", "pop", "clear", "setdefault", "remove"}
READERS = {"to_dict", "to_json", "write", "summary"}  # the report's methods that change nothing


def _report_names(tree: ast.AST, in_ingestion: bool) -> set[str]:
    """Names in a module that hold an ingest report: parameters annotated ``IngestReport``, names bound to
    ``IngestReport(...)``, ``IngestReport.assemble(...)`` or ``ingest(...)``, and ``report`` in ingestion/."""
    names = {"report"} if in_ingestion else set()
    makers = ("IngestReport", "IngestReport.assemble", "ingest")
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            if "IngestReport" in ast.unparse(node.annotation):
                names.add(node.arg)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            called = ast.unparse(node.value.func)
            if any(called == maker or called.endswith("." + maker) for maker in makers):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def _on_report(node: ast.AST, names: set[str]) -> bool:
    """``report.field`` or ``report.field[...]`` (a write to the field or into it)."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names


def report_writes(source: str, in_ingestion: bool = True) -> list[int]:
    """Lines of ``source`` that write to an ingest report: assignments (plain, augmented, annotated) to its
        fields, ``setattr`` on it, calls that change a field in place (``report.failed.append(...)``) and calls of
    its methods but those that only read it."""
    tree = ast.parse(source)
    names = _report_names(tree, in_ingestion)
    lines = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Name) and first.id in names:
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            on = node.func.value
            if node.func.attr in MUTATORS and _on_report(on, names):
                lines.append(node.lineno)
            elif isinstance(on, ast.Name) and on.id in names and node.func.attr not in READERS:
                lines.append(node.lineno)  # a method of the report that sets its fields
        flat = [t for target in targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        lines += [node.lineno for target in flat if _on_report(target, names)]
    return sorted(lines)


def test_the_report_write_check_finds_planted_writes():
    planted = (
        "def run(report, rows):\n"
        "    report.ingested += len(rows)\n"
        "    report.seen = 3\n"
        "    report.failed.append({})\n"
        "    report.phases_s['scan'] = 1.0\n"
        "    setattr(report, 'encoded', 1)\n"
        "    report.added, report.renamed = 1, 2\n"
        "    report.add_failure('x', 'y')\n"
        "    tally.written += 1\n"
        "    report.write('r.json'), print(report.summary())\n"
    )
    assert report_writes(planted) == [2, 3, 4, 5, 6, 7, 7, 8]
    outside = (
        "def f(r: IngestReport):\n    r.pruned = 1\n\ndef g():\n    out = ingest('x')\n    out.seen = 2\n"
    )
    assert report_writes(outside, in_ingestion=False) == [2, 6]


def test_the_ingest_report_is_assembled_in_one_place():
    """Phases return values; only ingestion/report.py writes to an IngestReport (:meth:`assemble`)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == REPORT_MODULE:
            continue
        in_ingestion = path.parent == PACKAGE / "ingestion"
        source = path.read_text(encoding="utf-8")
        found += [f"{path.relative_to(ROOT)}:{line}" for line in report_writes(source, in_ingestion)]
    assert len(found) <= REPORT_WRITES_ALLOWED, (
        "return a value from the phase and let IngestReport.assemble count it:\n" + "\n".join(found)
    )


# --- tests mirror modules: a module with behaviour of its own has a test module of its own ---

TESTS = ROOT / "tests"


def has_behaviour(source: str) -> bool:
    """A module has behaviour of its own when it defines a function or a class at its top level; constants,
    imports and re-exports are not behaviour."""
    return any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.parse(source).body
    )


def mirrored_test(module: str) -> str:
    """The test module that mirrors ``module`` (a path relative to the package): ``pkg/x.py`` is tested in
    ``tests/pkg/test_x.py``. A package's ``__init__.py`` in ``tests/pkg/test_<pkg>.py`` (the package itself in
    ``tests/test_mmrag_lab.py``), ``pkg/base.py`` in ``tests/pkg/test_<pkg>_base.py``, and ``cli/x.py`` in
    ``tests/cli/test_cli_x.py``: tests/ has no ``__init__.py``, so pytest imports each test module by its
    file name alone, and those names must stay unique."""
    parts = Path(module).with_suffix("").parts
    folder, stem = parts[:-1], parts[-1]
    if folder[:1] == ("cli",):
        name = "cli" if stem == "__init__" else f"cli_{stem}"
    elif stem == "__init__":
        name = folder[-1] if folder else "mmrag_lab"
    elif stem == "base":
        name = f"{folder[-1]}_base"
    else:
        name = stem
    return str(Path("tests", *folder, f"test_{name}.py"))


def test_the_mirror_rule_maps_planted_modules():
    assert mirrored_test("terminal.py") == "tests/test_terminal.py"
    assert mirrored_test("evaluation/inputs/protocol.py") == "tests/evaluation/inputs/test_protocol.py"
    assert mirrored_test("store/backends/base.py") == "tests/store/backends/test_backends_base.py"
    assert mirrored_test("encoders/__init__.py") == "tests/encoders/test_encoders.py"
    assert mirrored_test("__init__.py") == "tests/test_mmrag_lab.py"
    assert mirrored_test("cli/search.py") == "tests/cli/test_cli_search.py"
    assert mirrored_test("cli/__init__.py") == "tests/cli/test_cli.py"
    assert has_behaviour("def f():\n pass\n") and has_behaviour("class A:\n x = 1\n")
    assert not has_behaviour('"""Doc."""\nfrom a import b as b\nX = 1\n__all__ = ["b"]\n')


# Modules with behaviour whose tests live in another module's test file (the file named), and why; the list
# may only shrink: a module that gains its own test module (or loses its behaviour) must be taken off, and
# a new module with behaviour needs a test module of its own, not an entry here.
TESTED_ELSEWHERE: dict[str, str] = {
    # the CLI: each subcommand is run whole, in the tests of what it drives
    "cli/__init__.py": "tests/cli/test_cli_exit_codes.py",
    "cli/evaluate.py": "tests/evaluation/running/test_evaluate_run.py",
    "cli/ingest.py": "tests/ingestion/test_pipeline.py",
    "cli/lite.py": "tests/store/test_lite_sharing.py",
    "cli/migrate.py": "tests/store/test_migrate.py",
    # encoders: each preset's family and preprocessing are held to the encoder contract
    "encoders/clip_family.py": "tests/encoders/test_encoders_base.py",
    "encoders/siglip_family.py": "tests/encoders/test_encoders_base.py",
    "encoders/dual_tower.py": "tests/encoders/test_encoders_base.py",
    "encoders/preprocessing.py": "tests/ingestion/test_gpu_decode.py",
    "encoders/visualized_bge/family.py": "tests/encoders/visualized_bge/test_encoder.py",
    # evaluation: parts of a run, tested through the runs and comparisons they make
    "evaluation/comparing/comparable.py": "tests/evaluation/comparing/test_compare.py",
    "evaluation/comparing/comparison.py": "tests/evaluation/comparing/test_compare.py",
    "evaluation/records/rundir.py": "tests/evaluation/records/test_runparts.py",
    "evaluation/running/aggregate.py": "tests/evaluation/running/test_metrics.py",
    "evaluation/running/ranking.py": "tests/evaluation/running/test_evaluate_run.py",
    "evaluation/running/retrieval_stage.py": "tests/evaluation/records/test_runparts.py",
    "evaluation/running/scored_run.py": "tests/evaluation/running/test_feedback_eval.py",
    # ingestion: the phases of one ingest, tested through ingest() on real folders and a real Milvus Lite
    "ingestion/cpu_mapper.py": "tests/ingestion/test_pipeline.py",
    "ingestion/gpu_mapper.py": "tests/ingestion/test_gpu_decode.py",
    "ingestion/landing.py": "tests/ingestion/test_encode_loop.py",
    "ingestion/links.py": "tests/badinput/test_unreadable_entries.py",
    "ingestion/mapper.py": "tests/ingestion/test_encode_loop.py",
    "ingestion/options.py": "tests/test_mmrag_lab.py",  # and tests/test_deprecation.py
    "ingestion/plan.py": "tests/ingestion/test_first_ingest.py",
    "ingestion/reader.py": "tests/ingestion/test_encode_loop.py",
    "ingestion/report.py": "tests/ingestion/test_pipeline.py",
    "ingestion/roots.py": "tests/ingestion/test_ingest_resume.py",
    "ingestion/sidecar_read.py": "tests/ingestion/test_sidecar.py",
    "ingestion/sidecar_values.py": "tests/badinput/test_sidecars.py",
    "ingestion/staging.py": "tests/ingestion/test_encode_loop.py",
    "ingestion/sync.py": "tests/ingestion/test_pipeline.py",
    "ingestion/twins.py": "tests/ingestion/test_first_ingest.py",
    "ingestion/writer.py": "tests/ingestion/test_pipeline.py",
    # reranking and retrieval: values and caches of a rerank or a search
    "reranking/llm.py": "tests/reranking/test_reranker.py",
    "retrieval/results.py": "tests/retrieval/test_query.py",
    "retrieval/fusion.py": "tests/retrieval/test_hybrid_search.py",
    # the store: the Store's parts and backends, tested through the Store against every backend
    "store/backends/base.py": "tests/store/backends/test_backends.py",
    "store/backends/connect.py": "tests/badinput/test_store_interruptions.py",
    "store/backends/lite.py": "tests/store/backends/test_backends.py",
    "store/backends/server.py": "tests/store/backends/test_backends.py",
    "store/keyword_search.py": "tests/retrieval/test_hybrid_search.py",
    "store/text_migrate.py": "tests/store/test_text_fields.py",
    "store/clients.py": "tests/store/test_lite_sharing.py",
    "store/lite_discovery.py": "tests/store/test_lite_sharing.py",
    "store/lite_process.py": "tests/badinput/test_store_interruptions.py",
    "store/lite_server.py": "tests/store/test_lite_sharing.py",
    "store/record.py": "tests/store/test_migrate.py",
    "store/retry.py": "tests/badinput/test_store_interruptions.py",
    "store/rows.py": "tests/store/test_vector_store.py",
    "store/schema.py": "tests/store/test_vector_store.py",
    "store/target.py": "tests/retrieval/test_query.py",
    # the workbench: run through the notebooks and widgets that use them
    "workbench/widgets/compare_backend.py": "tests/workbench/widgets/test_compare_app.py",
    "workbench/widgets/search_backend.py": "tests/workbench/widgets/test_search_app.py",
}


def test_every_module_with_behaviour_has_a_test_module_of_its_own():
    behaviour = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if has_behaviour(p.read_text())}
    missing = sorted(m for m in behaviour - set(TESTED_ELSEWHERE) if not (ROOT / mirrored_test(m)).exists())
    assert not missing, "write these test modules (tests mirror the package): " + ", ".join(
        f"{m} -> {mirrored_test(m)}" for m in missing
    )
    stale = sorted(m for m in TESTED_ELSEWHERE if m not in behaviour or (ROOT / mirrored_test(m)).exists())
    assert not stale, f"take these off TESTED_ELSEWHERE in {Path(__file__).name} (tested, or gone): {stale}"
    lost = sorted(f"{m}: {test}" for m, test in TESTED_ELSEWHERE.items() if not (ROOT / test).exists())
    assert not lost, f"TESTED_ELSEWHERE names test files that do not exist: {lost}"


def test_test_module_names_are_unique():
    """tests/ has no ``__init__.py``: pytest imports each test module by its file name alone, so two test
    files with one name would stop the run at collection."""
    by_name = defaultdict(list)
    for path in TESTS.rglob("test_*.py"):
        by_name[path.name].append(str(path.relative_to(ROOT)))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert not shared, f"rename one of each: {shared}"
