"""The structure check (scripts/structure.py) finds what it is meant to find."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _structure() -> ModuleType:
    spec = importlib.util.spec_from_file_location("structure", ROOT / "scripts" / "structure.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["structure"] = module
    spec.loader.exec_module(module)
    return module


def test_wrong_way_and_mutual_imports_are_found() -> None:
    structure = _structure()
    Import = structure.Import
    imports = [
        Import("storage.metadata", "pipeline.extract", 3),  # sibling: wrong
        Import("pipeline.page", "flows.steps", 4),  # up: wrong
        Import("config.signers", "models.errors", 5),  # down: fine
        Import("flows.steps", "pipeline.page", 6),  # down: fine
        Import("app.pages", "app.service", 7),
        Import("app.service", "app.pages", 8),
    ]
    wrong = structure.wrong_way(imports)
    assert [(i.source, i.target) for i in wrong] == [
        ("storage.metadata", "pipeline.extract"),
        ("pipeline.page", "flows.steps"),
    ]
    assert structure.mutual(imports) == [
        ("app.pages", "app.service"),
        ("flows.steps", "pipeline.page"),
    ]


def test_type_checking_imports_are_not_dependencies(tmp_path: Path) -> None:
    structure = _structure()
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from pipeline import page\n"
        "if TYPE_CHECKING:\n"
        "    from flows import steps\n"
        "def f():\n"
        "    import app.cli\n"
    )
    structure.ROOT = tmp_path
    found = sorted(i.target for i in structure._imports(source))
    assert found == ["app.cli", "pipeline"]


def test_the_repository_is_no_worse_than_its_baseline() -> None:
    assert _structure().main(["--check"]) == 0
