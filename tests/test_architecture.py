"""The house rules of the layout (issue 29), checked on the source itself:

- the rooms are layered (import-linter's ``rooms`` contract in pyproject.toml): a room imports only
  from the rooms below it, the floor (``rxaudit``) from none;
- no import circle between modules, anywhere (module A imports B, B imports A, directly or around
  a longer loop; imports inside functions count too);
- every top-level package is one of the contract's rooms, opens with a docstring of at most three
  lines, and none holds more than a quarter of the code.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
ROOMS: list[str] = CONFIG["root_packages"]


def test_rooms_are_layered():
    """import-linter's contracts; its report names every import that runs up a floor."""
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def import_circles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        circles.append(sorted(component))
    return circles


def test_no_import_circles():
    graph = grimp.build_graph(*ROOMS, include_external_packages=False, cache_dir=None)
    circles = import_circles(graph)
    assert not circles, "modules that import each other (directly or around a loop):\n" + "\n".join(
        " <-> ".join(c) for c in circles)


def _code_lines(folder: Path) -> int:
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in folder.rglob("*.py"))


def test_every_package_is_a_room_with_a_short_docstring():
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
    assert packages == sorted(ROOMS), "a new top-level package takes its place in [tool.importlinter]"
    for room in ROOMS:
        doc = ast.get_docstring(ast.parse((ROOT / room / "__init__.py").read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()) <= 3, f"{room}/__init__.py: what it owns, what it may import"


def test_no_room_holds_more_than_a_quarter_of_the_code():
    lines = {room: _code_lines(ROOT / room) for room in [*ROOMS, "tools"]}
    total = sum(lines.values())
    assert all(n <= total / 4 for n in lines.values()), {room: f"{n / total:.0%}" for room, n in lines.items()}
