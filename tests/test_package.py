"""The package is complete: what the project's code imports is declared, every app is packaged, and
a wheel installed on its own (outside this tree) runs the server (scripts/check_installed_wheel.py).

The packages walked are the top-level folders pyproject's `[tool.setuptools.packages.find]`
includes match, so an app added there is covered without touching this file; an app of
INSTALLED_APPS that the includes leave out fails `test_every_project_app_is_packaged`.
"""

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from django.apps import apps

from scripts.check_installed_wheel import project_packages

from .test_layout import _parse

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def declared_distributions() -> set[str]:
    names = (re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec).group(0) for spec in PYPROJECT["project"]["dependencies"])
    return {_normalized(name) for name in names}


def _is_test_code(path: Path) -> bool:
    return path.name.startswith("test_") or "tests" in path.parts


def imported_top_level_modules(package: str) -> dict[str, set[str]]:
    """{top-level module: the files importing it}, absolute imports of the package's non-test code."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT)
        if _is_test_code(relative):
            continue
        for node in ast.walk(_parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(relative))
    return found


def test_the_walk_covers_the_apps():
    assert {"config", "infra", "accounts", "integrations", "dashboard"} <= set(project_packages())


def test_every_project_app_is_packaged():
    """An app of INSTALLED_APPS that lives in this tree is one the wheel holds."""
    local = {config.name.split(".")[0] for config in apps.get_app_configs() if Path(config.path).parent == ROOT}
    assert local - {"tests"} <= set(project_packages()), "add the app to [tool.setuptools.packages.find] include"


def test_every_imported_third_party_package_is_declared():
    own = set(project_packages())
    providers = packages_distributions()
    declared = declared_distributions()
    undeclared: dict[str, list[str]] = {}
    for package in project_packages():
        for module, files in imported_top_level_modules(package).items():
            if module in sys.stdlib_module_names or module in own:
                continue
            distributions = {_normalized(name) for name in providers.get(module, [])}
            if not distributions & declared:
                key = f"{module} (from {', '.join(sorted(distributions)) or 'no installed distribution'})"
                undeclared.setdefault(key, []).extend(sorted(files))
    assert undeclared == {}, "declare these in pyproject's [project].dependencies"


@pytest.mark.slow
def test_the_installed_wheel_runs_the_server(tmp_path):
    """Builds the wheel, installs it into a fresh virtualenv outside this tree and serves from it."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_installed_wheel.py"), "--work-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
