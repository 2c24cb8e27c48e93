#!/usr/bin/env python3
"""The import graph of the domain crate (shared/src), checked against the layout in lib.rs.

Reads every `crate::` and `super::` path (and paths through a module's own child modules) in
the code of shared/src, comments aside, and maps each file to the module of lib.rs's `# Layout`
table it belongs to: a submodule the table does not name belongs to its parent's row. Prints
the graph, one line per module with what it imports, and fails when a module imports from a
layer below its own, when the imports form a cycle, or when a module is in no row.

Then the same at the granularity of top-level modules (each file or folder of src/, one node
with all its submodules): fails when a top-level module has parts in two layers, or when, as
whole nodes, they import from a lower layer or form a cycle.

    python3 scripts/module-graph.py            # the graph and the verdict
    python3 scripts/module-graph.py DIR        # the same for another copy of the crate's src
"""
import re
import sys
from pathlib import Path

SRC = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "shared" / "src")


def module_of(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return "::".join(parts)


def layout():
    """Module -> (layer number, layer name), from the table under `# Layout` in lib.rs."""
    layers = {}
    for line in (SRC / "lib.rs").read_text().splitlines():
        row = re.match(r"//!\s*\|\s*(\d+)\s+([^|]+?)\s*\|([^|]*)\|", line)
        if row:
            for name in re.findall(r"`([a-z_:]+)`", row.group(3)):
                layers[name] = (int(row.group(1)), row.group(2))
    return layers


def unit_of(module: str, layers) -> str | None:
    parts = module.split("::")
    for end in range(len(parts), 0, -1):
        candidate = "::".join(parts[:end])
        if candidate in layers:
            return candidate
    return None


def code_lines(text: str):
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("//"):
            yield line.split("//")[0] if "://" not in line else line


def references(path: Path, module: str, root_reexports):
    """Module paths `path` refers to, resolved to absolute paths."""
    # Unit tests (an inline `mod tests` at the end of a file) are the module's own, not imports.
    text = re.split(r"#\[cfg\(test\)\]\s*mod\s", path.read_text())[0]
    text = "\n".join(code_lines(text))
    children = set(re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+([a-z_]+)\s*;", text, re.M))
    parent = module.rsplit("::", 1)[0] if "::" in module else ""
    # `x/mod.rs` and `x.rs` are module x: its `super` is x's parent.
    found = set()

    def add(base: str, rest: str):
        segments = [s for s in rest.split("::") if s and s[0].islower()]
        found.add("::".join([base] + segments if base else segments))

    # Grouped imports at the crate root: `use crate::{a, b::c, Item}`.
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        for item in group.split(","):
            item = item.strip()
            if not item:
                continue
            if item[0].isupper():
                found.add(root_reexports.get(item, ""))
            else:
                add("", item.replace(" ", ""))
    for rest in re.findall(r"\bcrate::((?:[a-z_]+::)*[a-z_]+)", text):
        add("", rest)
    for rest in re.findall(r"\bsuper::((?:[a-z_]+::)*[a-z_]*)", text):
        add(parent, rest)
    for child in children:
        if re.search(rf"(?<![:\w]){child}::", text):
            found.add(f"{module}::{child}" if module else child)
    found.discard("")
    return found


def check(edges: dict[str, set[str]], layers, what: str) -> list[str]:
    """Prints the graph `edges` over units of `layers`; its upward imports and cycles."""
    problems = []
    for unit in sorted(edges, key=lambda u: (layers[u][0], u)):
        layer, name = layers[unit]
        targets = ", ".join(sorted(edges[unit], key=lambda u: (layers[u][0], u))) or "-"
        print(f"  [{layer} {name}] {unit} -> {targets}")
        for target in edges[unit]:
            if layers[target][0] > layer:
                problems.append(
                    f"{what} {unit} (layer {layer}) imports {target} "
                    f"(layer {layers[target][0]}): upward"
                )

    # Cycles: depth-first search for a back edge.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(unit: str):
        state[unit] = 1
        stack.append(unit)
        for target in sorted(edges[unit]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                problems.append(f"cycle of {what}s: " + " -> ".join(cycle))
            elif target not in state:
                visit(target)
        stack.pop()
        state[unit] = 2

    for unit in sorted(edges):
        if unit not in state:
            visit(unit)
    return problems


def top_level(layers):
    """Top-level module -> its one (layer number, layer name), and the problems: a top-level
    module whose rows stand in more than one layer."""
    found: dict[str, dict[tuple[int, str], list[str]]] = {}
    for unit, layer in layers.items():
        found.setdefault(unit.split("::")[0], {}).setdefault(layer, []).append(unit)
    tops, problems = {}, []
    for top, by_layer in sorted(found.items()):
        if len(by_layer) > 1:
            parts = "; ".join(
                f"layer {layer}: {', '.join(sorted(units))}"
                for (layer, _), units in sorted(by_layer.items())
            )
            problems.append(f"top-level module {top} sits in more than one layer ({parts})")
        tops[top] = min(by_layer)
    return tops, problems


def main() -> int:
    layers = layout()
    if not layers:
        print("module-graph: no `# Layout` table in shared/src/lib.rs")
        return 1
    root = (SRC / "lib.rs").read_text()
    root_reexports = {
        item: module for module, item in re.findall(r"^pub use ([a-z_]+)::(\w+);", root, re.M)
    }
    problems = []
    edges: dict[str, set[str]] = {unit: set() for unit in layers}
    tops, top_problems = top_level(layers)
    top_edges: dict[str, set[str]] = {top: set() for top in tops}
    for path in sorted(SRC.rglob("*.rs")):
        module = module_of(path)
        if module == "":
            continue
        unit = unit_of(module, layers)
        if unit is None:
            problems.append(f"{module} ({path.relative_to(SRC)}) is in no row of the layout")
            continue
        for target in references(path, module, root_reexports):
            target_unit = unit_of(target, layers)
            if target_unit is None:
                problems.append(f"{module} imports {target}, which is in no row of the layout")
                continue
            if target_unit != unit:
                edges[unit].add(target_unit)
            top, target_top = unit.split("::")[0], target_unit.split("::")[0]
            if target_top != top:
                top_edges[top].add(target_top)

    problems += check(edges, layers, "module")
    if tops.keys() != layers.keys():
        print("  top-level modules, each one node:")
        problems += check(top_edges, tops, "top-level module")
    problems += top_problems

    if problems:
        print("module-graph: the imports break the layout in shared/src/lib.rs:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"module-graph: {len(edges)} modules, "
          f"{sum(len(t) for t in edges.values())} imports between them; "
          f"{len(top_edges)} top-level modules, "
          f"{sum(len(t) for t in top_edges.values())} imports between them; "
          "each top-level module in one layer, no cycle, none upward")
    return 0


if __name__ == "__main__":
    sys.exit(main())
