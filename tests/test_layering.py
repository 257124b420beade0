"""DESIGN §2: core imports no web framework or pydantic; schemas and clients import no numpy.

Every module of each package is imported (``pkgutil.walk_packages``), not only what its
``__init__`` happens to re-export, and the test checks that each module file on disk was
indeed loaded, so a new module cannot escape the check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def loaded_after_importing_all_of(*packages: str) -> set[str]:
    """Every module in ``sys.modules`` after importing every module of ``packages`` in a
    fresh interpreter."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"for name in {list(packages)!r}:\n"
        "    package = importlib.import_module(name)\n"
        "    for info in pkgutil.walk_packages(package.__path__, name + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout))


def modules_on_disk(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package.replace(".", "/")).rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def tops(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_schemas_and_clients_load_without_numpy_scipy_or_fastapi() -> None:
    loaded = loaded_after_importing_all_of("service.schemas", "clients")
    assert modules_on_disk("service.schemas") | modules_on_disk("clients") <= loaded
    assert "pydantic" in tops(loaded)
    assert not tops(loaded) & {"numpy", "scipy", "numba", "fastapi", "starlette", "uvicorn"}


def test_core_loads_without_fastapi_or_pydantic() -> None:
    loaded = loaded_after_importing_all_of("service.core")
    assert modules_on_disk("service.core") <= loaded
    assert "numpy" in tops(loaded)
    assert not tops(loaded) & {"fastapi", "starlette", "pydantic", "uvicorn"}
