"""The layers hold: `make lint`'s import contracts catch a breach, and the core loads no adapter or framework."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def copy_of_the_code(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "bot", tree / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_import_contracts_fail_on_a_breach(tmp_path: Path) -> None:
    tree = copy_of_the_code(tmp_path)
    kept = lint_imports(tree)
    assert kept.returncode == 0, kept.stdout + kept.stderr

    (tree / "bot" / "core" / "_breach.py").write_text("from bot.store.db import Database\n\nUSED = Database\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0
    assert "bot.core uses no adapter and no framework BROKEN" in broken.stdout
    assert "bot.core._breach -> bot.store.db" in broken.stdout


LOAD_THE_CORE = """
import importlib, pkgutil, sys
import bot.core
for module in pkgutil.walk_packages(bot.core.__path__, "bot.core."):
    importlib.import_module(module.name)
print(" ".join(sorted({m.split(".")[0] for m in sys.modules} & {"httpx", "sqlalchemy", "slack_sdk", "slack_bolt"})))
"""


def test_the_core_loads_no_adapter_or_framework() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_THE_CORE], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert loaded.stdout.split() == []
