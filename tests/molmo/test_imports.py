"""The model knows no benchmark: no module under molmo/ imports evals, arena, leaderboard or molmo_arena, at module
level or lazily inside a function (read from the source, so an import that never runs in the tests counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MOLMO = Path(__file__).resolve().parents[2] / "molmo"
FORBIDDEN = ("evals", "arena", "leaderboard", "molmo_arena")


def imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, module) for every import statement in a file, relative ones resolved against `package`, plus every
    `importlib.import_module("...")` or `__import__("...")` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.append((node.lineno, ".".join([*base, *([node.module] if node.module else [])])))
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def forbidden_imports(root: Path) -> list[str]:
    """'file:line module' for each import of a package that molmo must not know."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        package = ".".join(parts if path.name == "__init__.py" else parts[:-1])
        for line, module in imported_modules(path, package):
            if module.split(".")[0] in FORBIDDEN:
                bad.append(f"{path.relative_to(root.parent)}:{line} {module}")
    return bad


def test_molmo_imports_none_of_the_packages_above_it():
    assert len(list(MOLMO.rglob("*.py"))) > 20  # the walk reads the real tree
    assert forbidden_imports(MOLMO) == []


@pytest.mark.parametrize("source", [
    "from evals.runner import EvaluationRun\n",
    "def evaluate():\n    import arena.db\n",
    "class A:\n    def f(self):\n        from leaderboard import ratings\n",
    "import importlib\nimportlib.import_module('evals.adapters.molmo')\n",
    "from molmo_arena.train import build_trainer\n",
])
def test_the_check_sees_module_level_lazy_and_dynamic_imports(tmp_path, source):
    (tmp_path / "molmo" / "train").mkdir(parents=True)
    (tmp_path / "molmo" / "train" / "loop.py").write_text("import torch\nfrom . import optim\n" + source)
    [found] = forbidden_imports(tmp_path / "molmo")
    assert found.startswith("molmo/train/loop.py:")
