"""DESIGN §2: core imports no web framework or pydantic; schemas import no numpy."""

from __future__ import annotations

import json
import subprocess
import sys


def loaded_after(imports: str) -> set[str]:
    code = f"import json, sys\n{imports}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_schemas_load_without_numpy_scipy_or_fastapi() -> None:
    loaded = loaded_after("import service.schemas")
    assert "pydantic" in loaded
    assert not loaded & {"numpy", "scipy", "fastapi", "starlette"}


def test_core_loads_without_fastapi_or_pydantic() -> None:
    loaded = loaded_after(
        "import pkgutil, importlib, service.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('service.core.' + m.name)"
    )
    assert "numpy" in loaded
    assert not loaded & {"fastapi", "starlette", "pydantic", "uvicorn"}
