"""The shape of the code (issue 23's counts): functions over 100 lines, function-local imports, import cycles.

    python benchmarks/code_shape.py [--top 10]

Counts the packages `mmsa_keras`, `data_pipelines` and `experiments`. A function's length is its
lines from `def` to its last line (docstring included); an import is local when any enclosing node
is a function (each import counted once); a cycle is a strongly connected group of modules whose
imports reach each other, counted over module-level imports and over all imports.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import os
import sys

ROOTS = ("mmsa_keras", "data_pipelines", "experiments")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _modules():
    for root in ROOTS:
        for folder, _, files in os.walk(os.path.join(REPO, root)):
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, REPO)
                    yield rel, rel[:-3].replace(os.sep, ".").removesuffix(".__init__"), ast.parse(open(path).read())


def _walk(node, in_function=False):
    for child in ast.iter_child_nodes(node):
        inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
        yield child, in_function
        yield from _walk(child, inside)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


@dataclasses.dataclass
class Shape:
    """What `measure()` counts."""

    #: (lines, "path:function") of every function, longest first
    lengths: list
    #: the number of import statements inside a function
    local_imports: int
    #: module -> the project modules it imports at module level / anywhere (function-local included)
    module_imports: dict
    all_imports: dict

    @property
    def module_cycles(self) -> list[list[str]]:
        return _cycles(self.module_imports)

    @property
    def all_cycles(self) -> list[list[str]]:
        return _cycles(self.all_imports)


def measure() -> Shape:
    """Function lengths, function-local imports and the import graphs of the packages."""
    lengths, local, graph, every = [], 0, {}, {}
    for rel, module, tree in _modules():
        graph.setdefault(module, set())
        every.setdefault(module, set())
        for node, in_function in _walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lengths.append((node.end_lineno - node.lineno + 1, f"{rel}:{node.name}"))
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                local += in_function
                targets = {name for name in names if name.split(".")[0] in ROOTS}
                every[module] |= targets
                if not in_function:
                    graph[module] |= targets
    lengths.sort(reverse=True)
    return Shape(lengths, local, graph, every)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    shape = measure()
    print(f"functions over 100 lines: {sum(n > 100 for n, _ in shape.lengths)}")
    for n, name in shape.lengths[: args.top]:
        print(f"  {n:4d}  {name}")
    print(f"function-local imports: {shape.local_imports}")
    for what, cycles in (
        ("module-level imports", shape.module_cycles),
        ("all imports, function-local included", shape.all_cycles),
    ):
        print(f"import cycles ({what}): {len(cycles)}")
        for group in cycles:
            print("  " + " <-> ".join(group if len(group) <= 6 else [*group[:6], f"... {len(group)} modules"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
