"""Write or check ARCHITECTURE.md's module list: every module of the package, one line each, taken from the
first line of its docstring (what it is for), so the map cannot drift from the code.

    python tools/module_map.py          # rewrite the list in ARCHITECTURE.md
    python tools/module_map.py --check  # exit 1, naming the difference, when the list is stale
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- module map: tools/module_map.py -->", "<!-- end of module map -->"


def summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return " ".join(doc.split("\n\n")[0].split()) or "(no docstring)"


def module_lines() -> list[str]:
    lines = []
    for path in sorted((ROOT / "mmrag_lab").rglob("*.py")):
        rel = path.relative_to(ROOT / "mmrag_lab").as_posix()
        if path.name == "__init__.py" and not summary(path).strip("()").startswith("no"):
            rel = rel.removesuffix("__init__.py") or "__init__.py"
        lines.append(f"| `{rel}` | {summary(path).replace('|', '/')} |")
    return lines


def rendered() -> str:
    return "\n".join([START, "", "| module | what it is for |", "|---|---|", *module_lines(), "", END])


def main(argv: list[str]) -> int:
    arch = ROOT / "ARCHITECTURE.md"
    text = arch.read_text()
    if START not in text:
        raise SystemExit(f"{arch.name} has no '{START}' marker")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    new = head + rendered() + tail
    if "--check" in argv:
        if new != text:
            print("ARCHITECTURE.md's module map is stale: run `python tools/module_map.py`.")
            return 1
        return 0
    arch.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
