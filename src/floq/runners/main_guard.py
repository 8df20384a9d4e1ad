"""Refuse to start child processes from a script that lacks ``if __name__ == "__main__":``.

Spawned children re-import the main script; without the guard its flow call would run again
in every child. We check before any process starts: the frame running the ``__main__``
module's top-level code must sit inside such a guard.
"""

from __future__ import annotations

import ast
import functools
import multiprocessing
import sys
from types import FrameType

from floq.errors import RunnerError


def _message(runner: str, where: str) -> str:
    return (
        f"{runner} starts worker processes, which re-import your script ({where}). "
        'Put the code that calls the flow under `if __name__ == "__main__":` so that it '
        "runs only in the main process."
    )


def require_main_guard(runner: str) -> None:
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise RunnerError(_message(runner, "this is such a child, re-running the script"))
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and not _is_main_script(frame):
        frame = frame.f_back
    if frame is None:
        return  # not called from the main script's top level (a thread, a REPL function...)
    path = frame.f_code.co_filename
    if not _inside_guard(path, frame.f_lineno):
        raise RunnerError(_message(runner, f"{path}, line {frame.f_lineno}"))


def _is_main_script(frame: FrameType) -> bool:
    return frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"


@functools.lru_cache(maxsize=8)
def _guarded_lines(path: str) -> tuple[tuple[int, int], ...] | None:
    try:
        with open(path, encoding="utf-8") as source:
            tree = ast.parse(source.read(), path)
    except (OSError, SyntaxError, ValueError):
        return None  # no source to read (-c, stdin, frozen): do not guess
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.body:
            last = node.body[-1]
            spans.append((node.body[0].lineno, last.end_lineno or last.lineno))
    return tuple(spans)


def _is_main_test(test: ast.expr) -> bool:
    if not isinstance(test, ast.Compare) or len(test.comparators) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


def _inside_guard(path: str, line: int) -> bool:
    spans = _guarded_lines(path)
    if spans is None:
        return True
    return any(start <= line <= end for start, end in spans)
