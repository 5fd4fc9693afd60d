"""`domain/` imports only the standard library and pydantic (STYLE.md rule 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
ALLOWED = sys.stdlib_module_names | {"pydantic", "pydantic_core", "annotated_types", "domain"}


def imported(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, at any depth (relative: `domain`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("domain" if node.level else (node.module or "").partition(".")[0])
    return names


def test_domain_imports_only_the_standard_library_and_pydantic() -> None:
    modules = sorted(DOMAIN.glob("**/*.py"))
    assert len(modules) >= 9
    foreign = {
        f"{path.relative_to(DOMAIN)}: {name}"
        for path in modules
        for name in imported(path) - ALLOWED
    }
    assert not foreign, f"domain/ must not import these: {sorted(foreign)}"


def test_the_scan_sees_what_it_must_refuse(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        "import json, sqlalchemy.orm\n"
        "from temporalio import workflow\n"
        "from . import events\n"
        "def f() -> None:\n"
        "    import structlog\n",
        encoding="utf-8",
    )
    assert imported(module) - ALLOWED == {"sqlalchemy", "temporalio", "structlog"}
