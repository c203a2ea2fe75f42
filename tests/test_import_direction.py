"""The packages import downwards only: the CLI on top, the physics core at the bottom, no cycles.

    betenet.cli                         the verbs: options, printing, the pipeline's orchestration
    betenet.screening                   candidates → predictions → reports
    betenet.model                       graphs, network, training, ensembles (reads datasets)
    betenet.workflows | betenet.dataset DFT Flows | store documents → dataset directories
    betenet.phonons                     force constants (a potential's or q2r.x's) → phonon DOS, lowest mode
    betenet.store                       documents and stores
    betenet.parsers | betenet.qe        QE output → typed results | QE inputs, programs, runner
    betenet (physics, settings)         the core every layer uses

A module may import its own package or a package of a lower layer, never one beside or above it.
Imports inside functions count too: a lazy import is still a dependency (only `if TYPE_CHECKING:` imports,
which never run, are left out).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAYERS: tuple[tuple[str, ...], ...] = (
    ("betenet",),
    ("betenet.parsers", "betenet.qe"),
    ("betenet.store",),
    ("betenet.phonons",),
    ("betenet.workflows", "betenet.dataset"),
    ("betenet.model",),
    ("betenet.screening",),
    ("betenet.cli",),
)
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}


def package_sources() -> dict[str, str]:
    """module name → source of every module of the installed packages (the pyproject's package-dir map)."""
    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = setup["package-dir"]
    sources = {}
    for package in setup["packages"]:
        folder = REPO / folders.get(package, folders["betenet"] + package.removeprefix("betenet").replace(".", "/"))
        for path in sorted(folder.glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            sources[name] = path.read_text()
    return sources


def package_of(module: str) -> str:
    """The layered package a module belongs to (the longest matching prefix)."""
    return max((p for p in RANK if module == p or module.startswith(p + ".")), key=len)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` (annotations only, never imported at run time)."""
    skipped = set()
    for node in ast.walk(tree):
        test = node.test if isinstance(node, ast.If) else None
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING" or \
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def imports_of(module: str, source: str, known: set[str]) -> set[str]:
    """betenet modules `module` imports (`from pkg import submodule` counts as the submodule); imports
    under `if TYPE_CHECKING:` do not count."""
    found = set()
    tree = ast.parse(source)
    annotation_only = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in annotation_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parts = module.split(".")[: -node.level]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.update(n for n in names if n == "betenet" or n.startswith("betenet."))
    return found


def violations(sources: dict[str, str]) -> list[str]:
    """Every upward or sideways import, and every import cycle between modules."""
    known = set(sources)
    graph = {m: imports_of(m, src, known) - {m} for m, src in sources.items()}
    problems = []
    for module, targets in sorted(graph.items()):
        source_package = package_of(module)
        for target in sorted(targets):
            target_package = package_of(target)
            if target_package != source_package and RANK[target_package] >= RANK[source_package]:
                problems.append(f"{module} imports {target}: {target_package} is not below {source_package}")
    problems += [f"import cycle: {' → '.join(cycle)}" for cycle in _cycles(graph)]
    return problems


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One representative cycle per strongly connected group (depth-first search with a path stack)."""
    cycles, state, path = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_every_package_imports_downwards_only():
    sources = package_sources()
    assert len(sources) > 60, "the package map found too few modules: is pyproject's package-dir read right?"
    assert {package_of(m) for m in sources} == set(RANK)
    assert violations(sources) == []


def test_an_injected_upward_import_is_caught():
    sources = package_sources()
    sources["betenet.store.injected"] = "def later():\n    from betenet.cli.options import store_settings\n"
    sources["betenet.dataset.sideways"] = "import betenet.workflows.flows\n"
    assert violations(sources) == [
        "betenet.dataset.sideways imports betenet.workflows.flows: betenet.workflows is not below betenet.dataset",
        "betenet.store.injected imports betenet.cli.options: betenet.cli is not below betenet.store",
    ]


def test_an_injected_cycle_is_caught():
    sources = package_sources()
    sources["betenet.model.loss"] += "\nfrom betenet.model import ensemble\n"
    cycles = [p for p in violations(sources) if p.startswith("import cycle")]
    assert cycles and all("betenet.model.loss" in c and "betenet.model.ensemble" in c for c in cycles)
