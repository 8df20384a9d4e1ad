"""The code stays lint-clean, type-clean and in small modules (style rules 1 and 9)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_is_clean() -> None:
    done = _run("ruff", "check", "src", "tests", "examples", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_is_clean() -> None:
    done = _run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


def test_imports_only_point_down_the_layers() -> None:
    """The layers contract in pyproject.toml ([tool.importlinter]), checked by import-linter."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_module_over_400_lines() -> None:
    sizes = {p.relative_to(ROOT): len(p.read_text().splitlines()) for p in ROOT.glob("src/**/*.py")}
    assert sizes, "no modules found"
    big = {str(path): n for path, n in sizes.items() if n > 400}
    assert not big, f"modules over 400 lines: {big}"
