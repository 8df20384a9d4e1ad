"""Runners that start processes refuse to run from a script without a __main__ guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from floq.runners.main_guard import _inside_guard, _is_main_test

GUARD = 'if __name__ == "__main__":'


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def run_script(path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# --- in a subprocess -------------------------------------------------------------------


@pytest.mark.parametrize("runner", ["DaskTaskRunner()", "ProcessPoolTaskRunner(max_workers=1)"])
def test_unguarded_script_stops_with_a_clear_message(tmp_path: Path, runner: str) -> None:
    script = write(
        tmp_path,
        "unguarded.py",
        f"""
        from floq import flow, task
        from floq.runners import DaskTaskRunner, ProcessPoolTaskRunner

        @task
        def one():
            return 1

        @flow(task_runner={runner})
        def my_flow():
            return one.submit().result()

        print("result:", my_flow())
        """,
    )
    done = run_script(script)
    assert done.returncode != 0, done.stdout + done.stderr
    assert GUARD in done.stderr
    assert "RunnerError" in done.stderr
    assert runner.split("(")[0] in done.stderr
    assert "unguarded.py, line 12" in done.stderr
    assert "result:" not in done.stdout  # the flow never ran


def test_require_main_guard_in_scripts(tmp_path: Path) -> None:
    script = write(
        tmp_path,
        "check.py",
        """
        from floq.errors import RunnerError
        from floq.runners.main_guard import require_main_guard

        def start():
            require_main_guard("MyRunner")

        def attempt(label):
            try:
                start()
            except RunnerError:
                print(label, "refused")
            else:
                print(label, "allowed")

        attempt("top-level")

        if __name__ == "__main__":
            attempt("guarded")
        """,
    )
    done = run_script(script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top-level refused", "guarded allowed"]


def test_require_main_guard_without_a_source_file() -> None:
    """Code given with -c has no file to read: floq does not guess and lets it run."""
    code = (
        "from floq.runners.main_guard import require_main_guard\n"
        "require_main_guard('MyRunner')\n"
        "print('allowed')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "allowed"


# --- _inside_guard on small files ------------------------------------------------------


def test_inside_guard_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "guarded.py",
        """
        import os

        def main():
            return 1

        if __name__ == "__main__":
            main()
            print("done")

        x = 2
        """,
    )
    lines = path.read_text().splitlines()
    assert lines[5] == GUARD
    inside = {7, 8}  # the guard's two-line body (not the `if` line, nor anything after)
    for number in range(1, len(lines) + 1):
        assert _inside_guard(str(path), number) is (number in inside), number


def test_reversed_comparison_and_single_quotes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "reversed.py",
        """
        a = 1
        if '__main__' == __name__:
            a = 2
        """,
    )
    assert _inside_guard(str(path), 1) is False
    assert _inside_guard(str(path), 3) is True


def test_other_conditions_are_not_guards(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "not_guards.py",
        """
        if __name__ == "other":
            b = 2
        if name == "__main__":
            c = 3
        if __name__:
            d = 4
        """,
    )
    for number in range(1, 7):
        assert _inside_guard(str(path), number) is False, number


def test_nested_guard_counts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "nested.py",
        """
        import sys
        if True:
            if __name__ == "__main__":
                sys.exit(0)
        """,
    )
    assert _inside_guard(str(path), 4) is True
    assert _inside_guard(str(path), 2) is False


def test_unreadable_source_is_not_guessed(tmp_path: Path) -> None:
    assert _inside_guard(str(tmp_path / "missing.py"), 1) is True
    broken = write(tmp_path, "broken.py", "def (:\n")
    assert _inside_guard(str(broken), 1) is True


def test_is_main_test() -> None:
    import ast

    def test_of(source: str) -> ast.expr:
        node = ast.parse(source).body[0]
        assert isinstance(node, ast.If)
        return node.test

    assert _is_main_test(test_of('if __name__ == "__main__": pass'))
    assert _is_main_test(test_of('if "__main__" == __name__: pass'))
    assert not _is_main_test(test_of('if __name__ == "__main__" == x: pass'))
    assert not _is_main_test(test_of("if __name__: pass"))
    assert not _is_main_test(test_of('if __file__ == "__main__": pass'))


def test_not_equal_and_else_branch_are_no_guard(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "inverted.py",
        """
        if __name__ != "__main__":
            pass
        else:
            run()
        if __name__ == "__main__":
            pass
        else:
            run()
        """,
    )
    lines = path.read_text().splitlines()
    assert lines[3].strip() == "run()" and lines[7].strip() == "run()"
    assert not _inside_guard(str(path), 4)
    assert not _inside_guard(str(path), 8)
    assert _inside_guard(str(path), 6)
