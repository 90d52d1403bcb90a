"""The package's shape: layers only import downwards, no import cycles, small modules, one Milvus door."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mmrag_lab"
# Lower number = lower layer. A module may import its own layer or lower ones, never higher.
LAYERS = {
    "errors": 0,
    "config": 0,
    "images": 0,
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
MAX_LINES = 250


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


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.name}: split it along its seams"


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
