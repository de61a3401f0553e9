"""The dependency rule of ARCHITECTURE.md, checked by reading every module's imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# folder -> the package it installs as
PARTS: dict[str, str] = {
    "drivers": "fabhub.drivers",
    "jobs": "fabhub.jobs",
    "node": "fabhub.node",
    "web": "fabhub.web",
    "fabhub": "fabhub",
    "firmware_profiles": "fabhub.firmware_profiles",
}
PROJECT_PARTS = ("fabhub.drivers", "fabhub.jobs", "fabhub.node", "fabhub.web",
                 "fabhub.firmware_profiles")
# part -> the other parts it may import. "fabhub" means hub core.
ALLOWED: dict[str, set[str]] = {
    "fabhub.drivers": set(),
    "fabhub.jobs": {"fabhub.drivers"},
    "fabhub.node": {"fabhub.jobs", "fabhub.drivers"},
    "fabhub": {"fabhub.jobs", "fabhub.drivers"},
    "fabhub.web": {"fabhub", "fabhub.jobs", "fabhub.drivers"},
    "fabhub.firmware_profiles": set(),
}
COMPOSITION_ROOTS = ("fabhub.app", "fabhub.cli")


def part_of(module: str) -> str:
    """Which part a fully qualified project module belongs to."""
    for part in PROJECT_PARTS:
        if module == part or module.startswith(part + "."):
            return part
    return "fabhub"


def module_name(path: Path, root: Path) -> str:
    """The installed name of a source file, e.g. drivers/grbl.py -> fabhub.drivers.grbl."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PARTS[parts[0]], *parts[1:]])


def imported_modules(path: Path, module: str) -> list[str]:
    """Every project module that ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            found.extend(f"{target}.{alias.name}" for alias in node.names)
    return [name for name in found if name == "fabhub" or name.startswith("fabhub.")]


def allowed(own: str, target: str) -> bool:
    """May a module of part ``own`` import ``target``?"""
    if target in ("fabhub", "fabhub.__version__"):
        # The package's own __init__ is import-light; only drivers must not need it.
        return own != "fabhub.drivers"
    target_part = part_of(target)
    return target_part == own or target_part in ALLOWED[own]


def breaches(root: Path = ROOT) -> list[str]:
    """Human-readable descriptions of every import that breaks the rule."""
    problems: list[str] = []
    for folder in PARTS:
        for path in sorted((root / folder).rglob("*.py")):
            module = module_name(path, root)
            if module.startswith(COMPOSITION_ROOTS):
                continue
            own = part_of(module)
            problems.extend(
                f"{path.relative_to(root)}: {own} imports {target}"
                for target in imported_modules(path, module)
                if not allowed(own, target)
            )
    return problems


def test_no_module_breaks_the_dependency_rule() -> None:
    assert breaches() == []


@pytest.mark.parametrize(
    ("folder", "source", "expected"),
    [
        ("drivers", "from fabhub.jobs import analysis\n", "fabhub.drivers imports fabhub.jobs"),
        ("jobs", "import fabhub.db\n", "fabhub.jobs imports fabhub.db"),
        ("node", "from fabhub.auth import login_required\n", "fabhub.node imports fabhub.auth"),
        ("fabhub", "from fabhub.web import forms\n", "fabhub imports fabhub.web"),
        ("fabhub", "from ..node import agent\n", "fabhub imports fabhub.node"),
    ],
)
def test_checker_catches_breaches(tmp_path: Path, folder: str, source: str,
                                  expected: str) -> None:
    for name in PARTS:
        (tmp_path / name).mkdir()
    target = tmp_path / folder / "sub" / "bad.py"
    target.parent.mkdir()
    target.write_text(source)
    found = breaches(tmp_path)
    assert any(expected in problem for problem in found), found


def test_node_and_drivers_never_load_flask() -> None:
    code = (
        "import sys, fabhub, fabhub.node, fabhub.drivers, fabhub.jobs\n"
        "heavy = [m for m in ('flask', 'werkzeug', 'sqlite_utils') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_command_loads_flask_only_when_a_command_needs_it() -> None:
    code = "import sys, fabhub.cli\nassert 'flask' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True)
