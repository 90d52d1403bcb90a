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
    "checks": 0,
    "argtypes": 0,
    "deprecation": 0,
    "guard": 0,
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
