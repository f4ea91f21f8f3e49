"""The architecture map's rules, checked on the code itself (walks `harness/` with `ast`).

- `load/` imports nothing from `capacity/`;
- `results/` imports nothing from `capacity/` or `report/`;
- `emulator/` imports nothing of harness outside `harness.errors` and itself (it stands alone);
- no import cycles between modules (imports under `if TYPE_CHECKING:` and inside functions count);
- no module in `harness/` is over 500 lines, `pipeline.py` over 350.

A violation that is known and being fixed is listed in `KNOWN_VIOLATIONS`; each
entry is a strict xfail, so the fix that removes it makes its test fail until
the entry is deleted too. Any other violation fails `test_no_new_violations`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "harness"
MAX_LINES = 500
MAX_LINES_OF = {"harness/pipeline.py": 350}
# Layer -> harness packages it must not import.
FORBIDDEN = {
    "harness.load": ("harness.capacity",),
    "harness.results": ("harness.capacity", "harness.report"),
}
# The emulator may import only these harness modules besides its own.
EMULATOR_MAY_IMPORT = ("harness.errors",)

# Known violations being fixed elsewhere; delete an entry together with its fix.
KNOWN_VIOLATIONS: list[str] = []


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (packages by their `__init__.py`)."""
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, level: int, importer: str, is_package: bool) -> str:
    if level == 0:
        return module
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _imported(node: ast.AST, importer: str, is_package: bool) -> Iterator[str]:
    """The modules one import statement names: `from a import b` is `a.b` when that is a module."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        source = _resolve(node.module or "", node.level, importer, is_package)
        for alias in node.names:
            candidate = f"{source}.{alias.name}"
            yield candidate if candidate in modules() else source


@cache
def imports() -> dict[str, frozenset[str]]:
    """Module -> the harness modules it imports anywhere in its body (TYPE_CHECKING blocks included)."""
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        found = {
            target
            for node in ast.walk(tree)
            for target in _imported(node, name, is_package)
            if target == "harness" or target.startswith("harness.")
        }
        graph[name] = frozenset(found - {name})
    return graph


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations() -> set[str]:
    found = set()
    for importer, targets in imports().items():
        for layer, forbidden in FORBIDDEN.items():
            if _within(importer, layer):
                found |= {
                    f"layer: {importer} imports {package}"
                    for package in forbidden
                    for target in targets
                    if _within(target, package)
                }
        if _within(importer, "harness.emulator"):
            allowed = ("harness.emulator", *EMULATOR_MAY_IMPORT)
            found |= {
                f"layer: {importer} imports {target}"
                for target in targets
                if not any(_within(target, ok) for ok in allowed)
            }
    return found


def _cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph), None)
            if child is None:
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
                        components.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def cycle_violations() -> set[str]:
    return {f"cycle: {' <-> '.join(component)}" for component in _cycles(dict(imports()))}


def size_violations() -> set[str]:
    found = set()
    for path in modules().values():
        relative = path.relative_to(PACKAGE.parent).as_posix()
        limit = MAX_LINES_OF.get(relative, MAX_LINES)
        if len(path.read_text().splitlines()) > limit:
            found.add(f"size: {relative} is over {limit} lines")
    return found


def violations() -> set[str]:
    return layer_violations() | cycle_violations() | size_violations()


def test_the_walk_sees_the_package_and_its_imports() -> None:
    assert {"harness.pipeline", "harness.emulator.router", "harness.emulator"} <= set(modules())
    assert "harness.errors" in imports()["harness.emulator.server"]
    assert "harness.emulator.process" in imports()["harness.emulator"]  # a TYPE_CHECKING import counts


def test_cycles_are_found_whatever_the_order() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_no_new_violations() -> None:
    new = sorted(violations() - set(KNOWN_VIOLATIONS))
    assert new == [], "the architecture map's rules are broken:\n" + "\n".join(new)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(entry, marks=pytest.mark.xfail(strict=True, reason="known, being fixed"))
        for entry in KNOWN_VIOLATIONS
    ],
)
def test_known_violation_is_gone(entry: str) -> None:
    """Fails while the violation exists; once fixed, strict xfail fails until the entry is deleted."""
    assert entry not in violations()
