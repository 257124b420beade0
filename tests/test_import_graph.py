"""The import graph of ``service/``, read from the source: no circles, and every layer's rule.

DESIGN §2 and the docstrings of ``service/core/__init__.py`` and its subpackages:

* no two modules import each other, directly or through others;
* ``core.model`` imports nothing from ``core.engine`` or ``core.analysis``;
* ``core.engine`` imports nothing from ``core.analysis`` (it never judges);
* ``core.analysis`` never runs a kernel: of the engine it may import only the result types
  (``core.engine.run``, ``core.engine.recorder``);
* ``core`` imports no web framework, no pydantic, and nothing of the service around it
  (``api``, ``schemas``, ``figures``, ``app``, ``cli``, ``settings``);
* ``schemas`` imports no numpy, scipy, numba or web framework, and nothing of ``core`` or
  ``api``;
* no router (a module of ``service.api`` that defines ``router``) imports another router.

The graph is built with :mod:`ast` (nothing is imported), every ``import`` statement counted,
those inside functions included. Edges between a package and its own submodules are left
out (an ``__init__`` re-exporting its submodules is not a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

Graph = dict[str, set[str]]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_names(path: Path, module: str) -> Iterator[str]:
    """Every dotted name ``path`` imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def build_graph(root: Path, top: str) -> tuple[Graph, dict[str, set[str]]]:
    """(edges between modules of ``top``, every name each module imports)."""
    paths = {module_name(p, root): p for p in (root / top).rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: Graph = {m: set() for m in paths}
    names: dict[str, set[str]] = {}
    for module, path in paths.items():
        names[module] = set(imported_names(path, module))
        for name in names[module]:
            target = resolve(name) if name.split(".")[0] == top else None
            related = target is not None and (
                target.startswith(module + ".") or module.startswith(target + ".")
            )
            if target is not None and target != module and not related:
                graph[module].add(target)
    return graph, names


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


WEB = ("fastapi", "starlette", "pydantic", "uvicorn", "httpx")
SERVICE_EDGE = tuple(
    f"service.{p}"
    for p in ("api", "schemas", "figures", "app", "cli", "settings", "__main__", "specs", "studies")
)
RESULT_TYPES = ("service.core.engine.run", "service.core.engine.recorder")


def violations(root: Path) -> list[str]:
    """Every import that breaks a rule of the module docstring, as 'module -> name: rule'."""
    graph, names = build_graph(root, "service")
    found = [f"circle: {' <-> '.join(c)}" for c in circles(graph)]
    routers = {m for m in graph if within(m, "service.api") and _defines_router(root, m)}
    for module, imported in names.items():
        for name in sorted(imported):
            rule = None
            if within(module, "service.core.model") and within(
                name, "service.core.engine", "service.core.analysis"
            ):
                rule = "model imports nothing from engine or analysis"
            elif within(module, "service.core.engine") and within(name, "service.core.analysis"):
                rule = "the engine never judges (no analysis)"
            elif (
                within(module, "service.core.analysis")
                and within(name, "service.core.engine")
                and not within(name, *RESULT_TYPES)
                and name != "service.core.engine"
            ):
                rule = "analysis reads results, never runs a kernel"
            elif within(module, "service.core") and within(name, *WEB, *SERVICE_EDGE):
                rule = "core imports no web framework, pydantic or service edge"
            elif within(module, "service.schemas") and within(
                name,
                "numpy",
                "scipy",
                "numba",
                "fastapi",
                "starlette",
                "service.core",
                "service.api",
            ):
                rule = "schemas import pydantic and the vocabulary only"
            elif module in routers and any(within(name, r) for r in routers if r != module):
                rule = "no router imports another router"
            if rule and not any(f.startswith(f"{module} -> ") and f.endswith(rule) for f in found):
                found.append(f"{module} -> {name}: {rule}")  # the first name, once per rule
    return found


def _defines_router(root: Path, module: str) -> bool:
    path = root / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        return False
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "router" for t in node.targets)
        for node in tree.body
    )


def test_service_has_no_circles_and_keeps_every_layer_rule() -> None:
    assert violations(ROOT) == []


def test_the_graph_covers_the_house() -> None:
    graph, _ = build_graph(ROOT, "service")
    # the composer reaches all three layers, and the routers reach the composers
    assert {"service.core.engine.descent", "service.core.analysis.divergence"} <= graph[
        "service.core.training"
    ]
    assert "service.core.training" in graph["service.api.train"]
    assert len(graph) > 50


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


BASE = {
    "service/__init__.py": "",
    "service/core/__init__.py": "",
    "service/core/model/__init__.py": "",
    "service/core/model/problem.py": "import numpy\n",
    "service/core/engine/__init__.py": "",
    "service/core/engine/run.py": "from service.core.model.problem import x\n",
    "service/core/engine/kernel.py": "",
    "service/core/analysis/__init__.py": "",
    "service/core/analysis/divergence.py": "from service.core.engine.run import RunResult\n",
    "service/schemas/__init__.py": "import pydantic\n",
    "service/api/__init__.py": "",
    "service/api/mapping.py": "from service.core.engine import run\n",
    "service/api/train.py": "from service.api.mapping import f\nrouter = 1\n",
    "service/api/minima.py": "router = 2\n",
}


def test_the_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    write(tmp_path, BASE)
    assert violations(tmp_path) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"service/core/model/problem.py": "from service.core.engine.run import y\n"},
            "circle: service.core.engine.run <-> service.core.model.problem",
        ),
        (
            {"service/core/model/problem.py": "def f():\n    import service.core.analysis\n"},
            "service.core.model.problem -> service.core.analysis: model imports nothing",
        ),
        (
            {"service/core/engine/kernel.py": "from ..analysis.divergence import judge\n"},
            "service.core.engine.kernel -> service.core.analysis.divergence: the engine never",
        ),
        (
            {"service/core/analysis/divergence.py": "from service.core.engine import kernel\n"},
            "service.core.analysis.divergence -> service.core.engine.kernel: analysis reads",
        ),
        (
            {"service/core/engine/kernel.py": "import pydantic\n"},
            "service.core.engine.kernel -> pydantic: core imports no web framework",
        ),
        (
            {"service/core/engine/kernel.py": "from service.settings import Settings\n"},
            "service.core.engine.kernel -> service.settings: core imports no web framework",
        ),
        (
            {"service/schemas/__init__.py": "import numpy as np\n"},
            "service.schemas -> numpy: schemas import pydantic",
        ),
        (
            {"service/api/train.py": "from service.api.minima import g\nrouter = 1\n"},
            "service.api.train -> service.api.minima: no router imports another router",
        ),
    ],
)
def test_the_checker_finds_each_kind_of_violation(
    tmp_path: Path, change: dict[str, str], expected: str
) -> None:
    write(tmp_path, {**BASE, **change})
    found = violations(tmp_path)
    assert any(f.startswith(expected) for f in found), found
