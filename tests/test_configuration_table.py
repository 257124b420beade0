"""The README's configuration table lists every setting, with its default, and nothing else."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from pathlib import Path

from service.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
ROWS = {
    m.group(1): m.group(2)
    for m in re.finditer(r"^\| `(LEARNDYN_[A-Z_]+)` \| ([^|]+) \|", SECTION, re.M)
}


def test_every_setting_has_a_row_and_every_row_a_setting() -> None:
    variables = {f"LEARNDYN_{f.name.upper()}" for f in fields(Settings)}
    assert set(ROWS) == variables


def test_each_default_is_the_settings_default() -> None:
    defaults = Settings()
    for f in fields(Settings):
        shown = ROWS[f"LEARNDYN_{f.name.upper()}"].strip()
        if f.default is MISSING:  # computed at start-up (the cores)
            assert shown == "the cores", f.name
            continue
        value = getattr(defaults, f.name)
        if value is None or value == "" or value == ():
            assert shown in ("unset", "empty"), f.name
        elif isinstance(value, float):
            assert float(shown.strip("`")) == value, f.name
        else:
            assert shown == f"`{value}`", f.name


def test_the_settings_module_documents_the_same_variables() -> None:
    doc = Settings.__module__
    import importlib

    text = importlib.import_module(doc).__doc__ or ""
    documented = set(re.findall(r"^(LEARNDYN_[A-Z_]+)\s", text, re.M))
    assert documented == set(ROWS)
