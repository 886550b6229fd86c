"""The package's shape: areas import downward only, no import cycles, small modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

import gateway

PACKAGE = Path(gateway.__file__).parent
MAX_LINES = 400


def test_areas_import_downward_only() -> None:
    # the layers contract lives in pyproject.toml ([tool.importlinter])
    run = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_no_import_cycles() -> None:
    # type-checking-only imports are not cycles at run time
    graph = grimp.build_graph("gateway", exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain is not None:
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == []


def test_no_module_over_the_line_limit() -> None:
    sizes = {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert sizes, "no modules found"
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}
