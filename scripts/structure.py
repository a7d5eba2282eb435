"""Print how the code's structure stands against its rules, and fail if it got worse.

The rules (issue 17): packages form layers, and an import may only point down or sideways
within its own package. ``models`` is the bottom (dossier types, errors with their exit
codes, fault points, text folding, the dossier-code grammar), ``config`` sits on it;
``pipeline`` and ``storage`` are siblings above them that never import each other;
``flows`` wires them; ``app`` (CLI, service, pages) is the top. Also: no two modules
importing each other, no source file over ``MAX_LINES`` lines. Issue 30 added two more:
no function over ``MAX_FUNCTION_LINES`` lines outside migrations, and no private name
(``_name``) reached from another module, whether imported (``from m import _x``) or through
the module (``m._x`` after ``import m`` / ``from pkg import m``).

Counts are printed every run. ``--check`` compares them with the ceilings in
``scripts/structure-baseline.json`` and exits 1 when any count rose, so the structure can
only improve; lower a ceiling when a count drops (``--update`` writes the current counts).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scripts" / "structure-baseline.json"
MAX_LINES = 600
MAX_FUNCTION_LINES = 80

# Lower rank = lower layer. Equal rank across different packages = siblings that must not
# import each other.
LAYER_RANK = {"models": 0, "config": 1, "pipeline": 2, "storage": 2, "flows": 3, "app": 4}


@dataclass(frozen=True)
class Import:
    source: str  # dotted module that imports
    target: str  # dotted module imported (first-party only)
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _source_files() -> Iterator[Path]:
    for package in LAYER_RANK:
        yield from sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[Import]:
    """Every first-party import in ``path``, at any depth (a function-level import is still
    a dependency), except under ``if TYPE_CHECKING:`` (names for the type checker only)."""
    source = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _runtime_nodes(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from app import pages`` depends on the module app.pages, not on app.
            names = [
                f"{node.module}.{alias.name}"
                if _is_module(f"{node.module}.{alias.name}")
                else node.module
                for alias in node.names
            ]
        for name in dict.fromkeys(names):
            if name.split(".")[0] in LAYER_RANK:
                yield Import(source, name, node.lineno)


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from (n for branch in child.orelse for n in _runtime_nodes_and_self(branch))
            continue
        yield child
        yield from _runtime_nodes(child)


def _runtime_nodes_and_self(node: ast.AST) -> Iterator[ast.AST]:
    yield node
    yield from _runtime_nodes(node)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _package(module: str) -> str:
    return module.split(".")[0]


def wrong_way(imports: list[Import]) -> list[Import]:
    """Imports that point up a layer or across to a sibling package."""
    found = []
    for imp in imports:
        here, there = _package(imp.source), _package(imp.target)
        if here == there:
            continue
        if LAYER_RANK[there] >= LAYER_RANK[here]:
            found.append(imp)
    return found


def mutual(imports: list[Import]) -> list[tuple[str, str]]:
    """Pairs of modules that import each other (directly)."""
    edges = {(imp.source, imp.target) for imp in imports}
    pairs: set[tuple[str, str]] = set()
    for source, target in edges:
        if source < target and (target, source) in edges:
            pairs.add((source, target))
    return sorted(pairs)


def long_files() -> list[tuple[str, int]]:
    found = []
    for path in _source_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            found.append((str(path.relative_to(ROOT)), lines))
    return found


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def long_functions() -> list[tuple[str, int, str, int]]:
    """(file, line, function, length) for every function longer than MAX_FUNCTION_LINES,
    nested ones included; migrations are a record of history, not code to change."""
    found = []
    for path in _source_files():
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    rel = str(path.relative_to(ROOT))
                    found.append((rel, node.lineno, node.name, length))
    return found


def private_crossings() -> list[tuple[str, int, str]]:
    """(file, line, what) for each private name of one first-party module used by another."""
    found = []
    for path in _source_files():
        source = _module_name(path)
        rel = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module_aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if _package(node.module) not in LAYER_RANK:
                    continue
                for alias in node.names:
                    dotted = f"{node.module}.{alias.name}"
                    if _is_module(dotted):
                        module_aliases.add(alias.asname or alias.name)
                    elif _is_private(alias.name) and node.module != source:
                        found.append((rel, node.lineno, f"{node.module}.{alias.name}"))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if _package(alias.name) in LAYER_RANK and alias.asname:
                        module_aliases.add(alias.asname)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and _is_private(node.attr)
                and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases
            ):
                found.append((rel, node.lineno, f"{node.value.id}.{node.attr}"))
    return found


def counts() -> tuple[dict[str, int], list[str]]:
    imports = [imp for path in _source_files() for imp in _imports(path)]
    wrong = wrong_way(imports)
    pairs = mutual(imports)
    longs = long_files()
    functions = long_functions()
    private = private_crossings()
    details = [f"wrong-way import: {i.source}:{i.line} imports {i.target}" for i in wrong]
    details += [f"mutual import: {a} <-> {b}" for a, b in pairs]
    details += [f"long file: {name} has {n} lines (> {MAX_LINES})" for name, n in longs]
    details += [
        f"long function: {name}:{line} {fn} has {n} lines (> {MAX_FUNCTION_LINES})"
        for name, line, fn, n in functions
    ]
    details += [f"private name crossing: {name}:{line} uses {what}" for name, line, what in private]
    return {
        "wrong_way_imports": len(wrong),
        "mutual_imports": len(pairs),
        "files_over_limit": len(longs),
        "functions_over_limit": len(functions),
        "private_names_crossing": len(private),
    }, details


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if a count rose")
    parser.add_argument("--update", action="store_true", help="write the current counts")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every finding")
    args = parser.parse_args(argv)
    now, details = counts()
    if args.verbose:
        for line in details:
            print(line)
    print("structure: " + ", ".join(f"{k} {v}" for k, v in now.items()))
    if args.update:
        BASELINE.write_text(json.dumps(now, indent=2) + "\n", encoding="utf-8")
        return 0
    if args.check:
        ceiling = json.loads(BASELINE.read_text(encoding="utf-8"))
        worse = [f"{k} {now[k]} > {ceiling.get(k, 0)}" for k in now if now[k] > ceiling.get(k, 0)]
        if worse:
            print("structure got worse: " + "; ".join(worse), file=sys.stderr)
            print("run `python scripts/structure.py -v` for the list", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
