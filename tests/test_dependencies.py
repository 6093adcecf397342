"""What the code imports is what pyproject.toml declares: nothing may work only because another package happens
to bring it along (a plain `pip install -e .` must run every process; tests/test_fresh_install.py proves that)."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
OURS = ("core", "bot", "admin")


def imported_modules() -> dict[str, str]:
    """Top-level third-party modules imported anywhere in our packages (module level or inside functions),
    with one file that imports each."""
    found: dict[str, str] = {}
    for package in OURS:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in OURS:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}


def test_every_imported_package_is_a_declared_run_dependency() -> None:
    providers = packages_distributions()
    deps = declared()
    undeclared = {}
    for module, where in imported_modules().items():
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists & deps:
            undeclared[module] = (where, sorted(dists) or "not installed")
    assert not undeclared, f"imported but not in [project].dependencies: {undeclared}"


def test_sqlalchemy_is_declared_with_the_asyncio_extra_slack_installs_need() -> None:
    # bot/slack/install.py -> slack_sdk's SQLAlchemy installation store -> sqlalchemy.ext.asyncio -> greenlet,
    # which SQLAlchemy 2.1 installs only with its `asyncio` extra.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sqlalchemy = [Requirement(r) for r in project["dependencies"] if Requirement(r).name.lower() == "sqlalchemy"]
    assert sqlalchemy and "asyncio" in sqlalchemy[0].extras
