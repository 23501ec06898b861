"""The package's shape is the architecture: layers point one way, no import cycle (imports inside
functions included), no module over 400 lines, and docs/ARCHITECTURE.md names every subpackage."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vectrain"

# adapters -> domain -> storage -> core: a module may import its own layer or a lower one.
LAYERS = {
    "core": 0,
    "storage": 1,
    "embed": 2,
    "loaders": 2,
    "search": 2,
    "labeling": 2,
    "classify": 2,
    "quality": 2,
    "jobs": 2,
    "analyst": 2,
    "api": 3,
    "cli": 3,
    "web": 3,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """vectrain modules this file imports: at the top, inside functions and under TYPE_CHECKING
    (a type-only import still ties two modules)."""
    tree = ast.parse(path.read_text())
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("vectrain"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else [])
                    )
                if base.startswith("vectrain"):
                    for alias in child.names:
                        candidate = f"{base}.{alias.name}"
                        found.add(
                            candidate
                            if (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists()
                            or (ROOT / Path(*candidate.split("."))).is_dir()
                            else base
                        )
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_layers_point_one_way():
    wrong = [
        f"{a} -> {b}"
        for a, deps in graph().items()
        for b in deps
        if layer(a) is not None and layer(b) is not None and layer(b) > layer(a)
    ]
    assert not wrong, "imports against the layers (adapters -> domain -> storage -> core):\n" + "\n".join(wrong)


def test_no_import_cycle():
    edges = graph()
    cycles, state = [], {}

    def walk(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node, [])
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_no_subpackage_cycle():
    """The domain's subpackages form a hierarchy too (e.g. labeling may use search, never back)."""
    edges: dict[str, set[str]] = {}
    for a, deps in graph().items():
        for b in deps:
            pa, pb = a.split(".")[:2], b.split(".")[:2]
            if len(pa) > 1 and len(pb) > 1 and pa != pb:
                edges.setdefault(pa[1], set()).add(pb[1])
    loops = [f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set())]
    assert not loops, loops


def test_no_file_over_400_lines():
    files = [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.js")]
    long = [f"{p.relative_to(ROOT)}: {n}" for p in files if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long


def test_architecture_names_every_subpackage():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    subpackages = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    missing = [name for name in subpackages if f"{name}/" not in text]
    assert not missing, f"docs/ARCHITECTURE.md does not name: {missing}"
    assert set(subpackages) == set(LAYERS), "a subpackage without a layer in this test's LAYERS"


def test_the_cli_starts_without_heavy_libraries():
    """`vectrain --help` and commands that only read must not pay for torch, transformers,
    scikit-learn, scipy, matplotlib or the web framework."""
    code = (
        "import sys, vectrain.cli.main as m; "
        "print(','.join(x for x in ('torch', 'transformers', 'sklearn', 'scipy', 'matplotlib', 'fastapi', "
        "'pandas', 'clickhouse_connect', 'chdb', 'pyarrow') if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing the CLI loaded: {out}"
